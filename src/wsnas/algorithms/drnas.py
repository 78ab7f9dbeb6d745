"""DrNAS (Chen et al., ICLR 2021) on NB201 as its released code runs it without progressive learning
(`201-space/train_search.py` with k=1, method dirichlet, reg_type l2; `search_model.py`,
`architect.py`).

Each edge's op weights are drawn from a Dirichlet with concentration elu(alpha) + 1 (`rsample`, the
pathwise gradient), fresh for every forward, and every op runs (a mixed op). The `l2` regulariser of
the reference is the architecture Adam's weight decay (reg_scale 1e-3 = algorithm.arch_weight_decay).
Each step first the architecture (first order, on the architecture split), then the weights. The
derived architecture is the space's derivation (`spaces.relax`) applied to the Dirichlet means (on
NB201 the per-edge argmax of the logits: the reference's `genotype()` takes the argmax of their
softmax, the same op). The distribution's score of an architecture (`log_probs`) is the space's
score with the log Dirichlet means in place of the log-softmax.

Where slots differ in size (NB101: a vertex's op among 3, its input among up to 6), each slot's
Dirichlet covers its own choices only: independent Gamma(concentration) draws, normalised per
slot (the standard construction of a Dirichlet draw, pathwise through `Gamma.rsample`).
"""

from __future__ import annotations

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
        c = self.concentration()
        if self.mask is None:
            w = torch.distributions.Dirichlet(c).rsample()
        else:
            g = torch.distributions.Gamma(c, torch.ones_like(c)).rsample() * self.mask
            w = g / g.sum(dim=-1, keepdim=True)
        return self.rows(w), self.all_active()

    def mean(self) -> torch.Tensor:
        """Per slot the Dirichlet mean (padding 0)."""
        c = self.concentration().detach().double()
        if self.mask is not None:
            c = c * self.mask
        return c / c.sum(dim=-1, keepdim=True)

    def log_slot_probs(self) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.mean().cpu().numpy())

    def probabilities(self) -> list[list[float]]:
        m = self.mean().cpu().tolist()
        return [row[:n] for row, n in zip(m, self.relax.sizes, strict=True)]
