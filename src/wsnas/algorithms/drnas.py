"""DrNAS (Chen et al., ICLR 2021) on NB201 as its released code runs it without progressive learning
(`201-space/train_search.py` with k=1, method dirichlet, reg_type l2; `search_model.py`,
`architect.py`).

Each edge's op weights are drawn from a Dirichlet with concentration elu(alpha) + 1 (`rsample`, the
pathwise gradient), fresh for every forward, and every op runs (a mixed op). The `l2` regulariser of
the reference is the architecture Adam's weight decay (reg_scale 1e-3 = algorithm.arch_weight_decay).
Each step first the architecture (first order, on the architecture split), then the weights. The
derived architecture is the per-edge argmax of the logits (the reference's `genotype()` takes the
argmax of their softmax, the same op). The distribution's score of an architecture
(`log_probs`) is the log of the product of the Dirichlet means of its ops, alpha-ranked as the
derivation is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from wsnas.algorithms.base import Algorithm


class DrNAS(Algorithm):
    """Dirichlet-distributed mixed-op weights (module docstring)."""

    arch_first: ClassVar[bool] = True

    def concentration(self) -> torch.Tensor:
        return F.elu(self.alphas) + 1

    def mixing(self) -> tuple[list[torch.Tensor | None], list[tuple[int, ...]]]:
        w = torch.distributions.Dirichlet(self.concentration()).rsample()
        return list(w), self.all_active()

    def log_probs(self, archs: Sequence[Sequence[int]]) -> np.ndarray:
        c = self.concentration().detach().double()
        mean = (c / c.sum(dim=-1, keepdim=True)).log().cpu().numpy()
        idx = np.asarray(archs, dtype=np.int64).reshape(len(archs), self.slots)
        return mean[np.arange(self.slots)[None, :], idx].sum(axis=1)

    def probabilities(self) -> list[list[float]]:
        c = self.concentration().detach().double()
        return (c / c.sum(dim=-1, keepdim=True)).cpu().tolist()
