"""Pretrained backbones: the checkpoint ``md-orderml pretrain`` writes, read back as a backbone.

Here, below both :mod:`md_orderml.ssl` (which writes the checkpoint) and
:mod:`md_orderml.training` (which starts supervised training from it), so neither
package imports the other's caller.

The package ships one pretrained backbone, :data:`SHIPPED_BACKBONE`
(``md_orderml/models/backbone.pt``), made by
``md-orderml pretrain --preset shipped -o md_orderml/models/backbone.pt --run-dir runs/backbone``:
self-supervised, in the default model's local length unit. :func:`load_backbone` reads it
(``"pretrained"``), any pretrained checkpoint, or the backbone of a model file
(``"default"``, ``"classic"`` or a path), for ``md-orderml train --reference`` and
``md-orderml discover``.
"""

import zipfile
from pathlib import Path
from typing import Dict, Tuple

import torch

from md_orderml.nn.families import Backbone, build_backbone

PRETRAINED_KIND = "md_orderml-pretrained-backbone"  #: ``kind`` entry of a pretrained checkpoint
#: The pretrained backbone inside the package (``load_backbone("pretrained")``).
SHIPPED_BACKBONE = Path(__file__).resolve().parent.parent / "models" / "backbone.pt"
PRETRAINED = "pretrained"  #: the name of :data:`SHIPPED_BACKBONE` in :func:`load_backbone`


def load_pretrained_backbone(path) -> "tuple[Backbone, dict]":
    """The backbone of a pretrained checkpoint.

    Returns:
        ``(backbone, state)``: the backbone (of the checkpoint's family) with the pretrained
        weights and the whole checkpoint dictionary.

    Raises:
        ModelFileError: Not a pretrained checkpoint.
    """
    from md_orderml.errors import ModelFileError

    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise ModelFileError(f"{path}: cannot read pretrained checkpoint ({type(err).__name__})") from None
    if not isinstance(state, dict) or state.get("kind") != PRETRAINED_KIND:
        raise ModelFileError(f"{path}: not a pretrained checkpoint (written by 'md-orderml pretrain')")
    backbone = build_backbone(float(state["cutoff"]), state["architecture"])
    backbone.load_state_dict(state["backbone"])
    return backbone, state


def load_backbone(source: str = PRETRAINED) -> Tuple[Backbone, Dict]:
    """A backbone to embed environments with, from a pretrained checkpoint or a model file.

    Args:
        source: ``"pretrained"`` (the shipped :data:`SHIPPED_BACKBONE`), the path of a
            checkpoint of ``md-orderml pretrain``, or a model file: ``"default"``,
            ``"classic"`` or a path (its backbone, rebuilt from the file's weights record).

    Returns:
        ``(backbone, info)``: the backbone in eval mode and ``{"source": str, "length_unit":
        "global" | "local", "sha256": str}`` (the file's SHA-256).

    Raises:
        ModelFileError: A missing file, or one that is neither kind.
    """
    from md_orderml.errors import ModelFileError
    from md_orderml.model_file import SHIPPED_MODELS, file_sha256, read_metadata

    path = SHIPPED_BACKBONE if source == PRETRAINED else SHIPPED_MODELS.get(str(source), Path(source))
    if not Path(path).is_file():
        raise ModelFileError(f"{path}: no such backbone or model file")
    info = {"source": str(source), "sha256": file_sha256(path)}
    if zipfile.is_zipfile(path) and _is_model_file(path):
        from md_orderml.model_weights import rebuild_labeler, stored_weights

        metadata = read_metadata(path)
        with zipfile.ZipFile(path) as archive:
            tensors = stored_weights(archive.namelist(), archive.read, str(path))
        if tensors is None:
            raise ModelFileError(f"{path}: the model file has no weights record (export it again)")
        backbone = rebuild_labeler(metadata, tensors, str(path)).backbone
        info["length_unit"] = metadata.get("length_unit", "global")
    else:
        backbone, state = load_pretrained_backbone(path)
        info["length_unit"] = state.get("length_unit", "global")
    return backbone.eval(), info


def _is_model_file(path) -> bool:
    """Whether ``path`` is a model file (a TorchScript archive with md_orderml metadata)."""
    from md_orderml import keys

    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/extra/" + keys.METADATA_FILE) for name in archive.namelist())
