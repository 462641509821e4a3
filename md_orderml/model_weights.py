"""A plain weights record inside every classification model file, and the eager module rebuilt from it.

A model file is a TorchScript archive. A torch older than the one that wrote it may refuse
the archive's code (e.g. the GPU machine's torch 2.11 and a file written by torch 2.13);
the weights need no TorchScript. :func:`weights_record` is what :func:`~md_orderml.model_file.save_model`
stores next to the metadata (``extra/md_orderml_weights.pt``: every parameter and buffer,
non-persistent ones such as the unknown rule's included, as plain tensors), and
:func:`rebuild_labeler` builds the eager :class:`~md_orderml.nn.labeler.StructureLabeler`
from the metadata (backbone family and settings, class names, rules) and that record, so
:func:`~md_orderml.model_file.load_model` can fall back to it, automatically, and
``md-orderml export`` can re-export a file with today's code.

Example:
    >>> import io, torch
    >>> record = torch.load(io.BytesIO(weights_record(torch.nn.Linear(2, 1))), weights_only=True)
    >>> sorted(record["tensors"])
    ['bias', 'weight']
"""

from __future__ import annotations

import io
from typing import Dict, Optional

import torch

from md_orderml import keys
from md_orderml.errors import ModelFileError

RECORD_VERSION = 1  #: layout of the record (``{"version", "tensors"}``)


def weights_record(module: torch.nn.Module) -> bytes:
    """Every parameter and buffer of ``module`` (eager or scripted) as ``torch.save`` bytes.

    Args:
        module: The module whose tensors to store.

    Returns:
        Bytes of ``{"version": 1, "tensors": {name: tensor}}`` (CPU tensors, loadable with
        ``torch.load(..., weights_only=True)``).
    """
    tensors = {name: t.detach().cpu().clone() for name, t in module.named_parameters()}
    tensors.update({name: t.detach().cpu().clone() for name, t in module.named_buffers()})
    buffer = io.BytesIO()
    torch.save({"version": RECORD_VERSION, "tensors": tensors}, buffer)
    return buffer.getvalue()


def read_weights(raw: bytes, where: str) -> Dict[str, torch.Tensor]:
    """The tensors of a stored record (see :func:`weights_record`).

    Raises:
        ModelFileError: Not a readable record of a known version.
    """
    try:
        record = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as err:
        raise ModelFileError(f"{where}: corrupted weights record ({type(err).__name__})") from None
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        raise ModelFileError(f"{where}: weights record of an unknown layout; upgrade md_orderml")
    return record["tensors"]


def rebuild_labeler(metadata: Dict, tensors: Dict[str, torch.Tensor], where: str = "model file"):
    """The eager classification labeler that a model file's metadata describes, holding ``tensors``.

    Args:
        metadata: The file's metadata record.
        tensors: Every parameter and buffer by name (a weights record, or a loaded module's
            ``named_parameters``/``named_buffers``).
        where: The file, for error messages.

    Returns:
        The :class:`~md_orderml.nn.labeler.StructureLabeler` in eval mode.

    Raises:
        ModelFileError: A regression file, an architecture this code cannot build, or
            weights that do not fit it.
    """
    from md_orderml.nn.families import build_backbone
    from md_orderml.nn.labeler import StructureLabeler

    if metadata.get("task", keys.CLASSIFICATION) != keys.CLASSIFICATION:
        raise ModelFileError(f"{where}: rebuilding regression model files is not supported; "
                             "export again from the training checkpoint")
    hidden = int(tensors["head.0.weight"].shape[0]) if "head.2.weight" in tensors else 0
    try:
        backbone = build_backbone(float(metadata["cutoff"]), metadata.get("architecture"))
    except (TypeError, ValueError) as err:
        raise ModelFileError(f"{where}: cannot rebuild the architecture its metadata names ({err})") from None
    names = list(metadata["class_names"])
    local = metadata.get("length_unit", "global") == "local"
    relabel = metadata.get("local_length_scale", {}).get("relabel", "liquid")
    if local and relabel not in names:
        raise ModelFileError(f"{where}: a local length unit without its vapour class {relabel!r}")
    unknown = metadata.get(keys.UNKNOWN_RULE)
    n_classes = len(names) - 1 if unknown else len(names)  # the unknown rule's class has no logit
    labeler = StructureLabeler(backbone, n_classes, head_hidden=hidden, length_unit="local" if local else "global",
                               vapour_class=names.index(relabel) if local else -1)
    state = {k: v for k, v in tensors.items() if not k.startswith("unknown_rule.")}
    result = labeler.load_state_dict(state, strict=False)
    derived = {name for name, _ in labeler.named_buffers()}  # buffers rebuilt from the architecture
    unexpected = set(result.unexpected_keys) - derived
    if result.missing_keys or unexpected:
        raise ModelFileError(f"{where}: its weights do not fit the architecture of its metadata "
                             f"(missing {sorted(result.missing_keys)[:3]}, unexpected {sorted(unexpected)[:3]})")
    for name, tensor in labeler.state_dict().items():
        if name in state and not torch.equal(tensor, state[name].to(tensor.dtype)):
            raise ModelFileError(f"{where}: rebuilt buffer {name} differs from the file's")
    average = metadata.get(keys.EMBEDDING_AVERAGE)
    if average:
        labeler.set_embedding_average(float(average["radius"]), float(average.get("taper", 0.0)))
    rule = metadata.get(keys.ISOLATED_CRYSTAL_RULE)
    if rule:
        labeler.set_isolated_crystal_rule(names, list(rule["crystal_classes"]), float(rule["radius"]),
                                          int(rule["min_neighbours"]), str(rule["relabel"]))
    if unknown and unknown.get("embedding_average"):
        labeler.set_unknown_average(float(unknown["embedding_average"]["radius"]),
                                    float(unknown["embedding_average"]["taper"]))
    if unknown and unknown.get("rescue"):
        rescue = unknown["rescue"]
        from md_orderml.nn.labeler import NEVER_RESCUED

        labeler.set_unknown_rescue(float(rescue["radius"]), int(rescue["passes"]),
                                   [float(rescue["min_fraction"].get(n, NEVER_RESCUED)) for n in names[:n_classes]])
    if unknown:  # its buffers are not in the state dict: they come from the record or the module
        try:
            labeler.set_unknown_rule(tensors["unknown_rule.means"], tensors["unknown_rule.whitening"],
                                     tensors["unknown_rule.thresholds"])
        except KeyError:
            raise ModelFileError(f"{where}: the unknown rule's tensors are missing from its weights") from None
    fallback = unknown.get("liquid_fallback") if unknown else None
    if fallback:  # its buffers, like the rule's, come from the record or the module
        try:
            labeler.unknown_rule.set_liquid_fallback(tensors["unknown_rule.fallback_mean"],
                                                     tensors["unknown_rule.fallback_whitening"],
                                                     float(tensors["unknown_rule.fallback_threshold"]),
                                                     names.index(str(fallback["relabel"])))
        except (KeyError, ValueError):
            raise ModelFileError(f"{where}: the liquid fallback's tensors or class are missing") from None
    return labeler.eval()


def module_tensors(module: torch.nn.Module) -> Dict[str, torch.Tensor]:
    """Every parameter and buffer of a (scripted) module by name, as :func:`rebuild_labeler` takes them."""
    tensors = dict(module.named_parameters())
    tensors.update(dict(module.named_buffers()))
    return tensors


def stored_weights(archive_names, read, where: str) -> Optional[Dict[str, torch.Tensor]]:
    """The weights record of an opened model archive, or None for files written before records existed.

    Args:
        archive_names: Names in the zip archive.
        read: ``read(name) -> bytes`` of the archive.
        where: The file, for error messages.
    """
    names = [n for n in archive_names if n.endswith("extra/" + keys.WEIGHTS_FILE)]
    return read_weights(read(names[0]), where) if names else None
