"""GDAS (Dong and Yang, CVPR 2019) as xautodl runs it on NB201 (`exps/NAS-Bench-201-algos/GDAS.py`,
`models/cell_searchs/search_model_gdas.py`).

Each forward draws, per edge, a Gumbel-softmax sample of the log-softmax logits at temperature tau,
takes its argmax as the one op that runs, and weights it by the straight-through one-hot
(one_hot - probs.detach() + probs), the other ops contributing their (zero-valued) weights so the
gradient reaches every logit. A draw with an infinite or NaN value is drawn again, as the
reference does. Each step first trains the weights on a training batch (one draw), then the
architecture on a batch of the architecture split (a fresh draw). tau falls linearly from tau_max
at the first epoch to tau_min at the last: tau_max - (tau_max - tau_min) * epoch / (epochs - 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wsnas.algorithms.base import Algorithm, _mixed


def tau_at(epoch: int, epochs: int, tau_max: float, tau_min: float) -> float:
    """The reference's linear schedule (one epoch: tau_max)."""
    if epochs <= 1:
        return tau_max
    return tau_max - (tau_max - tau_min) * epoch / (epochs - 1)


def gumbel_hard(alphas: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(straight-through one-hot weights, chosen op per row) of one Gumbel-softmax draw."""
    while True:
        gumbels = -torch.empty_like(alphas).exponential_().log()
        logits = (alphas.log_softmax(dim=1) + gumbels) / tau
        probs = F.softmax(logits, dim=1)
        index = probs.max(-1, keepdim=True)[1]
        one_h = torch.zeros_like(logits).scatter_(-1, index, 1.0)
        hardwts = one_h - probs.detach() + probs
        bad = torch.isinf(gumbels).any() or torch.isinf(probs).any() or torch.isnan(probs).any()
        if not bad:
            return hardwts, index.squeeze(-1)


class GDAS(Algorithm):
    """Gumbel-softmax sampling, one op per edge per forward (module docstring)."""

    def begin_epoch(self, epoch: int, epochs: int) -> None:
        super().begin_epoch(epoch, epochs)
        self.tau = tau_at(epoch, epochs, float(self.settings["tau_max"]), float(self.settings["tau_min"]))

    tau: float = 10.0

    def mixing(self) -> tuple[list[torch.Tensor | None], list[tuple[int, ...]]]:
        hardwts, index = gumbel_hard(self.logits(), self.tau)
        return self.rows(hardwts), [(int(i),) for i in index.tolist()]

    def weight_forward(
        self, model: nn.Module, x: torch.Tensor, rng: np.random.Generator, sampler: Any
    ) -> torch.Tensor:
        """The weights train on the sampled ops, weighted by the straight-through weights (value 1)."""
        weights, active = self.mixing()
        return _mixed(model)(x, weights, active)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "tau": self.tau}
