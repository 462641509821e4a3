"""Pretrained backbones: the checkpoint ``md-orderml pretrain`` writes, read back as a backbone.

Here, below both :mod:`md_orderml.ssl` (which writes the checkpoint) and
:mod:`md_orderml.training` (which starts supervised training from it), so neither
package imports the other's caller.

The package ships one pretrained backbone, :data:`SHIPPED_BACKBONE`
(``md_orderml/models/backbone.pt``), made by
``md-orderml pretrain --preset shipped -o md_orderml/models/backbone.pt --run-dir runs/backbone``:
self-supervised, in the default model's local length unit
(:func:`md_orderml.backbones.load_backbone` reads it as ``"pretrained"``).
"""

from pathlib import Path

import torch

from md_orderml.nn.families import Backbone, build_backbone

PRETRAINED_KIND = "md_orderml-pretrained-backbone"  #: ``kind`` entry of a pretrained checkpoint
#: The pretrained backbone inside the package (``md_orderml.backbones.load_backbone("pretrained")``).
SHIPPED_BACKBONE = Path(__file__).resolve().parent.parent / "models" / "backbone.pt"


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
