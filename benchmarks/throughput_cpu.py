"""CPU throughput in particles/s: md_orderml's model vs OVITO PTM, a-CNA and freud Steinhardt.

All methods label the same frames (noisy fcc, 5 % of the nn distance) in one run,
with the same number of threads (``--threads``; OVITO through OVITO_THREAD_COUNT).
The model's time includes the neighbour search. Each timing is the best of
``--repeat`` runs after one warm-up.

    python benchmarks/throughput_cpu.py [--sizes 1000 10000 100000 1000000] [--threads 2]

Ends with ``RESULT model_over_ptm=<model particles/s / PTM's at the largest N>``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def best_time(fn, repeat: int) -> float:
    """Best wall time of ``fn()`` over ``repeat`` runs after a warm-up."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000, 1000000])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    os.environ["OVITO_THREAD_COUNT"] = str(args.threads)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    import freud

    from md_orderml import structures
    from md_orderml.baselines import acna_labels, ptm_labels
    from md_orderml.analysis import OrderML

    freud.parallel.set_num_threads(args.threads)
    clf = OrderML(args.model)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"threads={args.threads}, torch {torch.__version__}, date {time.strftime('%Y-%m-%d')}")
    header = f"{'N':>9s} {'md_orderml':>12s} {'PTM':>12s} {'a-CNA':>12s} {'freud q6':>12s}  model/PTM"
    print(header)
    ratio = float("nan")
    for n in args.sizes:
        width = (n / 4) ** (1 / 3) * np.sqrt(2)  # fcc conventional cells of nn distance 1
        frame = structures.crystal("fcc", noise=0.05, min_width=width * 0.999, seed=0).to_frame()
        box = freud.box.Box(*frame.box.to_hoomd())
        points = frame.box.wrap(frame.positions) - frame.box.corner - 0.5 * frame.box.matrix.sum(0)
        steinhardt = freud.order.Steinhardt(6)
        rates = {
            "model": frame.N / best_time(lambda: clf.compute(frame), args.repeat),
            "ptm": frame.N / best_time(lambda: ptm_labels(frame), args.repeat),
            "acna": frame.N / best_time(lambda: acna_labels(frame), args.repeat),
            "freud": frame.N / best_time(
                lambda: steinhardt.compute((box, points), {"num_neighbors": 12}), args.repeat),
        }
        ratio = rates["model"] / rates["ptm"]
        print(f"{frame.N:9d} {rates['model']:12.3g} {rates['ptm']:12.3g} {rates['acna']:12.3g} "
              f"{rates['freud']:12.3g}  {ratio:9.3f}", flush=True)
    print(f"RESULT model_over_ptm={ratio:.4f}")


if __name__ == "__main__":
    main()
