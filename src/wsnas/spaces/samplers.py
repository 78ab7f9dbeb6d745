"""Path samplers of P_ws: which architecture(s) each training step trains.

A sampler returns the list of paths for one step; the trainer sums their
gradients and takes one optimizer step, so single-path samplers return one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wsnas.config import SamplerConfig
from wsnas.core.errors import ConfigError
from wsnas.core.registry import Registry
from wsnas.spaces.base import SearchSpace

SAMPLERS: Registry[type[Sampler]] = Registry("sampler", "wsnas.samplers")
"""Path samplers by name; other packages add theirs through the `wsnas.samplers` entry-point group."""


class Sampler:
    """Draws the paths of one training step from a numpy Generator (checkpointed)."""

    any_space: bool = False
    """True: it uses only what every space gives (`sample`, `sample_unique`, `parse`), so it runs on
    every space without the space naming it in `SearchSpace.samplers` (plugins usually are)."""

    def __init__(self, space: SearchSpace, cfg: SamplerConfig) -> None:
        self.space = space
        self.cfg = cfg

    def step_paths(self, rng: np.random.Generator) -> list[Any]:
        raise NotImplementedError


@SAMPLERS.register("random_nas")
class RandomNAS(Sampler):
    """Uniform over encodings (isomorphic encodings each count)."""

    def step_paths(self, rng: np.random.Generator) -> list[Any]:
        return [self.space.sample(rng)]


@SAMPLERS.register("random_a")
class RandomA(Sampler):
    """Uniform over unique architectures (isomorphic encodings counted once)."""

    def step_paths(self, rng: np.random.Generator) -> list[Any]:
        return [self.space.sample_unique(rng)]


@SAMPLERS.register("fairnas")
class FairNAS(Sampler):
    """K paths per step; every op of every slot is trained exactly once per step.

    Path k gives slot s the op perm_s[k] of an independent permutation per slot
    (the space's `fair_paths`). K defaults to the number of ops; a smaller K
    trains each op at most once per step.
    """

    def __init__(self, space: SearchSpace, cfg: SamplerConfig) -> None:
        super().__init__(space, cfg)
        n_ops = space.fair_num_ops()
        self.k = cfg.fairnas_k or n_ops
        if self.k > n_ops:
            raise ConfigError(
                f"key 'sampler.fairnas_k': got {self.k}; at most the number of ops of "
                f"{space.name} ({n_ops}), so that no op is trained twice in a step"
            )

    def step_paths(self, rng: np.random.Generator) -> list[Any]:
        return self.space.fair_paths(rng)[: self.k]


def build_sampler(space: SearchSpace, cfg: SamplerConfig) -> Sampler:
    """The configured sampler for SPACE; ConfigError for a name that is not registered or
    that SPACE does not support."""
    cls = SAMPLERS.get(cfg.name)
    require_sampler(space, cfg.name)
    return cls(space, cfg)


def require_sampler(space: SearchSpace, name: str) -> None:
    """ConfigError if SPACE does not declare sampler NAME in `SearchSpace.samplers` (a sampler that
    runs on `any_space` needs no declaration)."""
    if name in SAMPLERS and SAMPLERS.get(name).any_space:
        return
    if name not in space.samplers:
        raise ConfigError(
            f"key 'sampler.name': {space.name} does not support {name!r}; "
            f"its samplers: {', '.join(space.samplers)}"
        )
