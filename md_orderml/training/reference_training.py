"""Own classes from reference frames: ``md-orderml train --reference NAME=PATH ...``.

:func:`train_from_references` turns a few frames per class into a normal model file:

1. **Classes.** The reference names in the order given (a repeated name gathers several
   files into one class), then, with ``with_default_classes``, the vocabulary classes
   (:data:`~md_orderml.training.data.VOCABULARY_CLASSES`) not named by a reference, then
   ``liquid``, then ``unknown`` (the unknown rule). The model is in the local length unit
   (:mod:`md_orderml.local_scale`), which labels capped vapour particles ``liquid``: unless a
   reference is named ``liquid``, that class is made of generated Lennard-Jones liquids
   (:func:`~md_orderml.training.data.make_liquids`), and a reference named like a
   vocabulary class adds its particles to the generated ones. At least two reference
   classes are needed (``liquid`` counts when given as a reference) without
   ``with_default_classes``.
2. **Split.** A class with two or more frames holds out whole frames (``validation_fraction``
   of them, at least one); a class with one frame holds out a slab of it with that fraction
   of its selected particles (:func:`~md_orderml.training.references.validation_slab`).
   Held-out particles stay in the training graphs as unlabelled neighbours, and vice versa.
3. **Augmentation** (:func:`~md_orderml.training.references.augmented_samples`): ``copies``
   training graphs per frame (fewer, down to one, where a class has more than
   :data:`MAX_TRAINING_PARTICLES` training particles without copies), each rotated, strained and displaced with noise drawn
   uniformly in ``[0, noise_max]`` of the nearest-neighbour distance; the validation graphs
   take the noise levels of the default model's calibration, ``0, noise_max / 2, noise_max``.
4. **Head.** A pretrained backbone (:data:`DEFAULT_BACKBONE`, or any source of
   :func:`md_orderml.backbones.load_backbone`) stays frozen; a class-balanced ``mlp`` or
   ``linear`` head is trained on the embeddings of the labelled training particles
   (:func:`~md_orderml.training.frozen_head.fit_head`).
5. **Unknown rule** as in the default model (:mod:`md_orderml.training.calibration`): class
   Gaussians of the training embeddings; per-class thresholds the ``unknown_quantile``
   (liquid: :data:`~md_orderml.training.calibration.LIQUID_QUANTILE`) of the validation
   particles, the largest over the noise levels. The isolated-crystal rule of the default
   model (radius 1.2) treats every class but ``liquid`` as a crystal.
6. **Metrics** per class on the validation particles (printed, returned and stored in the
   model file's ``training`` record): the head's accuracy, the fraction the unknown rule
   relabels, and the accuracy of the final labels.

Nothing is written unless everything succeeds (:func:`md_orderml.model_file.save_model` is atomic).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Dict, List, Sequence, Union

import numpy as np
import torch

from md_orderml.errors import InputError, ModelFileError
from md_orderml.keys import CLASS_INFO, ISOLATED_CRYSTAL_RULE, UNKNOWN, UNKNOWN_RULE
from md_orderml.training import calibration as cal
from md_orderml.training.data import VOCABULARY_CLASSES, GraphSample, generate_samples
from md_orderml.training.references import (ReferenceSpec, augmented_samples, geometry, parse_reference,
                                            read_reference, validation_slab)

LIQUID = "liquid"
#: Settings of the generated classes: training and validation structures per class, crystal noise.
GENERATED = {"train": 8, "validation": 3, "noise_max": 0.11, "calibration_noise_max": 0.07}
#: A class's labelled training particles beyond which its frames get fewer augmented copies.
MAX_TRAINING_PARTICLES = 20000
ISOLATED_CRYSTAL_RADIUS = 1.2  #: the default model's isolated-crystal rule (radius, 2 neighbours)
#: The backbone ``--backbone`` starts from: the default model's (pretrained with labels on the
#: vocabulary crystals). On benchmarks/reference_training.py (docs/results.md) it beat the shipped
#: self-supervised backbone (``"pretrained"``) at every number of reference particles: mean accuracy
#: on fresh frames 0.955-0.996 against 0.895-0.978, and it sends fcc, C15 and more of beta-Mn
#: to ``unknown``, where the self-supervised one says liquid or a reference class.
DEFAULT_BACKBONE = "default"


def class_names_of(specs: Sequence[ReferenceSpec], with_default_classes: bool) -> List[str]:
    """The model's trained classes (without ``unknown``), see the module docstring.

    Raises:
        InputError: Fewer than two reference classes without ``with_default_classes``.
    """
    names = list(dict.fromkeys(s.name for s in specs))
    if not names:
        raise InputError("--reference: no reference given")
    if len(names) < 2 and not with_default_classes:
        raise InputError(f"--reference: only one class ({names[0]!r}); give references of at least two classes "
                         f"(a reference named 'liquid' counts) or add --with-default-classes")
    extra = [n for n in VOCABULARY_CLASSES if n not in names and n != LIQUID] if with_default_classes else []
    return [n for n in names if n != LIQUID] + extra + [LIQUID]


def split_reference_samples(frames: Sequence, label: int, cutoff: float, copies: int, noise_max: float,
                            fraction: float, rng: np.random.Generator) -> tuple:
    """Training and validation graphs of one class's reference frames (steps 2 and 3).

    Returns:
        ``(train, validation, record)``: lists of :class:`GraphSample` and the split's record.

    Raises:
        InputError: A class whose only frame has fewer than two selected particles.
    """
    geos = [geometry(f, cutoff) for f in frames]
    train, val = [], []
    levels = cal.calibration_noise_levels(noise_max)
    if len(geos) >= 2:
        held = set(rng.permutation(len(geos))[:min(len(geos) - 1, max(1, int(round(fraction * len(geos)))))].tolist())
        masks = [(np.zeros_like(g.selected), g.selected) if i in held else (g.selected, np.zeros_like(g.selected))
                 for i, g in enumerate(geos)]
        split = {"held_out_frames": [frames[i].where for i in sorted(held)]}
    else:
        if int(frames[0].selected.sum()) < 2:
            raise InputError(f"--reference: {frames[0].where}: one selected particle; a class needs at least two "
                             "(one to train on, one to validate)")
        slab = validation_slab(geos[0], fraction, rng)
        masks = [(geos[0].selected & ~slab, geos[0].selected & slab)]
        split = {"held_out_slab": float(masks[0][1].sum() / geos[0].selected.sum())}
    copies = int(np.clip(np.ceil(MAX_TRAINING_PARTICLES / max(1, sum(int(m[0].sum()) for m in masks))), 1, copies))
    split["copies"] = copies
    for geo, (fit, held) in zip(geos, masks):
        if fit.any():
            train += augmented_samples(geo, np.where(fit, label, -1), cutoff, rng.uniform(0, noise_max, copies), rng)
        if held.any():
            val += augmented_samples(geo, np.where(held, label, -1), cutoff, levels, rng)
    return train, val, split


def generated_samples(names: Sequence[str], class_names: Sequence[str], cutoff: float, seed: int,
                      progress: bool) -> tuple:
    """Training and validation graphs of generated classes (the library's crystals and LJ liquids),
    labelled by their index in ``class_names``."""
    lookup = torch.tensor([list(class_names).index(n) for n in names])
    g = GENERATED
    train = generate_samples(names, g["train"], cutoff, g["noise_max"], seed, progress=progress, length_unit="local")
    val = generate_samples(names, g["validation"], cutoff, 0.0, seed + 7919, progress=progress, length_unit="local",
                           noise_levels=cal.calibration_noise_levels(g["calibration_noise_max"]))
    for sample in train + val:
        sample.labels = lookup[sample.labels]
    return train, val


def labelled(embedding: np.ndarray, predicted: np.ndarray, true: np.ndarray, noise: np.ndarray) -> tuple:
    """The rows of labelled particles (``true >= 0``) of the four arrays."""
    keep = true >= 0
    return embedding[keep], predicted[keep], true[keep], noise[keep]


def fit_unknown(labeler, names: Sequence[str], x: np.ndarray, y: np.ndarray, val: Sequence[GraphSample],
                quantile: float, noise_max: float) -> tuple:
    """The unknown rule (step 5; :func:`md_orderml.training.calibration.fit_unknown_rule` for partly
    labelled graphs), switched on in ``labeler``.

    Returns:
        ``(record, predicted (M,), true (M,), unknown (M,))``: the metadata record and, per labelled
        validation particle, the head's class, the true class and whether the rule relabels it.
    """
    means, whitening = cal.fit_class_gaussians(x, y, len(names))
    embedding, predicted, true, noise = labelled(*cal.embeddings_and_predictions(labeler, val),
                                                 cal.particle_noise(val))
    record, unknown = cal.calibrate_rule(labeler, names, means, whitening, embedding, predicted, true, noise,
                                         quantile, noise_max)
    return record, predicted, true, unknown


def class_metrics(names: Sequence[str], y_train: np.ndarray, predicted: np.ndarray, true: np.ndarray,
                  unknown: np.ndarray) -> Dict[str, Dict]:
    """Per class: training and validation particles, the head's validation accuracy, the unknown
    fraction and the accuracy of the final labels (``predicted`` right and not ``unknown``)."""
    out = {}
    for k, name in enumerate(names):
        rows = true == k
        n = int(rows.sum())
        out[name] = {"train_particles": int((y_train == k).sum()), "validation_particles": n,
                     "head_accuracy": float((predicted[rows] == k).mean()) if n else None,
                     "unknown_fraction": float(unknown[rows].mean()) if n else None,
                     "accuracy": float(((predicted[rows] == k) & ~unknown[rows]).mean()) if n else None}
    return out


def metrics_table(metrics: Dict[str, Dict]) -> List[str]:
    """The lines :func:`train_from_references` prints: one per class."""
    lines = [f"{'class':<14} {'train':>7} {'valid':>7} {'head acc':>9} {'unknown':>8} {'accuracy':>9}"]
    for name, m in metrics.items():
        cells = [f"{m[k]:.4f}" if m[k] is not None else "-" for k in ("head_accuracy", "unknown_fraction", "accuracy")]
        lines.append(f"{name:<14} {m['train_particles']:>7} {m['validation_particles']:>7} {cells[0]:>9} "
                     f"{cells[1]:>8} {cells[2]:>9}")
    return lines


def train_from_references(references: Sequence[Union[str, ReferenceSpec]], output,
                          backbone: str = DEFAULT_BACKBONE,
                          with_default_classes: bool = False, head: str = "mlp", copies: int = 6,
                          noise_max: float = 0.05, validation_fraction: float = 0.2, unknown_quantile: float = 0.99,
                          seed: int = 0, progress: bool = True,
                          isolated_crystal_radius: float = ISOLATED_CRYSTAL_RADIUS) -> Dict:
    """Train a model file from reference frames (see the module docstring).

    Args:
        references: ``NAME=PATH[:frames=A:B][:types=T,...][:mask=FILE]`` texts or parsed specs.
        output: The model file to write.
        backbone: ``"default"`` (:data:`DEFAULT_BACKBONE`), ``"pretrained"`` (the shipped
            self-supervised backbone), a pretrain checkpoint or a local-unit model file
            (:func:`~md_orderml.backbones.load_backbone`).
        with_default_classes: Also learn the vocabulary classes from the structure library.
        head: ``"mlp"`` or ``"linear"``.
        copies: Augmented training graphs per reference frame.
        noise_max: Largest added noise, fraction of the nearest-neighbour distance.
        validation_fraction: Fraction of each class's frames (or particles) held out.
        unknown_quantile: Fraction of held-out particles per class the unknown rule keeps.
        seed: Seed of the split, augmentation, generated classes and head.
        progress: Print progress and the metrics.
        isolated_crystal_radius: Radius of the isolated-crystal rule (0: off).

    Returns:
        The report: ``path``, ``classes``, ``metrics`` (:func:`class_metrics`), ``references``
        (name, path, frames, particles), ``seconds``.

    Raises:
        InputError: Bad references (one line, nothing written), a backbone in the global unit.
    """
    from md_orderml.model_file import build_metadata, save_model
    from md_orderml.nn.labeler import StructureLabeler
    from md_orderml.backbones import load_backbone
    from md_orderml.training.frozen_head import HEAD_KINDS, embed_samples, fit_head
    from md_orderml.training.trainer import class_info_of

    start = time.time()
    say = print if progress else (lambda *a, **k: None)
    if head not in HEAD_KINDS:
        raise InputError(f"unknown head {head!r}; known: {', '.join(HEAD_KINDS)}")
    if not 0.0 < validation_fraction < 1.0 or copies < 1 or noise_max < 0 or not 0.0 < unknown_quantile <= 1.0:
        raise InputError("need 0 < validation fraction < 1, copies >= 1, noise max >= 0, 0 < unknown quantile <= 1")
    if Path(output).is_dir():
        raise InputError(f"-o {output}: a directory; give the model file's name")
    specs = [r if isinstance(r, ReferenceSpec) else parse_reference(r) for r in references]
    names = class_names_of(specs, with_default_classes)
    read = [read_reference(s) for s in specs]
    try:
        net, info = load_backbone(backbone)
    except ModelFileError as err:
        raise InputError(f"--backbone: {err}") from None
    if info.get("length_unit") != "local":
        raise InputError(f"backbone {backbone!r} is in the {info.get('length_unit')} length unit; reference "
                         "training needs a local-unit backbone ('default', 'pretrained' or one of that kind)")
    cutoff, rng = float(net.cutoff), np.random.default_rng(seed)
    train, val, records = [], [], []
    for spec, frames in zip(specs, read):
        say(f"{spec.name}: {spec.path}: {len(frames)} frame(s), {sum(int(f.selected.sum()) for f in frames)} "
            "particles", flush=True)
    for name in dict.fromkeys(s.name for s in specs):
        mine = [(s, frames) for s, frames in zip(specs, read) if s.name == name]
        t, v, split = split_reference_samples([f for _, frames in mine for f in frames], names.index(name), cutoff,
                                              copies, noise_max, validation_fraction, rng)
        train, val = train + t, val + v
        records.append({"name": name, "split": split, "references": [
            {"text": s.text, "path": s.path, "frames": [f.where for f in frames],
             "particles": int(sum(f.selected.sum() for f in frames))} for s, frames in mine]})
    given = {s.name for s in specs}
    generated = [n for n in (VOCABULARY_CLASSES if with_default_classes else (LIQUID,))
                 if not (n == LIQUID and LIQUID in given)]
    if generated:
        t, v = generated_samples(generated, names, cutoff, seed + 1, progress)
        train, val = train + t, val + v
    say(f"classes: {', '.join(names)} (+ {UNKNOWN}); embedding {sum(s.n for s in train)} training particles",
        flush=True)
    x, y = embed_samples(net, train, only_labelled=True)
    fitted = fit_head(x, y, len(names), kind=head, seed=seed)
    labeler = StructureLabeler(net, len(names), head_hidden=0 if head == "linear" else 64, length_unit="local",
                               vapour_class=names.index(LIQUID))
    labeler.head = fitted
    labeler.eval()
    rule, predicted, true, unknown = fit_unknown(labeler, names, x.double().numpy(), y.numpy(), val,
                                                 unknown_quantile, noise_max)
    metrics = class_metrics(names, y.numpy(), predicted, true, unknown)
    for line in metrics_table(metrics):
        say(line)
    all_names = names + [UNKNOWN]
    isolated = None
    if isolated_crystal_radius > 0:
        crystals = [n for n in names if n != LIQUID]
        labeler.set_isolated_crystal_rule(all_names, crystals, isolated_crystal_radius, 2)
        isolated = {"radius": float(isolated_crystal_radius), "min_neighbours": 2, "crystal_classes": crystals,
                    "relabel": LIQUID}
    training = {"kind": "references", "method": "frozen-head", "head": head, "backbone": info, "seed": seed,
                "copies": copies, "noise_max": noise_max, "validation_fraction": validation_fraction,
                "with_default_classes": bool(with_default_classes), "references": records, "metrics": metrics}
    metadata = build_metadata(all_names, cutoff, int(net.config["n_layers"]),
                              {"family": "equivariant-density", **net.config}, training,
                              receptive_field=labeler.receptive_field(), length_unit="local")
    if isolated:
        metadata[ISOLATED_CRYSTAL_RULE] = isolated
    metadata[UNKNOWN_RULE] = rule
    metadata[CLASS_INFO] = {**{n: {"name": n, "role": "reference", "description": "from references: " + ", ".join(
        r["path"] for r in rec["references"])} for rec in records for n in [rec["name"]]}, **class_info_of(all_names)}
    path = save_model(labeler, json.loads(json.dumps(metadata)), output)
    seconds = time.time() - start
    say(f"wrote {path} ({seconds:.0f} s)")
    return {"path": Path(path), "classes": all_names, "metrics": metrics, "references": records, "seconds": seconds}

