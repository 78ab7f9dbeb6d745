"""Drop-path: zero a whole sample's branch, as in DARTS/FractalNet path dropout."""

from __future__ import annotations

import torch
from torch import nn


def drop_path(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Zero each sample's `x` with probability p and scale survivors by 1/(1-p).

    The identity outside training or with p == 0, so eval paths stay deterministic
    and the expected activation is unchanged during training.
    """
    if not training or p <= 0.0:
        return x
    if p >= 1.0:
        return x * 0.0
    keep = 1.0 - p
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    mask = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * mask.div_(keep)


class DropPath(nn.Module):
    """Module form of `drop_path`, active only in training mode."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop-path probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
