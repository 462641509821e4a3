"""One optimiser step, shared by every training loop (classifier, pretraining, fine-tuning, research)."""

import torch


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, parameters, max_norm: float = 5.0) -> None:
    """One optimiser step: zero the gradients, back-propagate ``loss``, clip the gradient norm, step.

    Args:
        optimizer: The optimiser.
        loss: Scalar loss tensor.
        parameters: The parameters whose gradient norm is clipped.
        max_norm: Largest total gradient norm.
    """
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    optimizer.step()
