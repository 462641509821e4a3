"""Discover the environments of a LAMMPS run without labels, then label the next run with them on the fly.

A Lennard-Jones crystal in contact with its melt (T = 0.7, P = 1 along z, near coexistence;
1,920 atoms): close-packed layers stacked 9 as fcc (ABC) and 8 as hcp (AB), then 13 layers
that are melted. Three environments form (fcc, hcp, liquid), and the interfaces between them.

1. **Run 1** (``--seed``): melt, equilibrate, then ``--steps`` NPT steps dumping a frame every
   ``--every`` steps (plain ``dump custom``: positions, no labels).
2. **Discover** the environments of those frames (the Python form of ``md-orderml discover
   run1/traj.dump -o discovery --export clusters.pt --model default``): the clusters and the
   nearest built-in class of each; ``clusters.pt`` is an ordinary model file whose classes are
   ``cluster_0 .. cluster_{K-1}`` and ``unknown``. The embeddings come from the default
   model's backbone (``--backbone``): it separates fcc, hcp and liquid here, while the shipped
   pretrained backbone (``--backbone pretrained``, discover's own default) merged fcc and
   hcp into one cluster when tried (2026-12-07).
3. **Run 2**, independent (``--seed`` + 1, a fresh LAMMPS instance), labelled on the fly by
   the md-orderml LAMMPS fix with ``clusters.pt``; the script reads the clusters by name
   (``f_orderml[${orderml_k_cluster_0}]``) and prints one line of cluster fractions per labelling.
4. **Summary**: per cluster, its nearest built-in class and its fraction in run 1 (discovery)
   and run 2 (on the fly); the crystal-side fraction (clusters whose nearest built-in class
   is a crystal) of the two runs must agree within ``--tolerance`` (exit status 1 if not,
   or if fewer than two clusters were found).

    python examples/discover_self_assembly.py                 # 1 to 1.5 min on 2 busy cores
    python examples/discover_self_assembly.py --fast          # shorter runs, under a minute
    python examples/discover_self_assembly.py --clusters 3 --out /tmp/discover

Serial only. Writes to ``--out`` (default ``runs/discover_self_assembly/`` of this checkout,
which git ignores): ``run1/traj.dump`` and ``run1/log.lammps``; ``discovery/`` (``clusters.gsd``,
``summary.json``, ``fractions.png``, ``map.png``, ``environments/*.xyz``, ``model.pt``);
``clusters.pt``; ``run2/traj.dump`` (``i_orderml`` = cluster index; open it in OVITO),
``run2/log.lammps`` (thermo with the cluster fractions) and ``run2/fractions.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE.parent / "runs" / "discover_self_assembly"  #: ignored by the checkout's .gitignore (/runs/)
FCC, HCP = "ABCABCABC", "BCBCBCBC"  #: the crystal's close-packed layers, bottom to top: 9 fcc, then 8 hcp
STACKING = FCC + HCP
MELT = "ABCABCABCABCA"  #: 13 layers above the crystal, melted before the runs
RHO, TEMPERATURE, PRESSURE = 0.96, 0.7, 1.0  #: crystal density; the coexistence run's T and P (LJ units)
T_MELT, MELT_STEPS, EQUILIBRATION_STEPS = 2.0, 1500, 500
NOT_CRYSTAL = ("liquid", "unknown", None)  #: nearest built-in classes that are not crystal-side


def close_packed_layers(width: int, stacking: str, nearest: float):
    """Close-packed layers stacked along z as ``stacking`` says ("ABC...": fcc, "ABAB...": hcp).

    Args:
        width: Atoms per row and rows per layer (even, so the box is periodic).
        stacking: One letter (A, B or C) per layer, bottom to top.
        nearest: Nearest-neighbour distance.

    Returns:
        ``(positions (N, 3), box lengths (3,))``; layer k lies at ``(k + 1/2) * layer spacing``.
    """
    row = nearest * np.sqrt(3) / 2
    i, j = np.meshgrid(np.arange(width), np.arange(width), indexing="ij")
    layer = np.column_stack([(i + 0.5 * (j % 2)).ravel() * nearest, j.ravel() * row])
    shift = {"A": (0.0, 0.0), "B": (nearest / 2, row / 3), "C": (nearest, 2 * row / 3)}
    spacing = nearest * np.sqrt(2 / 3)
    box = np.array([width * nearest, width * row, len(stacking) * spacing])
    positions = [np.column_stack([(layer + shift[s]) % box[:2], np.full(len(layer), (k + 0.5) * spacing)])
                 for k, s in enumerate(stacking)]
    return np.concatenate(positions), box


def coexistence(lammps, folder: Path, seed: int, width: int):
    """A LAMMPS instance with the crystal and its melt, equilibrated at T, P, at time step 0 (no run pending).

    Args:
        lammps: The ``lammps`` module (:func:`md_orderml.mpi.import_lammps`).
        folder: Where ``log.lammps`` goes (created).
        seed: Velocity seed (melt and coexistence).
        width: Atoms per close-packed row (:func:`close_packed_layers`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    nearest = (np.sqrt(2) / RHO) ** (1 / 3)
    positions, box = close_packed_layers(width, STACKING + MELT, nearest)
    lmp = lammps.lammps(cmdargs=["-nocite", "-log", "none", "-screen", "none"])
    lmp.commands_string(f"""
        log {folder / 'log.lammps'}
        units lj
        atom_style atomic
        region box block 0 {box[0]} 0 {box[1]} 0 {box[2]}
        create_box 1 box""")
    lmp.create_atoms(len(positions), None, [1] * len(positions), positions.ravel().tolist())
    lmp.commands_string(f"""
        mass 1 1.0
        pair_style lj/cut 2.5
        pair_modify shift yes
        pair_coeff 1 1 1.0 1.0
        neighbor 0.3 bin
        timestep 0.005
        region melt block INF INF INF INF {len(STACKING) * nearest * np.sqrt(2 / 3)} INF
        group melt region melt
        velocity melt create {T_MELT} {seed} loop geom
        fix melt melt nvt temp {T_MELT} {T_MELT} 0.5
        run {MELT_STEPS}
        unfix melt
        velocity all create {TEMPERATURE} {seed + 7919} loop geom
        fix md all npt temp {TEMPERATURE} {TEMPERATURE} 0.5 z {PRESSURE} {PRESSURE} 5.0
        thermo 500
        run {EQUILIBRATION_STEPS}
        reset_timestep 0""")
    return lmp


def run_unlabelled(lammps, folder: Path, args) -> Path:
    """Run 1: frames every ``args.every`` steps in ``folder/traj.dump``; returns that file."""
    lmp = coexistence(lammps, folder, args.seed, args.width)
    traj = folder / "traj.dump"
    lmp.commands_string(f"""
        dump frames all custom {args.every} {traj} id type x y z
        dump_modify frames sort id
        run {args.steps}""")
    lmp.close()
    return traj


def run_labelled(lammps, folder: Path, model: Path, crystal_side, args):
    """Run 2: labelled on the fly with the cluster model file ``model``; prints one line per labelling.

    Args:
        crystal_side: Names of the crystal-side clusters (summed in the LAMMPS variable ``crystal``).

    Returns:
        ``(steps (L,), fractions (L, C) by the model's class order, class names)``.
    """
    from md_orderml.engines.lammps import OrderMLFix

    lmp = coexistence(lammps, folder, args.seed + 1, args.width)
    fix = OrderMLFix(lmp, str(model), every=args.every)
    names = list(fix.class_names)
    clusters = [n for n in names if n != "unknown"]
    # the script goes by cluster name: ${orderml_k_cluster_0} is the vector element of cluster_0
    per_cluster = [f"variable {n} equal f_orderml[${{orderml_k_{n}}}]/f_orderml[${{orderml_k_labelled}}]"
                   for n in clusters]
    lmp.commands_string("\n".join(per_cluster + [
        f"variable crystal equal {'+'.join(f'v_{n}' for n in crystal_side) or '0'}",
        f"thermo_style custom step temp press lz v_crystal {' '.join(f'v_{n}' for n in clusters)}",
        f"thermo {args.every}",
        f"dump labels all custom {args.every} {folder / 'traj.dump'} id type x y z i_orderml d_orderml_conf",
        "dump_modify labels sort id"]))
    steps, fractions = [], []
    for _ in range(args.steps // args.every + 1):
        lmp.command(f"run {args.every if steps else 0} post no")
        fix.check()
        step = int(lmp.get_thermo("step"))
        crystal = lmp.extract_variable("crystal")
        steps.append(step)
        fractions.append(np.asarray(fix.counts, dtype=float) / max(fix.n_labelled, 1))
        print(f"  run 2 step {step:6d}  crystal-side {crystal:5.3f}  " + "  ".join(
            f"{n} {lmp.extract_variable(n):5.3f}" for n in clusters), flush=True)
    lmp.close()
    return np.array(steps), np.array(fractions), names


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=8000, help="steps of each run after equilibration (default 8,000)")
    p.add_argument("--every", type=int, default=1000, help="frame / labelling interval in steps (default 1,000)")
    p.add_argument("--fast", action="store_true", help="4,000 steps per run (the test's setting)")
    p.add_argument("--width", type=int, default=8, help="atoms per close-packed row, even (default 8: 1,920 atoms)")
    p.add_argument("--clusters", default="auto", help="'auto' (BIC; default) or a number of clusters")
    p.add_argument("--backbone", default="default", help="discovery backbone (discover --model): 'default' (the "
                   "default model's, which tells fcc from hcp here; default), 'pretrained' or a file")
    p.add_argument("--tolerance", type=float, default=0.1,
                   help="largest accepted difference of the crystal-side fractions of the two runs (default 0.1)")
    p.add_argument("--seed", type=int, default=12345, help="velocity seed of run 1 (run 2: seed + 1)")
    p.add_argument("--out", default=str(DEFAULT_OUT),
                   help="output folder (default: runs/discover_self_assembly of this checkout, ignored by git)")
    args = p.parse_args(argv)
    if args.fast:
        args.steps = 4000
    if args.width < 4 or args.width % 2:
        p.error("--width must be an even number >= 4")
    if args.steps < args.every or args.every <= 0:
        p.error("need 0 < --every <= --steps")

    from md_orderml.discovery import discover
    from md_orderml.mpi import import_lammps
    from md_orderml.plotting import plot_fractions

    lammps = import_lammps()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    n_atoms = args.width ** 2 * (len(STACKING) + len(MELT))
    print(f"{n_atoms} LJ atoms: {len(FCC)} fcc and {len(HCP)} hcp close-packed layers in contact with "
          f"{len(MELT)} melted ones, T={TEMPERATURE}, P={PRESSURE}; two runs of {args.steps} steps, every "
          f"{args.every}; output in {out}", flush=True)

    print(f"1. run 1 (seed {args.seed}), unlabelled frames every {args.every} steps", flush=True)
    traj = run_unlabelled(lammps, out / "run1", args)
    clusters = args.clusters if args.clusters == "auto" else int(args.clusters)
    print(f"2. md-orderml discover {traj.relative_to(out)} -o discovery --export clusters.pt --model {args.backbone} "
          f"--clusters {clusters}  [{time.perf_counter() - start:.0f} s]", flush=True)
    summary = discover([str(traj)], out / "discovery", n_clusters=clusters, model=args.backbone,
                       export=out / "clusters.pt")
    found = summary["clusters"]
    for c in found:
        near = c["nearest_builtin"]
        print(f"  {c['name']}: nearest built-in class {near['class']} ({100 * near['fraction']:.0f} % of its "
              f"particles), {c['fit_particles']} fitted particles", flush=True)
    crystal_side = [c["name"] for c in found if c["nearest_builtin"]["class"] not in NOT_CRYSTAL]
    sizes = np.array([f["sizes"] for f in summary["frames"]], dtype=float)
    run1 = sizes.mean(0) / np.mean([f["particles"] for f in summary["frames"]])

    print(f"3. run 2 (seed {args.seed + 1}) labelled on the fly with clusters.pt every {args.every} steps  "
          f"[{time.perf_counter() - start:.0f} s]", flush=True)
    steps, table, names = run_labelled(lammps, out / "run2", out / "clusters.pt", crystal_side, args)
    png = plot_fractions(steps, table, names, out / "run2" / "fractions.png", "time step",
                         title="run 2, labelled on the fly with the discovered clusters")
    run2 = table.mean(0)

    print(f"4. summary  [{time.perf_counter() - start:.0f} s]")
    print(f"  {'cluster':10s} {'nearest built-in':18s} {'run 1 (discovered)':>19s} {'run 2 (on the fly)':>19s}")
    for k, c in enumerate(found):
        near = c["nearest_builtin"]
        nearest = f"{near['class']} ({100 * near['fraction']:.0f} %)"
        print(f"  {c['name']:10s} {nearest:18s} "
              f"{run1[k]:19.3f} {run2[names.index(c['name'])]:19.3f}")
    ok = len(found) >= 2 and bool(crystal_side) and len(crystal_side) < len(found)
    x1 = float(sum(run1[k] for k, c in enumerate(found) if c["name"] in crystal_side))
    x2 = float(sum(run2[names.index(n)] for n in crystal_side))
    agree = abs(x1 - x2) <= args.tolerance
    print(f"found {len(found)} clusters; crystal-side ({', '.join(crystal_side) or 'none'}): run 1 {x1:.3f}, "
          f"run 2 {x2:.3f}: {'consistent' if agree else 'NOT consistent'} (|difference| {abs(x1 - x2):.3f}, "
          f"--tolerance {args.tolerance})")
    if not ok:
        print("expected at least one crystal-side and one other cluster", file=sys.stderr)
    print(f"done in {time.perf_counter() - start:.0f} s; wrote {out / 'run1'}, {out / 'discovery'}, "
          f"{out / 'clusters.pt'}, {out / 'run2'} ({Path(png).name})")
    return 0 if ok and agree else 1


if __name__ == "__main__":
    sys.exit(main())
