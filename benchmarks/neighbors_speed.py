"""Speed of md_orderml.neighbors.radius_graph against freud's AABBQuery.

Uniform random particles at number density 0.9 in a cubic periodic box, cutoff
1.6 (V/N)^(1/3) (about 17 neighbours each, a liquid's first shell and a bit). Both
run on one thread by default. Prints particles/s per N from the CPU time of the
process (user + system; robust on a shared machine) and from wall time, and ends
with ``RESULT torch_over_freud=<CPU-time speed ratio at the largest N>`` (> 1: torch
is faster).

Usage: python benchmarks/neighbors_speed.py [--max-n 1000000] [--threads 1] [--dtype float32]
"""

import argparse
import time

import numpy as np
import torch

from md_orderml.neighbors import radius_graph


def best_time(fn, repeats):
    """Shortest (CPU time, wall time) of ``repeats`` calls, and the last result."""
    cpu, wall, out = float("inf"), float("inf"), None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - t0)
    return cpu, wall, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--script", action="store_true", help="time the torch.jit.script version")
    args = parser.parse_args()

    import freud

    torch.set_num_threads(args.threads)
    freud.parallel.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    fn = torch.jit.script(radius_graph) if args.script else radius_graph
    rng = np.random.default_rng(0)
    sizes = [n for n in (1_000, 10_000, 100_000, 1_000_000) if n <= args.max_n]
    print(f"threads={args.threads} dtype={args.dtype} script={args.script} torch={torch.__version__} "
          f"freud={freud.__version__}")
    print(f"{'N':>9} {'edges/N':>8} {'torch cpu s':>11} {'torch p/s':>10} {'freud cpu s':>11} "
          f"{'freud p/s':>10} {'ratio':>6} {'torch wall':>10} {'freud wall':>10} {'ratio':>6}")
    ratio = float("nan")
    for n in sizes:
        L = (n / 0.9) ** (1 / 3)
        rc = 1.6 * (L ** 3 / n) ** (1 / 3)
        pos = (rng.uniform(-L / 2, L / 2, size=(n, 3))).astype(np.float32)
        repeats = 3 if n <= 100_000 else 1

        pos_t = torch.as_tensor(pos).to(dtype)
        cell = torch.eye(3, dtype=dtype) * L
        pbc = torch.tensor([True, True, True])
        fn(pos_t, cell, pbc, rc)  # warm-up (and compilation for --script)
        t_torch, w_torch, (ei, _) = best_time(lambda: fn(pos_t, cell, pbc, rc), repeats)

        box = freud.box.Box.cube(L)

        def run_freud():
            query = freud.locality.AABBQuery(box, pos)
            return query.query(pos, dict(r_max=rc, exclude_ii=True)).toNeighborList()

        t_freud, w_freud, nl = best_time(run_freud, repeats)
        if len(nl) != ei.shape[1]:  # float32 round-off at the cutoff may flip a pair
            print(f"note: N={n}: torch {ei.shape[1]} pairs, freud {len(nl)} pairs")
        ratio = t_freud / t_torch
        print(f"{n:>9} {ei.shape[1] / n:>8.2f} {t_torch:>11.4f} {n / t_torch:>10.3e} {t_freud:>11.4f} "
              f"{n / t_freud:>10.3e} {ratio:>6.2f} {w_torch:>10.4f} {w_freud:>10.4f} "
              f"{w_freud / w_torch:>6.2f}", flush=True)
    print(f"RESULT torch_over_freud={ratio:.3f}")


if __name__ == "__main__":
    main()
