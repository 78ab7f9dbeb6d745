"""What ENAS and NAO share: single-path weight steps, and a controller network (not per-edge logits)
trained by its own Adam in a phase after the epoch's weight steps (`Algorithm.end_epoch`).

The controller is built from torch's seeded RNG when the run starts (like the DARTS logits), and every
later draw comes from generators of its own, whose states go in the checkpoint with the controller's
weights and optimiser, so a resumed run repeats an uninterrupted one draw for draw.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from wsnas.algorithms.base import Algorithm, Batch
from wsnas.spaces.algorithms import AlgorithmSpec
from wsnas.spaces.grammar import TokenGrammar, token_grammar

CONTROLLER_GRAD_CLIP = 5.0
"""Both references clip the controller's gradient norm at 5 (xautodl ENAS, NAO's controller_grad_bound)."""


def torch_seed() -> int:
    """A seed drawn from torch's global RNG (seeded by the run), for a generator of the algorithm's own."""
    return int(torch.randint(0, 2**62, (1,)).item())


class ControllerAlgorithm(Algorithm):
    """Base of the controller-based algorithms: `net` and its Adam in place of the logits."""

    arch_every_step: ClassVar[bool] = False
    adam_eps: ClassVar[float] = 1e-8

    def __init__(
        self,
        spec: AlgorithmSpec,
        settings: dict[str, Any],
        space: Any,
        device: torch.device,
        amp: bool = False,
    ) -> None:
        self.attach(spec, settings, space, device, amp)
        self.net = self.build().to(device)
        self.optimizer = self.new_optimizer()

    def attach(
        self, spec: AlgorithmSpec, settings: dict[str, Any], space: Any, device: torch.device, amp: bool
    ) -> None:
        """The base's attach, and the space's token grammar (`wsnas.spaces.grammar`): how the controller
        writes an architecture. Its slots are the grammar's positions (NB201: its edges)."""
        super().attach(spec, settings, space, device, amp)
        self.grammar: TokenGrammar = token_grammar(space)
        self.slots = self.grammar.length

    @property
    def edge_grammar(self) -> bool:
        """One op token per edge (NB201): an architecture is its own value sequence."""
        return self.grammar.layout is None

    @abstractmethod
    def build(self) -> nn.Module:
        """The controller network (on the CPU; moved to the run's device)."""

    def new_optimizer(self) -> torch.optim.Adam:
        """Adam over the controller with the `arch_*` settings (NAO starts a fresh one each round)."""
        betas = self.settings["arch_betas"]
        return torch.optim.Adam(
            self.net.parameters(),
            lr=self.settings["arch_lr"],
            betas=(float(betas[0]), float(betas[1])),
            eps=self.adam_eps,
            weight_decay=self.settings["arch_weight_decay"],
        )

    @property
    def is_last_epoch(self) -> bool:
        return self.epoch + 1 >= self.epochs

    def clip_and_step(self) -> None:
        """The controller's optimiser step after its gradient is clipped (both references)."""
        nn.utils.clip_grad_norm_(self.net.parameters(), CONTROLLER_GRAD_CLIP)
        self.optimizer.step()

    # ---- no per-edge logits ----------------------------------------------------------------------
    def mixing(self) -> tuple[list[torch.Tensor | None], list[tuple[int, ...]]]:
        raise TypeError(f"{self.spec.name} trains single paths; it has no mixed-op weights")

    def arch_step(
        self, model: nn.Module, arch_batch: Batch, train_batch: Batch, w_optimizer: torch.optim.Optimizer
    ) -> float:
        raise TypeError(f"{self.spec.name} takes no architecture step beside the weights' (end_epoch)")

    def param_free_share(self, arch: Any) -> float:
        """Share of the derived cell's ops that have no weights (the grammar's op positions)."""
        if self.edge_grammar:
            return super().param_free_share(arch)
        ops = self.grammar.op_names(arch)
        return sum(o in self.grammar.param_free for o in ops) / max(len(ops), 1)

    # ---- record ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "controller": {k: v.detach().clone() for k, v in self.net.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            **self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.load_extra_state(state)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "controller_params": int(sum(p.numel() for p in self.net.parameters())),
            "controller_adam_eps": self.adam_eps,
            "token_grammar": self.grammar.describe(),
        }


def marginals(space: Any, scores: np.ndarray) -> list[list[float]]:
    """Per slot the probability of each op, from every encoding's log-probability (`all_archs` order)."""
    archs = np.asarray(space.all_archs(), dtype=np.int64)
    p = np.exp(scores - scores.max())
    p /= p.sum()
    out = np.zeros((archs.shape[1], len(space.ops)))
    for e in range(archs.shape[1]):
        np.add.at(out[e], archs[:, e], p)
    return out.tolist()


def value_shares(grammar: TokenGrammar, seqs: Sequence[Sequence[int]]) -> list[list[float]]:
    """Per position of the grammar the share of each value among SEQS."""
    out = [np.zeros(c) for c in grammar.choices]
    for seq in seqs:
        for k, v in enumerate(seq):
            out[k][int(v)] += 1
    return [(c / max(len(seqs), 1)).tolist() for c in out]
