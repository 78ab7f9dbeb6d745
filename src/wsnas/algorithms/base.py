"""What every search algorithm is to the trainer: architecture parameters, their optimiser, a
weight step's forward, an architecture step, the derived architecture and a score per architecture.

The architecture parameters are one row of logits per decision slot of the space (an edge of an
NB201 or DARTS cell, an NB101 vertex's op or input: `SearchSpace.relaxation()`), one column per
choice (rows padded to the widest, the padding masked out), initialised as the references do
(1e-3 * N(0, 1), from torch's seeded RNG). What the space derives from them, each architecture's
log-probability and the parameter-free share are the relaxation's (`spaces.relax`). All steps run
the super-net's own modules (`forward` for a single path, `forward_mixed` for weighted mixed ops),
so every factor of the super-net means what it means for single-path training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wsnas.engine.runtime import autocast
from wsnas.spaces.algorithms import AlgorithmSpec
from wsnas.spaces.relax import PARAM_FREE, Relaxation

Batch = tuple[torch.Tensor, torch.Tensor]
Scorer = Callable[[Any, Batch], float]
"""accuracy (%) of one architecture's single path on one batch (the trainer's, eval mode)."""


class ArchStream(Protocol):
    """The architecture split's batches (the trainer's `ArchBatches`)."""

    def next(self) -> Batch:
        """The augmented, shuffled stream's next batch (walked again when it runs out)."""
        ...

    def plain_batches(self) -> Callable[[], Batch]:
        """The plain stream's batches in order from its start, wrapping round."""
        ...


__all__ = ["PARAM_FREE", "Algorithm", "ArchStream", "Batch", "Scorer"]

DERIVE_SEED = 0x5EED
"""Seeds a derivation that samples (NB101's), with the epoch: the same alphas derive the same arch."""


def _mixed(model: nn.Module) -> Callable[..., torch.Tensor]:
    """The model's `forward_mixed` (`SuperNet.forward_mixed`: NB201, its mini space, DARTS, NB101)."""
    return cast(Callable[..., torch.Tensor], model.forward_mixed)


class Algorithm:
    """Base: softmax architecture logits trained by Adam on the architecture split.

    Subclasses set `arch_first` (DARTS and DrNAS update the architecture before the weights each
    step; GDAS and SETN after) and override `mixing` (what weights the weight step's mixed ops get).
    """

    arch_first: ClassVar[bool] = False
    learns_distribution: ClassVar[bool] = True
    """`log_probs` are log-probabilities of an architecture distribution (False: NAO, whose score is its
    predictor's output, which `wsnas search --algo learnt` cannot draw from)."""
    arch_every_step: ClassVar[bool] = True
    """It takes an architecture step beside every weight step (False: ENAS and NAO, whose architecture
    work is a phase after the epoch's weight steps, `end_epoch`)."""

    def __init__(
        self,
        spec: AlgorithmSpec,
        settings: dict[str, Any],
        space: Any,
        device: torch.device,
        amp: bool = False,
    ) -> None:
        self.attach(spec, settings, space, device, amp)
        sizes = self.relax.sizes
        width = max(sizes)
        self.alphas = nn.Parameter(1e-3 * torch.randn(self.slots, width).to(device))
        self.mask: torch.Tensor | None = None
        """Valid (slot, choice) entries where slots differ in size (None: all valid)."""
        if any(n != width for n in sizes):
            self.mask = (torch.arange(width)[None, :] < torch.tensor(sizes)[:, None]).to(device)
        betas = settings["arch_betas"]
        self.optimizer = torch.optim.Adam(
            [self.alphas],
            lr=settings["arch_lr"],
            betas=(float(betas[0]), float(betas[1])),
            weight_decay=settings["arch_weight_decay"],
        )

    def attach(
        self, spec: AlgorithmSpec, settings: dict[str, Any], space: Any, device: torch.device, amp: bool
    ) -> None:
        """What every algorithm holds whatever it learns: its spec and settings, the space's ops and
        decision slots, the device, the AMP flag, and the epoch schedule."""
        self.spec, self.settings, self.space, self.device, self.amp = spec, settings, space, device, amp
        self.ops: tuple[str, ...] = tuple(space.ops)
        self.relax: Relaxation = space.relaxation()
        self.slots = len(self.relax.sizes)
        self.epoch, self.epochs = 0, 1

    # ---- schedule ----------------------------------------------------------------------------
    def begin_epoch(self, epoch: int, epochs: int) -> None:
        """Called before each epoch (0-based): temperature schedules read it."""
        self.epoch, self.epochs = epoch, epochs

    # ---- steps ---------------------------------------------------------------------------------
    def all_active(self) -> list[tuple[int, ...]]:
        return [tuple(range(n)) for n in self.relax.sizes]

    def logits(self) -> torch.Tensor:
        """The architecture logits with the padding of smaller slots at -inf (probability 0)."""
        return self.alphas if self.mask is None else self.alphas.masked_fill(~self.mask, float("-inf"))

    def rows(self, w: torch.Tensor) -> list[torch.Tensor | None]:
        """Per slot its own choices' weights (the padding cut off)."""
        if self.mask is None:
            return list(w)
        return [row[:n] for row, n in zip(w, self.relax.sizes, strict=True)]

    def mixing(self) -> tuple[list[torch.Tensor | None], list[tuple[int, ...]]]:
        """Per slot the op weights and the active ops of a mixed forward (DARTS: softmax, all ops)."""
        w = F.softmax(self.logits(), dim=-1)
        return self.rows(w), self.all_active()

    def weight_forward(
        self, model: nn.Module, x: torch.Tensor, rng: np.random.Generator, sampler: Any
    ) -> torch.Tensor:
        """Logits of the weight step (its loss trains the super-net's weights)."""
        weights, active = self.mixing()
        return _mixed(model)(x, [w.detach() if w is not None else None for w in weights], active)

    def arch_loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss whose gradient moves the architecture parameters (first order)."""
        weights, active = self.mixing()
        with autocast(self.device, self.amp):
            return F.cross_entropy(_mixed(model)(x, weights, active), y)

    def arch_step(
        self, model: nn.Module, arch_batch: Batch, train_batch: Batch, w_optimizer: torch.optim.Optimizer
    ) -> float:
        """One Adam step of the architecture parameters on ARCH_BATCH; the loss. Only the architecture
        parameters receive gradients (the weights' .grad are left as they were)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.arch_loss(model, *arch_batch)
        loss.backward(inputs=[self.alphas])
        self.optimizer.step()
        return float(loss.detach())

    def end_epoch(self, model: nn.Module, scorer: Scorer, batches: ArchStream) -> list[float]:
        """After the epoch's last weight step (inside the epoch, so its time counts): the references'
        whole-phase architecture work (ENAS's controller steps, NAO's rounds); its losses."""
        return []

    # ---- what it found -------------------------------------------------------------------------
    def log_slot_probs(self) -> np.ndarray:
        """Per slot the learnt distribution's log-probabilities (slots x widest, padding -inf)."""
        return F.log_softmax(self.logits().detach().double(), dim=-1).cpu().numpy()

    def derive_rng(self) -> np.random.Generator:
        return np.random.default_rng([DERIVE_SEED, self.epoch])

    def derive(self, model: nn.Module, scorer: Scorer, batches: Callable[[], Batch]) -> Any:
        """The derived architecture, as the space's reference derives it from the probabilities
        (NB201: per slot the op of the largest logit, xautodl's `genotype()`; `spaces.relax`)."""
        return self.relax.derive(self.log_slot_probs(), self.derive_rng())

    def log_probs(self, archs: Sequence[Any]) -> np.ndarray:
        """Each architecture's log-probability under the learnt distribution (the space's rule)."""
        return self.relax.log_probs(self.log_slot_probs(), archs)

    def probabilities(self) -> list[list[float]]:
        p = F.softmax(self.logits().detach().double(), dim=-1).cpu().tolist()
        return [row[:n] for row, n in zip(p, self.relax.sizes, strict=True)]

    def param_free_share(self, arch: Any) -> float:
        """Share of the derived cell's choices holding a parameter-free op (none, skip, pooling)."""
        return self.relax.param_free_share(arch)

    def record(self) -> dict[str, Any]:
        """Extra keys of each evaluation record (the algorithm's own state, e.g. ENAS's baseline)."""
        return {}

    # ---- record ----------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "alphas": self.alphas.detach().clone(),
            "optimizer": self.optimizer.state_dict(),
            **self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.alphas.copy_(state["alphas"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.load_extra_state(state)

    def describe(self) -> dict[str, Any]:
        """The run summary's record: name, reference, the settings used."""
        return {
            "name": self.spec.name,
            "reference": self.spec.reference,
            "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in self.settings.items()},
            "arch_first": self.arch_first,
        }
