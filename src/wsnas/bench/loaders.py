"""Ground-truth readers by space name, so NB101/DARTS plug in like NB201.

A loader turns an official benchmark file (or a CSV export) into a `Benchmark`
for one metric and schedule. Loader modules register themselves on import;
`get_loader` imports the built-in ones lazily so the CLI stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wsnas.bench.table import Benchmark
from wsnas.errors import BenchmarkError, ConfigError, did_you_mean
from wsnas.registry import Registry


class ReadFn(Protocol):
    def __call__(self, source: Path, metric: str, schedule: str) -> Benchmark: ...


class NormFn(Protocol):
    def __call__(self, metric: str) -> str: ...


@dataclass(frozen=True)
class BenchLoader:
    """How one space's ground truth is read.

    `read` gets a source path and an already normalised metric; `normalize_metric`
    maps aliases (e.g. a CSV column name) to one spelling, which names the cache.
    """

    read: ReadFn
    normalize_metric: NormFn
    sources: str
    """Human description of accepted sources, for error messages."""
    default_metric: str = "cifar10/ori-test"
    """Metric used when the caller names none (the paper's GT); NB201's unless a space says."""
    default_schedule: str = "200"
    """Schedule used when the caller names none (NB201: 200 epochs, NB101: 108)."""
    default_source: Path | None = None
    """Ground truth shipped with wsnas, used when no source is named (nb201_mini's table)."""

    def resolve_metric(self, metric: str | None) -> str:
        """The cache's spelling of METRIC (None = the default); built tables' names pass as they are."""
        m = self.default_metric if metric is None else str(metric)
        return m if m.startswith(BUILT_PREFIX) else self.normalize_metric(m)


def metric_from_aliases(
    metric: str, m: str, metrics: Iterable[str], aliases: dict[str, str], benchmark: str
) -> str:
    """M (METRIC lower-cased, prefixes removed) mapped through ALIASES to one of METRICS,
    else a BenchmarkError listing the metrics, the aliases and a close match."""
    m, metrics = aliases.get(m, m), list(metrics)
    if m not in metrics:
        raise BenchmarkError(
            f"{benchmark} has no metric {metric!r}; metrics: {', '.join(metrics)} "
            f"(aliases: {', '.join(aliases)}){did_you_mean(m, [*metrics, *aliases])}"
        )
    return m


BUILT_PREFIX = "standalone/"
"""Metric names of tables made by `wsnas bench build` (`standalone/<data>-<split>`)."""


LOADERS: Registry[BenchLoader] = Registry("ground-truth loader")

_BUILTIN: dict[str, str] = {
    "nb201": "wsnas.spaces.nb201.benchmark",
    "nb101": "wsnas.spaces.nb101.benchmark",
    "darts_nds": "wsnas.spaces.darts.benchmark",
    "nb201_mini": "wsnas.spaces.mini.benchmark",
}
"""space -> module that registers its loader (imported on first use)."""


def get_loader(space: str) -> BenchLoader:
    """The loader registered for SPACE; BenchmarkError if there is none."""
    if space not in LOADERS:  # only SPACE's module: one space's optional deps never break another's
        for module in [_BUILTIN[space]] if space in _BUILTIN else _BUILTIN.values():
            importlib.import_module(module)
    try:
        return LOADERS.get(space)
    except ConfigError as e:
        raise BenchmarkError(str(e)) from None
