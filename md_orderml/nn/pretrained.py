"""Pretrained backbones: the checkpoint ``md-orderml pretrain`` writes, read back as a backbone.

Here, below both :mod:`md_orderml.ssl` (which writes the checkpoint) and
:mod:`md_orderml.training` (which starts supervised training from it), so neither
package imports the other's caller.
"""

import torch

from md_orderml.nn.families import Backbone, build_backbone

PRETRAINED_KIND = "md_orderml-pretrained-backbone"  #: ``kind`` entry of a pretrained checkpoint


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
