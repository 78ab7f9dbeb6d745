"""Every ground truth the benchmark holds for the run's data set (NB201 CIFAR-10: ori-test, x-valid,
x-test), each labelled, for the summary to score the estimators against all of them: a proxy that
ranks x-valid well and ori-test less well says so, and a published number is compared with the
column it used.

The columns come from the space's `BenchLoader.gt_columns` and are opened from the run's own source,
schedule and cache; one the source does not hold (the NB201 CSV has no cifar100 x-valid) is listed
as missing with the reason, never an error: it changes no score.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from wsnas.core.errors import BenchmarkError
from wsnas.engine.identity import gt_fingerprint
from wsnas.groundtruth import open_benchmark


@dataclass(frozen=True)
class GTColumn:
    """One ground truth of the pool: per pool position its accuracy (NaN: not in this column) and rank."""

    label: str
    fingerprint: dict[str, str]
    acc: np.ndarray
    rank: np.ndarray
    total: int


def column_labels(plan: Any) -> dict[str, str]:
    """label -> metric of the run's data set, the run's own metric first (labelled by the loader, or by
    its own name where the loader does not list it, e.g. a `bench build` table)."""
    loader = plan.space.loader
    listed = dict(getattr(loader, "gt_columns", {}).get(plan.cfg.data.name, {}))
    own = plan.bench.metric
    mine = next((label for label, m in listed.items() if loader.resolve_metric(m) == own), own)
    return {mine: own, **{label: m for label, m in listed.items() if label != mine}}


def gt_columns(plan: Any) -> tuple[list[GTColumn], dict[str, str]]:
    """The columns of the plan's pool (the run's own first) and {label: why missing}."""
    b, arch_strs = plan.cfg.bench, plan.pool.arch_strs
    cols, missing = [], {}
    for label, metric in column_labels(plan).items():
        if metric == plan.bench.metric:
            bench = plan.bench
        else:
            try:
                bench = open_benchmark(
                    plan.space, source=b.source, metric=metric, schedule=b.schedule, cache_dir=b.cache_dir
                )
            except BenchmarkError as e:
                missing[label] = f"{metric}: {str(e).splitlines()[0]}"
                continue
        acc, rank = np.full(len(arch_strs), np.nan), np.zeros(len(arch_strs), dtype=np.int64)
        for i, s in enumerate(arch_strs):
            with contextlib.suppress(BenchmarkError):  # not in this column: left out of its metrics
                acc[i], rank[i] = bench.acc_of(s), bench.rank(s)
        cols.append(GTColumn(label, gt_fingerprint(bench), acc, rank, bench.size))
    return cols, missing
