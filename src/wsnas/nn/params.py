"""Parameter counting as the benchmarks report it."""

from __future__ import annotations

from torch import nn


def count_params(model: nn.Module) -> int:
    """Trainable parameters, each shared tensor once (NB201's `params` x 1e6, NB101's
    `trainable_parameters`)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
