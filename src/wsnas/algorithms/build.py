"""The algorithm a run config names, built by its spec's target (plugins alike)."""

from __future__ import annotations

import importlib
from typing import Any

import torch

from wsnas.algorithms.base import Algorithm
from wsnas.config import RunConfig
from wsnas.core.errors import ConfigError
from wsnas.spaces.algorithms import NONE, get_algorithm, resolved_settings


def build_algorithm(cfg: RunConfig, space: Any, device: torch.device) -> Algorithm | None:
    """The run's algorithm (None: `algorithm.name=none`, the sampler alone)."""
    if cfg.algorithm.name == NONE:
        return None
    spec = get_algorithm(cfg.algorithm.name)
    module, _, attr = spec.target.partition(":")
    cls = getattr(importlib.import_module(module), attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Algorithm)):
        raise ConfigError(f"algorithm {spec.name}: target {spec.target} is not an Algorithm subclass")
    return cls(spec, resolved_settings(cfg), space, device, amp=cfg.runtime.amp)
