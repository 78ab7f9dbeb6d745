"""The landmark ranking term on one batch (the torch side of `wsnas.spaces.landmarks`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

RANK_FNS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,  # authors' mae_relu
    "softplus": F.softplus,  # authors' mae_softplus (= their crossentropy: -log(1 - sigmoid(d)))
}
"""f of the loss gap d = L_better - L_worse: positive when the super-net orders the pair against its
ground truth."""


def pair_term(
    model: Any, x: torch.Tensor, y: torch.Tensor, worse: Any, better: Any, coef: float, kind: str
) -> torch.Tensor:
    """coef * f(CE(better) - CE(worse)) on batch (X, Y): one forward pass of each landmark."""
    loss_worse = F.cross_entropy(model(x, worse), y)
    loss_better = F.cross_entropy(model(x, better), y)
    return coef * RANK_FNS[kind](loss_better - loss_worse)
