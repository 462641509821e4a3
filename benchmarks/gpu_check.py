"""One prepared GPU check: CUDA correctness and throughput of the default model, with the CPU as baseline.

Run on a machine with one CUDA GPU (about 3-5 minutes), from the repository root, without
installing the package (only torch, e3nn and numpy are needed; no gsd, LAMMPS, HOOMD or OVITO):

    PYTHONPATH=. python benchmarks/gpu_check.py --out OUT_DIR
    PYTHONPATH=. python benchmarks/gpu_check.py --device cpu --quick --out /tmp/dry   # CPU dry run (tests)

It writes, as it goes (so a run cut short still leaves what it measured), at most five files:

* ``summary.json``: environment, every check's verdict and the headline figures (rewritten after each step);
* ``correctness.json``: neighbour search CUDA == CPU, label agreement and largest probability
  difference per frame, the HOOMD zero-copy view on a CUDA buffer stand-in;
* ``throughput.csv``: one row per (device, precision, N): seconds per call split into neighbour
  search and network (backbone + head), particles/s, peak GPU memory;
* ``precision.json``: float32 vs TF32 (and bf16 autocast) label agreement against float32;
* ``log.txt``: what was printed.

The script ends with one line ``RESULT key=value ...`` (best CUDA particles/s at N >= 1e5 and its
ratio to the CPU baseline measured in the same run).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = (10_000, 100_000, 1_000_000, 10_000_000)  #: particle counts of the throughput curve
QUICK_SIZES = (2_000, 8_000)
CPU_SIZES = (10_000, 100_000)  #: the CPU baseline (same run, same machine)
AGREEMENT_GOAL = 0.9999  #: share of particles with identical labels, CUDA against CPU
PROBABILITY_TOLERANCE = 1e-4


class Report:
    """The output folder: JSON/CSV files rewritten as results come in, and a log."""

    def __init__(self, out: Path):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.summary = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "checks": {}, "figures": {}}
        self.rows = []
        self._log = open(out / "log.txt", "w")

    def log(self, *parts) -> None:
        """Print and append to log.txt."""
        line = " ".join(str(p) for p in parts)
        print(line, flush=True)
        self._log.write(line + "\n")
        self._log.flush()

    def check(self, name: str, ok: bool, detail) -> None:
        """Record a pass/fail verdict with its detail and rewrite summary.json."""
        self.summary["checks"][name] = {"ok": bool(ok), "detail": detail}
        self.log(f"[{'PASS' if ok else 'FAIL'}] {name}: {detail}")
        self.write_json("summary.json", self.summary)

    def write_json(self, name: str, record) -> None:
        """Write one JSON file atomically."""
        tmp = self.out / (name + ".tmp")
        tmp.write_text(json.dumps(record, indent=1, default=str))
        tmp.replace(self.out / name)

    def throughput_row(self, row: dict) -> None:
        """Append one row to throughput.csv (rewritten whole)."""
        self.rows.append(row)
        with open(self.out / "throughput.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(self.rows[0]))
            writer.writeheader()
            writer.writerows(self.rows)


def environment(device: str) -> dict:
    """What ran: Python, torch, e3nn, CUDA device name and memory."""
    import e3nn

    env = {"python": platform.python_version(), "torch": torch.__version__, "e3nn": e3nn.__version__,
           "cpu_threads": torch.get_num_threads(), "device": device}
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
    return env


def test_frames(quick: bool):
    """(name, Frame): noisy crystals at sigma = 7 %, two liquids, a crystal-liquid coexistence frame."""
    from md_orderml import structures

    width = 5.0 if quick else 8.0
    for kind in structures.CRYSTALS:
        yield f"{kind}_noisy", structures.crystal(kind, noise=0.07, min_width=width, rotation="random",
                                                  seed=11).to_frame()
    n = 300 if quick else 2000
    yield "liquid", structures.liquid(n=n, steps=300 if quick else 1000, seed=12).to_frame()
    yield "coexistence", structures.mixed("fcc", crystal_fraction=0.5, seed=13).to_frame()


def check_neighbours(report: Report, device: str, quick: bool) -> None:
    """The neighbour search on the device returns the CPU's bond set."""
    from md_orderml import structures
    from md_orderml.neighbors import radius_graph

    frame = structures.crystal("fcc", noise=0.07, min_width=6.0 if quick else 12.0, seed=5).to_frame()
    cell = torch.as_tensor(frame.box.matrix)
    pbc = torch.ones(3, dtype=torch.bool)
    pos = torch.as_tensor(frame.positions)
    results = {}
    for dev in ("cpu", device):
        ei, vec = radius_graph(pos.to(dev), cell.to(dev), pbc.to(dev), 1.6)
        order = np.lexsort(ei.cpu().numpy())
        results[dev] = (ei.cpu().numpy()[:, order], vec.cpu().numpy()[order])
    same = results["cpu"][0].shape == results[device][0].shape and (results["cpu"][0] == results[device][0]).all()
    diff = float(np.abs(results["cpu"][1] - results[device][1]).max()) if same else float("nan")
    report.check("neighbour_search_equals_cpu", bool(same) and diff < 1e-9,
                 {"edges": int(results["cpu"][0].shape[1]), "max_vector_difference": diff})


def check_labels(report: Report, device: str, quick: bool) -> dict:
    """Default-model labels on the device agree with the CPU's on >= 99.99 % of particles."""
    from md_orderml.analysis import OrderML

    cpu, dev = OrderML("default", device="cpu"), OrderML("default", device=device)
    frames = {}
    total = same = 0
    worst = 0.0
    for name, frame in test_frames(quick):
        a, b = cpu.compute(frame), None
        ref_labels, ref_prob = a.labels.copy(), a.probabilities.copy()
        b = dev.compute(frame)
        agree = int((b.labels == ref_labels).sum())
        diff = float(np.abs(b.probabilities - ref_prob).max())
        frames[name] = {"N": frame.N, "agree": agree, "max_probability_difference": diff}
        total += frame.N
        same += agree
        worst = max(worst, diff)
    share = same / total
    report.write_json("correctness.json", {"labels": frames})
    report.check("labels_equal_cpu", share >= AGREEMENT_GOAL and worst <= PROBABILITY_TOLERANCE,
                 {"agreement": share, "max_probability_difference": worst, "particles": total})
    return frames


def check_zero_copy(report: Report, device: str) -> None:
    """HOOMD's GPU local-snapshot path: a __cuda_array_interface__ buffer is viewed without a copy."""
    if device != "cuda":
        report.check("hoomd_zero_copy_view", True, "skipped: no CUDA device (CPU dry run)")
        return
    from md_orderml.engines.hoomd.domain import cuda_tensor

    storage = torch.arange(40, dtype=torch.float64, device="cuda").reshape(10, 4)

    class StandIn:  # what hoomd's gpu_local_snapshot.particles.position exposes
        __cuda_array_interface__ = {"shape": (10, 3), "typestr": "<f8", "strides": (32, 8),
                                    "data": (storage.data_ptr(), False), "version": 2}

    view = cuda_tensor(StandIn())
    ok = view.is_cuda and view.data_ptr() == storage.data_ptr() and torch.equal(view, storage[:, :3])
    report.check("hoomd_zero_copy_view", bool(ok), {"data_ptr_equal": view.data_ptr() == storage.data_ptr()})


def fcc_of_size(n: int, seed: int = 0):
    """A noisy fcc crystal of about ``n`` particles (positions (N, 3), cell (3, 3))."""
    cells = max(2, round((n / 4) ** (1 / 3)))
    base = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    pos = (grid + base).reshape(-1, 3) * np.sqrt(2.0)  # nearest-neighbour distance 1
    rng = np.random.default_rng(seed)
    pos += rng.normal(0, 0.05, pos.shape)
    return pos, np.eye(3) * cells * np.sqrt(2.0)


def sync(device: str) -> None:
    """Wait for the device (a no-op on the CPU)."""
    if device == "cuda":
        torch.cuda.synchronize()


def time_call(fn, device: str, repeat: int) -> float:
    """Median seconds of ``repeat`` calls of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def measure(report: Report, model, device: str, n: int, precision: str, repeat: int) -> dict:
    """One throughput row: neighbour search and whole-model seconds for an fcc crystal of ``n`` particles."""
    from md_orderml.neighbors import radius_graph

    pos, cell = fcc_of_size(n)
    n = len(pos)
    scale = float((abs(np.linalg.det(cell)) / n) ** (1 / 3))
    types = np.zeros(n, dtype=np.int64)
    owned = np.ones(n, dtype=bool)
    x = torch.as_tensor(pos / scale, device=device)
    c = torch.as_tensor(cell / scale, device=device)
    pbc = torch.ones(3, dtype=torch.bool, device=device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    search = time_call(lambda: radius_graph(x, c, pbc, float(model.cutoff)), device, repeat)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if precision == "bf16" else torch.autocast(
        "cuda", enabled=False)
    with autocast:
        total = time_call(lambda: model.compute_arrays(pos, types, cell, (True, True, True), owned, scale), device,
                          repeat)
    row = {"device": device, "precision": precision, "N": n, "seconds": round(total, 5),
           "neighbour_seconds": round(search, 5), "network_seconds": round(max(total - search, 0.0), 5),
           "particles_per_second": round(n / total, 1),
           "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if device == "cuda" else ""}
    report.throughput_row(row)
    report.log(f"  {device} {precision} N={n}: {row['particles_per_second']:.3g} particles/s "
               f"(neighbours {search:.3g} s, total {total:.3g} s)")
    return row


def set_precision(precision: str) -> None:
    """float32 (TF32 off) or TF32 matmuls; bf16 runs under autocast in :func:`measure`."""
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32


def throughput(report: Report, device: str, quick: bool, budget_s: float) -> dict:
    """Particles/s against N on the device (float32, TF32, bf16) and on the CPU, within ``budget_s`` seconds."""
    from md_orderml.analysis import OrderML

    start = time.perf_counter()
    best = {}
    cpu_model = OrderML("default", device="cpu")
    for n in (QUICK_SIZES[:1] if quick else CPU_SIZES):
        row = measure(report, cpu_model, "cpu", n, "float32", 1 if quick else 2)
        best.setdefault("cpu", []).append(row)
    if device == "cpu":
        return best
    model = OrderML("default", device=device)
    precisions = ("float32", "tf32", "bf16")
    for precision in precisions:
        set_precision(precision)
        for n in (QUICK_SIZES if quick else SIZES):
            if time.perf_counter() - start > budget_s:
                report.log(f"  time budget reached before {precision} N={n}")
                break
            try:
                best.setdefault(precision, []).append(measure(report, model, device, n, precision, 3))
            except (torch.cuda.OutOfMemoryError, RuntimeError) as err:
                report.log(f"  {precision} N={n}: stopped ({type(err).__name__}: {str(err)[:120]})")
                torch.cuda.empty_cache()
                break
    set_precision("float32")
    return best


def precision_agreement(report: Report, device: str, quick: bool) -> None:
    """Labels under TF32 and bf16 autocast against float32 on the test frames."""
    if device != "cuda":
        report.write_json("precision.json", {"skipped": "no CUDA device"})
        return
    from md_orderml.analysis import OrderML

    model = OrderML("default", device=device)
    record = {}
    for precision in ("tf32", "bf16"):
        same = total = 0
        for _, frame in test_frames(quick):
            set_precision("float32")
            ref = model.compute(frame).labels.copy()
            set_precision(precision)
            ctx = torch.autocast("cuda", dtype=torch.bfloat16) if precision == "bf16" else torch.autocast(
                "cuda", enabled=False)
            with ctx:
                labels = model.compute(frame).labels
            same += int((labels == ref).sum())
            total += frame.N
        record[precision] = {"agreement_with_float32": same / total, "particles": total}
    set_precision("float32")
    report.write_json("precision.json", record)
    report.log(f"precision agreement: {record}")


def main(argv=None) -> int:
    """Run every check and measurement; returns 0 when every correctness check passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the result files (created)")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--quick", action="store_true", help="small sizes (the CPU dry run of the test suite)")
    parser.add_argument("--budget", type=float, default=150.0, help="seconds for the throughput curve")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads of torch (default: torch's own)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device; use --device cpu for a dry run", file=sys.stderr)
        return 2
    os.environ.setdefault("MD_ORDERML_MALLOC", "default")
    report = Report(Path(args.out))
    report.summary["environment"] = environment(args.device)
    report.write_json("summary.json", report.summary)
    report.log(f"gpu_check on {report.summary['environment']}")
    t0 = time.perf_counter()
    for step in (check_neighbours, check_labels):
        try:
            step(report, args.device, args.quick)
        except Exception as err:  # a broken step is a failed check, the rest still runs
            report.check(step.__name__, False, f"{type(err).__name__}: {err}")
    check_zero_copy(report, args.device)
    curve = throughput(report, args.device, args.quick, args.budget)
    precision_agreement(report, args.device, args.quick)
    big = [r for rows in curve.values() for r in rows if r["N"] >= (1 if args.quick else 100_000)]
    best_dev = max((r["particles_per_second"] for r in big if r["device"] == args.device), default=float("nan"))
    best_cpu = max((r["particles_per_second"] for r in big if r["device"] == "cpu"), default=float("nan"))
    figures = {"best_particles_per_second": best_dev, "cpu_particles_per_second": best_cpu,
               "ratio_to_cpu": best_dev / best_cpu if best_cpu == best_cpu and best_cpu > 0 else float("nan"),
               "seconds": round(time.perf_counter() - t0, 1)}
    report.summary["figures"] = figures
    ok = all(c["ok"] for c in report.summary["checks"].values())
    report.summary["all_checks_passed"] = ok
    report.write_json("summary.json", report.summary)
    report.log(f"RESULT device={args.device} checks_passed={int(ok)} "
               f"particles_per_s={best_dev:.4g} cpu_particles_per_s={best_cpu:.4g} "
               f"ratio={figures['ratio_to_cpu']:.4g} seconds={figures['seconds']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
