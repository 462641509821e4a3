"""Backbones to start from: the shipped pretrained one, a pretraining checkpoint, or a model file's.

:func:`load_backbone` is what ``md-orderml train --reference`` and ``md-orderml discover``
embed environments with. It lives above :mod:`md_orderml.nn` and :mod:`md_orderml.model_file`
(it reads both kinds of file).
"""

import zipfile
from pathlib import Path
from typing import Dict, Tuple

from md_orderml.nn.families import Backbone
from md_orderml.nn.pretrained import SHIPPED_BACKBONE, load_pretrained_backbone

PRETRAINED = "pretrained"  #: the name of :data:`~md_orderml.nn.pretrained.SHIPPED_BACKBONE` in :func:`load_backbone`


def load_backbone(source: str = PRETRAINED) -> Tuple[Backbone, Dict]:
    """A backbone to embed environments with, from a pretrained checkpoint or a model file.

    Args:
        source: ``"pretrained"`` (the shipped :data:`~md_orderml.nn.pretrained.SHIPPED_BACKBONE`), the path of a
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
