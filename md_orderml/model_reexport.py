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


from md_orderml import keys
from md_orderml.errors import ModelFileError
from md_orderml.model_file import load_model, save_model
from md_orderml.model_weights import module_tensors
from md_orderml.model_weights import rebuild_labeler as rebuild_from_tensors


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
    labeler = rebuild_from_module(loaded.module, loaded.metadata, str(loaded.path))
    return labeler, loaded.metadata


def rebuild_from_module(module, metadata, where: str):
    """:func:`~md_orderml.model_weights.rebuild_labeler` from a loaded (scripted) module's tensors."""
    tensors = module_tensors(module)
    rule = getattr(module, "unknown_rule", None)
    if metadata.get(keys.UNKNOWN_RULE) and rule is not None:  # buffers outside the state dict
        tensors.update({f"unknown_rule.{name}": getattr(rule, name) for name in ("means", "whitening", "thresholds",
                        "fallback_mean", "fallback_whitening", "fallback_threshold") if hasattr(rule, name)})
    if metadata.get("task", keys.CLASSIFICATION) != keys.CLASSIFICATION:
        raise ModelFileError(f"{where}: re-exporting regression model files is not supported; "
                             "export again from the training checkpoint")
    return rebuild_from_tensors(metadata, tensors, where)


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
