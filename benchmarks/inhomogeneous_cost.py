"""Cost of labelling a cluster in a huge box versus the same particles in periodic bulk.

A local-length-unit model (``StructureLabeler(length_unit="local")``: the shipped default
model's weights in the local unit, or an untrained model of the default architecture
when they cannot be rebuilt; the cost is the same) labels, on one torch thread:

* ``bulk``: N particles of a noisy fcc crystal, periodic (4 x 17^3 = 19,652);
* ``cluster``: the N lattice sites nearest a point, as a cluster, in a non-periodic box of
  ``--volume-factor`` (1000) times the cluster's volume;
* ``vacuum``: the same cluster in a periodic box of that size (mostly empty space);
* ``bulk-global``: the bulk case with the same weights in the global unit (reference).

Time: one subprocess labels every case once per round (a warm-up round, then
``--repeats`` rounds, cases interleaved so that a busy spell of a shared machine hits all
alike) and keeps each case's fastest call. Memory: a fresh subprocess per case (two
calls); its peak resident set size during the calls (``VmHWM`` after resetting it through
``/proc/self/clear_refs``; elsewhere ``resource.getrusage``, the peak since the start),
also given above the resident size before the first call. Prints a table and ends with::

    RESULT time_ratio=<cluster/bulk> memory_ratio=<cluster/bulk peak RSS> peak_mb=<cluster peak RSS>

    python benchmarks/inhomogeneous_cost.py            # 19,652 particles, box of 1000x the volume
    python benchmarks/inhomogeneous_cost.py --cells 10 --repeats 2   # quick
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

FCC_BASIS = np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]])
NOISE = 0.05  # Gaussian noise per coordinate, fraction of the nearest-neighbour distance


def fcc_sites(cells: int, a: float = np.sqrt(2.0)) -> np.ndarray:
    """Sites of ``cells^3`` cubic fcc cells, nearest-neighbour distance 1, shape (4 cells^3, 3)."""
    grid = np.array(list(itertools.product(range(cells), repeat=3)), dtype=float)
    return ((grid[:, None, :] + FCC_BASIS[None]).reshape(-1, 3)) * a


def configuration(case: str, cells: int, volume_factor: float, seed: int = 0):
    """Positions (N, 3), cell (3, 3), pbc (3,) and the global hint ``(V / N)^(1/3)`` of a case."""
    rng = np.random.default_rng(seed)
    n = 4 * cells ** 3
    a = np.sqrt(2.0)
    if case in ("bulk", "bulk-global"):
        positions = fcc_sites(cells) + rng.normal(0.0, NOISE, (n, 3))
        cell, pbc = np.eye(3) * a * cells, (True, True, True)
    else:
        big = fcc_sites(2 * cells)
        centre = big.mean(axis=0) + 0.1
        cluster = big[np.argsort(np.linalg.norm(big - centre, axis=1), kind="stable")[:n]]
        cluster += rng.normal(0.0, NOISE, cluster.shape)
        edge = (volume_factor * n * a ** 3 / 4.0) ** (1.0 / 3.0)  # the cluster's volume N a^3 / 4, times the factor
        positions = cluster - cluster.mean(axis=0) + edge / 2.0
        cell, pbc = np.eye(3) * edge, ((False,) * 3 if case == "cluster" else (True,) * 3)
    hint = (abs(np.linalg.det(cell)) / n) ** (1.0 / 3.0)
    return positions, cell, pbc, hint


def build_model(path: str, length_unit: str) -> str:
    """Export the default model's weights (else an untrained default architecture) in ``length_unit``."""
    import torch

    from md_orderml.model_file import build_metadata, save_model
    from md_orderml.nn.backbone import EquivariantBackbone
    from md_orderml.nn.labeler import StructureLabeler

    names = ["fcc", "bcc", "hcp", "sc", "cd", "hd", "liquid"]
    try:
        from md_orderml.model_reexport import rebuild_labeler

        trained, meta = rebuild_labeler("default")
        backbone, source = trained.backbone, "default model weights"
        hidden = trained.head[0].out_features if len(trained.head) > 1 else 0
        # the head's classes: the file's names less ``unknown``, which its unknown rule adds
        names = [n for n in meta["class_names"] if n != "unknown"][:trained.head[-1].out_features]
        state = {k: v for k, v in trained.state_dict().items() if not k.startswith("unknown_rule")}
    except Exception as err:  # noqa: BLE001 (any failure: fall back to an untrained model)
        print(f"(default weights not usable: {err}; untrained default architecture)", file=sys.stderr)
        torch.manual_seed(0)
        backbone, hidden, state, source = EquivariantBackbone(1.6, {}), 64, None, "untrained default architecture"
    model = StructureLabeler(backbone, len(names), head_hidden=hidden, length_unit=length_unit,
                             vapour_class=names.index("liquid") if length_unit == "local" else -1)
    if state is not None:
        model.load_state_dict(state, strict=False)
    if "liquid" in names:
        model.set_isolated_crystal_rule(names, [n for n in names if n != "liquid"], 1.2, 2)
    save_model(model, build_metadata(names, 1.6, int(backbone.config["n_layers"]), {"family": "density"},
                                     {"kind": source}, length_unit=length_unit), path)
    return source


def resident_mb(reset_peak: bool = False) -> float:
    """Resident set size now, in MB; ``reset_peak``: also reset the peak (Linux ``clear_refs``)."""
    if reset_peak:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            pass
    try:
        with open("/proc/self/status") as fh:
            return next(float(line.split()[1]) / 1024.0 for line in fh if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_resident_mb() -> float:
    """Peak resident set size since the last reset (else since the start), in MB."""
    try:
        with open("/proc/self/status") as fh:
            return next(float(line.split()[1]) / 1024.0 for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


CASES = ("bulk", "cluster", "vacuum", "bulk-global")


def label_once(labeler, case: str, cells: int, volume_factor: float) -> dict:
    """One labelling of a case; seconds and outputs."""
    positions, cell, pbc, hint = configuration(case, cells, volume_factor)
    n = len(positions)
    start = time.perf_counter()
    out = labeler.compute_arrays(positions, np.zeros(n, dtype=np.int64), cell, pbc, np.ones(n, dtype=bool), hint)
    return {"seconds": time.perf_counter() - start, "out": out}


def memory_of_case(case: str, models: dict, cells: int, volume_factor: float) -> dict:
    """Label one case twice in this (fresh) process; peak memory and label counts."""
    import torch

    from md_orderml.analysis import OrderML

    torch.set_num_threads(1)
    labeler = OrderML(models["global" if case == "bulk-global" else "local"])
    before = resident_mb(reset_peak=True)
    for _ in range(2):
        out = label_once(labeler, case, cells, volume_factor)["out"]
    peak = peak_resident_mb()
    counts = np.bincount(out["label"], minlength=len(labeler.class_names))
    return {"case": case, "n": len(out["label"]), "peak_mb": peak, "above_mb": peak - before,
            "labels": {name: int(c) for name, c in zip(labeler.class_names, counts) if c}}


def times_of_cases(models: dict, cells: int, volume_factor: float, repeats: int) -> dict:
    """Fastest of ``repeats`` calls per case, cases interleaved round by round (after a warm-up round)."""
    import torch

    from md_orderml.analysis import OrderML

    torch.set_num_threads(1)
    labelers = {unit: OrderML(path) for unit, path in models.items()}
    best = {case: float("inf") for case in CASES}
    for round_ in range(repeats + 1):
        for case in CASES:
            seconds = label_once(labelers["global" if case == "bulk-global" else "local"], case, cells,
                                 volume_factor)["seconds"]
            if round_ > 0:
                best[case] = min(best[case], seconds)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=17, help="fcc cells per edge of the bulk crystal (N = 4 cells^3)")
    parser.add_argument("--volume-factor", type=float, default=1000.0, help="box volume / cluster volume")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds over the cases (after a warm-up)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # a case name (memory) or "timing"
    parser.add_argument("--models", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        models = json.loads(args.models)
        if args.child == "timing":
            print(json.dumps(times_of_cases(models, args.cells, args.volume_factor, args.repeats)))
        else:
            print(json.dumps(memory_of_case(args.child, models, args.cells, args.volume_factor)))
        return 0
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

    def child(name: str) -> dict:
        done = subprocess.run([sys.executable, __file__, "--child", name, "--models", json.dumps(models), "--cells",
                               str(args.cells), "--volume-factor", str(args.volume_factor), "--repeats",
                               str(args.repeats)], env=env, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory() as tmp:
        models = {unit: os.path.join(tmp, f"{unit}.pt") for unit in ("local", "global")}
        source = build_model(models["local"], "local")
        build_model(models["global"], "global")
        print(f"model: {source}; N = {4 * args.cells ** 3}, box of {args.volume_factor:g} x the cluster volume")
        results = {case: child(case) for case in CASES}
        for case, seconds in child("timing").items():
            results[case]["seconds"] = seconds
    print(f"{'case':12s} {'seconds':>8s} {'peak MB':>8s} {'above MB':>9s}  labels")
    for case in CASES:
        r = results[case]
        print(f"{case:12s} {r['seconds']:8.3f} {r['peak_mb']:8.0f} {r['above_mb']:9.0f}  {r['labels']}")
    bulk, cluster, vacuum = results["bulk"], results["cluster"], results["vacuum"]
    print(f"periodic vacuum box: time_ratio={vacuum['seconds'] / bulk['seconds']:.3f} "
          f"memory_ratio={vacuum['peak_mb'] / bulk['peak_mb']:.3f}")
    print(f"local unit / global unit in bulk: {bulk['seconds'] / results['bulk-global']['seconds']:.3f}")
    print(f"RESULT time_ratio={cluster['seconds'] / bulk['seconds']:.3f} "
          f"memory_ratio={cluster['peak_mb'] / bulk['peak_mb']:.3f} peak_mb={cluster['peak_mb']:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
