"""Re-export a classification model file with the current code and the same weights.

A model file carries its TorchScript code, so a file keeps running the code it was
exported with. :func:`reexport_model_file` rebuilds the eager
:class:`~md_orderml.nn.labeler.StructureLabeler` from the file's metadata (backbone
family and settings, class names, head width, isolated-crystal rule), loads the file's
weights into it and saves it again with the same metadata: speed-ups of the code reach
old files without retraining. ``md-orderml export OLD.pt -o NEW.pt`` runs it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from md_orderml import keys
from md_orderml.errors import ModelFileError
from md_orderml.model_file import load_model, save_model
from md_orderml.nn.families import build_backbone
from md_orderml.nn.labeler import StructureLabeler


def rebuild_labeler(model) -> tuple:
    """The eager labeler of a classification model file, with the file's weights.

    Args:
        model: A model file path or ``"default"``.

    Returns:
        ``(labeler, metadata)``: the :class:`StructureLabeler` in eval mode and the file's metadata.

    Raises:
        ModelFileError: A regression file, an architecture this code cannot build, or
            weights that do not fit it.
    """
    loaded = load_model(model)
    metadata = loaded.metadata
    if loaded.is_regression:
        raise ModelFileError(f"{loaded.path}: re-exporting regression model files is not supported; "
                             "export again from the training checkpoint")
    state = loaded.module.state_dict()
    hidden = int(state["head.0.weight"].shape[0]) if "head.2.weight" in state else 0
    try:
        backbone = build_backbone(float(metadata["cutoff"]), metadata.get("architecture"))
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{loaded.path}: cannot rebuild the architecture its metadata names ({err})") from None
    names = list(metadata["class_names"])
    local = metadata.get("length_unit", "global") == "local"
    relabel = metadata.get("local_length_scale", {}).get("relabel", "liquid")
    if local and relabel not in names:
        raise ModelFileError(f"{loaded.path}: a local length unit without its vapour class {relabel!r}")
    unknown = metadata.get(keys.UNKNOWN_RULE)
    n_classes = len(names) - 1 if unknown else len(names)  # the unknown rule's class has no logit
    labeler = StructureLabeler(backbone, n_classes, head_hidden=hidden, length_unit="local" if local else "global",
                               vapour_class=names.index(relabel) if local else -1)
    result = labeler.load_state_dict(state, strict=False)
    derived = {name for name, _ in labeler.named_buffers()}  # buffers rebuilt from the architecture
    unexpected = set(result.unexpected_keys) - derived
    if result.missing_keys or unexpected:
        raise ModelFileError(f"{loaded.path}: its weights do not fit the architecture of its metadata "
                             f"(missing {sorted(result.missing_keys)[:3]}, unexpected {sorted(unexpected)[:3]})")
    for name, tensor in labeler.state_dict().items():
        if name in state and not torch.equal(tensor, state[name].to(tensor.dtype)):
            raise ModelFileError(f"{loaded.path}: rebuilt buffer {name} differs from the file's")
    rule = metadata.get(keys.ISOLATED_CRYSTAL_RULE)
    if rule:
        labeler.set_isolated_crystal_rule(list(metadata["class_names"]), list(rule["crystal_classes"]),
                                          float(rule["radius"]), int(rule["min_neighbours"]), str(rule["relabel"]))
    if unknown:  # its buffers are not weights: copy them from the file's module
        source = loaded.module.unknown_rule
        labeler.set_unknown_rule(source.means, source.whitening, source.thresholds)
    return labeler.eval(), metadata


def reexport_model_file(model, output) -> Path:
    """Save a classification model file again with the current code (same weights, same metadata).

    Args:
        model: The model file path or ``"default"``.
        output: The file to write (may be the same path).

    Returns:
        The path written.

    Raises:
        ModelFileError: See :func:`rebuild_labeler`.
    """
    labeler, metadata = rebuild_labeler(model)
    return save_model(labeler, metadata, output)
