"""Peak memory of ``md-orderml discover`` against the number of particles it reads.

Discovery streams: the clusters are fitted on at most ``--fit-particles`` particles and every
frame is assigned one at a time, so its memory should depend on the largest frame, not on
the length of the trajectory. This benchmark writes a GSD trajectory of F frames of N
particles (alternating noisy fcc and bcc crystals), runs ``md-orderml discover`` on the first
``--small`` frames and on all ``--large`` frames in fresh processes, and compares their peak
resident memory (``ru_maxrss`` of the child).

    python benchmarks/discover_memory.py [--particles 50000] [--small 2] [--large 20]

Ends with ``RESULT memory_ratio=<large/small peak> particles_small=... particles_large=...
peak_mb_small=... peak_mb_large=... seconds_large=...``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_trajectory(path: Path, frames: int, particles: int) -> int:
    """F frames alternating fcc and bcc of about ``particles`` particles; returns the particles per frame."""
    import gsd.hoomd

    from md_orderml import structures
    from md_orderml.io.gsd_io import gsd_frame_from
    from md_orderml.system import as_frame

    crystals = []
    for i, kind in enumerate(("fcc", "bcc")):
        per_cell = 4 if kind == "fcc" else 2
        width = (particles / per_cell) ** (1 / 3) * (2 ** 0.5 if kind == "fcc" else 2 / 3 ** 0.5)
        s = structures.crystal(kind, noise=0.04, min_width=width, seed=i)
        crystals.append(gsd_frame_from(as_frame((s.cell, s.positions))))
    with gsd.hoomd.open(str(path), "w") as traj:
        for f in range(frames):
            traj.append(crystals[f % 2])
    return max(int(c.particles.N) for c in crystals)


def peak_of_run(args) -> tuple:
    """Run ``md-orderml discover ARGS`` in a fresh child: (its peak resident memory in MB, seconds).

    A wrapper process runs the command and reports ``ru_maxrss`` of its only child, so each
    measurement has its own maximum.
    """
    code = ("import resource, subprocess, sys\n"
            "r = subprocess.run([sys.executable, '-m', 'md_orderml.cli', 'discover', *sys.argv[1:], '--quiet'])\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if r.returncode == 0 else -1)")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    peak = int(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else -1
    if peak < 0:
        raise SystemExit(f"discover failed: {out.stderr.strip()[-500:]}")
    return peak / 1024.0, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--particles", type=int, default=50_000, help="particles per frame (about)")
    parser.add_argument("--small", type=int, default=2, help="frames of the small run")
    parser.add_argument("--large", type=int, default=20, help="frames of the large run")
    parser.add_argument("--fit-particles", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n = write_trajectory(tmp / "small.gsd", args.small, args.particles)
        write_trajectory(tmp / "large.gsd", args.large, args.particles)
        peak_small, _ = peak_of_run([tmp / "small.gsd", "-o", tmp / "small", "--fit-particles", args.fit_particles])
        print(f"small: {args.small} frames x {n} particles, peak {peak_small:.0f} MB", flush=True)
        peak_large, seconds_large = peak_of_run([tmp / "large.gsd", "-o", tmp / "large",
                                                 "--fit-particles", args.fit_particles])
        print(f"large: {args.large} frames x {n} particles, peak {peak_large:.0f} MB, {seconds_large:.0f} s",
              flush=True)
    print(f"RESULT memory_ratio={peak_large / peak_small:.3f} particles_small={args.small * n} "
          f"particles_large={args.large * n} peak_mb_small={peak_small:.0f} peak_mb_large={peak_large:.0f} "
          f"seconds_large={seconds_large:.0f}")


if __name__ == "__main__":
    main()
