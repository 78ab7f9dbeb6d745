"""Few-shot super-nets (Zhao et al., ICML 2021): K sub-super-nets, one per op choice of the split edges.

After a one-shot warm-up the super-net is copied K times (K = ops ^ split edges); sub-super-net k
trains only the paths whose split edges carry its ops, and scores only those.
`spaces.fewshot_net.FewShotSuperNet` holds the K copies and routes every architecture to its owner,
so evaluation, shared-path counts and checkpoints see one network. docs/factors.md states what
follows the released code.
"""

from __future__ import annotations

from itertools import product
from typing import Any

import numpy as np

from wsnas.core.errors import ConfigError
from wsnas.spaces.base import EdgeOpSpace, SearchSpace

MAX_DRAWS = 10_000
"""Draws of the sampler before `draw_owned` gives up (a sampler that never reaches a sub-space)."""


def split_edges(space: SearchSpace, split: str) -> tuple[int, ...]:
    """The edge indices `fewshot.split` names on SPACE (empty for `off`); ConfigError otherwise."""
    text = split.strip()
    if text == "off":
        return ()
    if not isinstance(space, EdgeOpSpace) or not space.fewshot_default:
        raise ConfigError(f"key 'fewshot.split': {space.name} cannot be split (use off)")
    if text == "default":
        return tuple(space.fewshot_default)
    edges = space.edges
    names = ", ".join(f"{i} ({a}->{b})" for i, (a, b) in enumerate(edges))
    try:
        got = tuple(int(t) for t in text.split(","))
    except ValueError:
        raise ConfigError(
            f"key 'fewshot.split': got {split!r}; use off, default or edge indices like 0 or 0,3 "
            f"({space.name} edges: {names})"
        ) from None
    if len(set(got)) != len(got) or any(not 0 <= e < len(edges) for e in got):
        raise ConfigError(f"key 'fewshot.split': got {split!r}; {space.name} edges are {names}, each once")
    return tuple(sorted(got))


def warmup_epochs(epochs: int, fraction: float) -> int:
    """One-shot epochs before the split: round(epochs * fraction), at least 1 and at most epochs - 1."""
    return min(max(round(epochs * fraction), 1), epochs - 1)


class Owners:
    """Which sub-super-net owns an architecture: the ops on the split edges, in `product` order."""

    def __init__(self, edges: tuple[int, ...], num_ops: int) -> None:
        self.edges = edges
        self.choices = list(product(range(num_ops), repeat=len(edges)))
        self._index = {c: k for k, c in enumerate(self.choices)}

    def __len__(self) -> int:
        return len(self.choices)

    def owner(self, arch: Any) -> int:
        return self._index[tuple(int(arch[e]) for e in self.edges)]


def draw_owned(sample: Any, rng: np.random.Generator, owners: Owners, k: int) -> Any:
    """A path from SAMPLE (the run's sampler: `rng -> arch`) conditioned on sub-super-net K owning it.

    Rejection keeps the sampler's own distribution within the sub-space (Random-NAS: uniform over its
    encodings; Random-A: uniform over its unique cells' encodings as drawn)."""
    for _ in range(MAX_DRAWS):
        arch = sample(rng)
        if owners.owner(arch) == k:
            return arch
    raise RuntimeError(f"the sampler drew no path of sub-super-net {k} in {MAX_DRAWS} draws")
