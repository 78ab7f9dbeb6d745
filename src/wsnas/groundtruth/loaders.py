"""How a space's ground truth is read: the `BenchLoader` a `SearchSpace` carries.

A loader turns an official benchmark file (or a CSV export) into a `Benchmark`
for one metric and schedule. Each space defines its loader in its own folder and
names it as `SearchSpace.loader`; this module only defines the shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from wsnas.core.errors import BenchmarkError, did_you_mean
from wsnas.groundtruth.table import Benchmark


class ReadFn(Protocol):
    def __call__(self, source: Path, metric: str, schedule: str) -> Benchmark: ...


class NormFn(Protocol):
    def __call__(self, metric: str) -> str: ...


class MeasuredOn(NamedTuple):
    """The images a ground-truth metric was measured on, in config terms."""

    data: tuple[str, ...]
    """data.name values of that data set."""
    split: str | None
    """The data.eval_split that scores the same images; None where no split of ours matches it
    exactly (e.g. NB201's cifar10-valid, whose x-valid half of the training set we do not ship)."""


def cifar10_only(metric: str) -> MeasuredOn:
    """`BenchLoader.measured` of a benchmark whose every metric was measured on CIFAR-10 (its
    valid/test split is its own, so no split of ours is claimed)."""
    return MeasuredOn(("cifar10",), None)


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
    default_metric: str
    """Metric used when the caller names none (the paper's GT, e.g. NB201 cifar10/ori-test)."""
    default_schedule: str
    """Schedule used when the caller names none (NB201: 200 epochs, NB101: 108)."""
    default_source: Path | None = None
    """Ground truth shipped with wsnas, used when no source is named (nb201_mini's table)."""
    metric_by_data: Mapping[str, str] = field(default_factory=dict)
    """data.name -> the default metric for super-nets trained on it, where it is not `default_metric`
    (NB201: cifar100 -> cifar100/x-test)."""
    measured: Callable[[str], MeasuredOn | None] | None = None
    """What data a (normalised) metric was measured on; None or a None answer: not known, not checked."""
    gt_columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """data.name -> {label: metric}: every ground truth the benchmark holds for that data set (NB201
    CIFAR-10: ori-test, x-valid, x-test), which an estimate summary scores against, each labelled."""

    def resolve_metric(self, metric: str | None, data: str | None = None) -> str:
        """The cache's spelling of METRIC (None = the default for data set DATA, else the space's);
        built tables' names pass as they are."""
        if metric is not None:
            m = str(metric)
        else:
            m = self.metric_by_data.get(data, self.default_metric) if data else self.default_metric
        return m if m.startswith(BUILT_PREFIX) else self.normalize_metric(m)

    def measured_on(self, metric: str) -> MeasuredOn | None:
        """The images METRIC (as `resolve_metric` spells it) was measured on, if known."""
        if metric.startswith(BUILT_PREFIX):  # standalone/<data>-<split>: data names hold no '-'
            data, sep, split = metric.removeprefix(BUILT_PREFIX).partition("-")
            return MeasuredOn((data,), split) if sep and data and split else None
        return self.measured(metric) if self.measured is not None else None


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


class HasGroundTruth(Protocol):
    """What the cache needs of a space: its name (the cache folder), its loader and its
    codec (so lookups accept any spelling of an arch). `SearchSpace` satisfies it."""

    @property
    def name(self) -> str: ...

    @property
    def loader(self) -> BenchLoader: ...

    def parse(self, text: str) -> object: ...

    def format(self, arch: object) -> str: ...
