"""Model files a user makes, made quickly for the tests (the default backbone, one thread).

* own classes from reference frames (``md-orderml train --reference``): :func:`write_reference_files`
  writes bcc (two frames of a GSD file), A15 (one frame of an extended XYZ file) and sigma (a CIF of
  its perfect unit cell); :func:`train_references` trains a model file on some of them;
* a discovery model (``md-orderml discover --export``): :func:`discover` on a GSD file of a few
  crystals written by :func:`write_crystals`.

Used by tests/unit/test_reference_training.py, tests/unit/test_discovery.py,
tests/engines/test_reference_model_lammps.py and tests/engines/test_user_models_hoomd.py.
"""

import json
from pathlib import Path

import numpy as np

from md_orderml import structures

REFERENCE_NOISE = 0.04  #: of the reference runs (fraction of the nearest-neighbour distance)
DISCOVERY_KINDS = ("fcc", "bcc", "sc", "fcc", "cd")  #: one frame each in the discovery run's mix.gsd


def write_gsd(path, frames):
    """Structures (:func:`md_orderml.structures.crystal`), one GSD frame each (type ``A``, step 0)."""
    import gsd.hoomd

    from md_orderml.io.gsd_io import gsd_frame_from
    from md_orderml.system import as_frame

    with gsd.hoomd.open(str(path), "w") as f:
        for s in frames:
            f.append(gsd_frame_from(as_frame((s.cell, s.positions))))
    return path


def atoms(s, symbol="Ar"):
    """A structure as periodic ``ase.Atoms``."""
    import ase

    return ase.Atoms(f"{symbol}{len(s.positions)}", positions=s.positions, cell=s.cell, pbc=True)


def write_reference_files(d: Path) -> Path:
    """``d``/bcc.gsd (two frames, 432 particles each), ``d``/a15.xyz (216) and ``d``/sigma.cif (30)."""
    import ase.io

    write_gsd(d / "bcc.gsd", [structures.crystal("bcc", noise=REFERENCE_NOISE, min_width=6, seed=s) for s in (1, 2)])
    ase.io.write(d / "a15.xyz", atoms(structures.crystal("a15", noise=REFERENCE_NOISE, min_width=6, seed=3)),
                 format="extxyz")
    ase.io.write(d / "sigma.cif", atoms(structures.crystal("sigma", min_width=1)))
    return d


def train_references(path: Path, *references: str, backbone: str = "") -> Path:
    """``md-orderml train --reference R ... -o path`` (one thread, quiet; ``--backbone`` where given)."""
    from md_orderml.cli import main

    args = [arg for reference in references for arg in ("--reference", reference)]
    if backbone:
        args += ["--backbone", backbone]
    assert main(["train", *args, "-o", str(path), "--threads", "1", "--quiet"]) == 0
    return path


def write_crystals(path, kinds, noise=0.03, width=6.0, seed=0):
    """One GSD frame per crystal kind (random orientations, seeds ``seed``, ``seed + 1``, ...)."""
    write_gsd(path, [structures.crystal(kind, noise=noise, min_width=width, rotation="random", seed=seed + i)
                     for i, kind in enumerate(kinds)])


def discover(root: Path, kinds=DISCOVERY_KINDS) -> Path:
    """``md-orderml discover root/mix.gsd -o root/out --export root/clusters.pt --model default`` on one
    frame of each of ``kinds``."""
    from md_orderml.cli import main

    write_crystals(root / "mix.gsd", kinds)
    assert main(["discover", str(root / "mix.gsd"), "-o", str(root / "out"), "--export", str(root / "clusters.pt"),
                 "--model", "default", "--quiet"]) == 0
    return root


def cluster_of(root: Path, builtin: str) -> str:
    """The name of the cluster that :func:`discover` found nearest to the built-in class ``builtin``."""
    summary = json.loads((root / "out" / "summary.json").read_text())
    (name,) = [c["name"] for c in summary["clusters"] if c["nearest_builtin"]["class"] == builtin]
    return name
