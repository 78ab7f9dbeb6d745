"""How a space's architectures are relaxed for the learnt-distribution algorithms (DARTS, GDAS, SETN,
DrNAS): its decision slots, the architecture derived from their probabilities, each architecture's
log-probability, draws from the distribution and the parameter-free share of a cell.

A slot is one categorical choice (an NB201 edge's op; a DARTS edge's op; an NB101 vertex's op or its
input). Slots may have different numbers of choices (`sizes`); an algorithm keeps one row of logits
per slot, padded to the widest, and hands these functions the per-slot log-probabilities with the
padding at -inf. No torch here: a config check reads `sizes` without building a network.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

PARAM_FREE = frozenset({"none", "skip_connect", "avg_pool_3x3", "max_pool_3x3", "maxpool3x3"})
"""Ops without weights: their share in a derived cell is the collapse DARTS shows on NB201."""


class Relaxation(ABC):
    """A space's decision slots and what an algorithm's per-slot probabilities mean in it."""

    sizes: tuple[int, ...]
    """Choices per slot (the rows of the architecture logits)."""

    @abstractmethod
    def derive(self, logp: np.ndarray, rng: np.random.Generator) -> Any:
        """The architecture the reference derives from LOGP (slots x widest, padding -inf); RNG
        serves a derivation that samples (NB101), seeded by the caller so it repeats."""

    @abstractmethod
    def log_probs(self, logp: np.ndarray, archs: Sequence[Any]) -> np.ndarray:
        """Each architecture's log-probability (or the space's documented score) under LOGP."""

    @abstractmethod
    def sample(self, logp: np.ndarray, rng: np.random.Generator) -> Any:
        """One architecture drawn from the distribution LOGP defines (SETN's candidates)."""

    @abstractmethod
    def param_free_share(self, arch: Any) -> float:
        """Share of the cell's choices that are parameter-free ops (none, skip, pooling)."""


class EdgeRelaxation(Relaxation):
    """One op per edge of a fixed cell (NB201 and its mini space): slot = edge, choice = op.

    Derived: per edge the most probable op (xautodl's `genotype()`); log-probability: the sum over
    edges (independent slots); the share counts edges."""

    def __init__(self, num_edges: int, ops: Sequence[str]) -> None:
        self.ops = tuple(ops)
        self.sizes = (len(self.ops),) * num_edges

    def derive(self, logp: np.ndarray, rng: np.random.Generator) -> tuple[int, ...]:
        return tuple(int(i) for i in np.argmax(logp, axis=1))

    def log_probs(self, logp: np.ndarray, archs: Sequence[Any]) -> np.ndarray:
        slots = len(self.sizes)
        idx = np.asarray(archs, dtype=np.int64).reshape(len(archs), slots)
        return logp[np.arange(slots)[None, :], idx].sum(axis=1)

    def sample(self, logp: np.ndarray, rng: np.random.Generator) -> tuple[int, ...]:
        return tuple(int(rng.choice(len(row), p=np.exp(row))) for row in logp)

    def param_free_share(self, arch: Any) -> float:
        return sum(self.ops[int(o)] in PARAM_FREE for o in arch) / max(len(arch), 1)


def choice(row: np.ndarray, rng: np.random.Generator) -> int:
    """A draw from one slot's log-probabilities (padding -inf has probability 0)."""
    p = np.exp(row - row.max())
    return int(rng.choice(len(p), p=p / p.sum()))
