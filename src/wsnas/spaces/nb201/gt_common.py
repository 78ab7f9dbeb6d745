"""What every NAS-Bench-201 ground-truth reader shares: schedules, metric names, the table.

Metrics are 'dataset/eval-name' in NATS spelling (e.g. cifar10/ori-test). A schedule
names the training length ('12' or '200' epochs); GT is read at epoch (epochs - 1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wsnas.bench.table import Benchmark
from wsnas.errors import ArchError, BenchmarkError, did_you_mean
from wsnas.spaces.nb201.arch import canonical_id, parse_arch

SCHEDULES: dict[str, int] = {"12": 12, "200": 200}
"""Schedule name -> training epochs; GT is read at epoch (epochs - 1)."""
SOURCES = "a NAS-Bench-201 .pth, a NATS-Bench topology folder or .pickle.pbz2, or a CSV"


def split_metric(metric: str, where: str) -> tuple[str, str]:
    """'dataset/eval-name' -> (dataset, eval-name); BenchmarkError if it has no such shape."""
    ds, sep, ev = metric.partition("/")
    if not sep or not ds or not ev:
        raise BenchmarkError(
            f"{where}: metric {metric!r} must be 'dataset/eval-name' (e.g. cifar10/ori-test)"
        )
    return ds, ev


def schedule_epochs(schedule: str, where: str) -> int:
    """The training epochs of SCHEDULE; BenchmarkError for an unknown one."""
    if schedule not in SCHEDULES:
        raise BenchmarkError(
            f"{where}: unknown schedule {schedule!r}; NAS-Bench-201 has "
            f"{', '.join(SCHEDULES)}{did_you_mean(schedule, SCHEDULES)}"
        )
    return SCHEDULES[schedule]


@dataclass(frozen=True)
class CellGT:
    """One cell's ground truth for the chosen metric and schedule."""

    acc: float
    params: float
    flops: float
    n_seeds: int


def build_table(
    archs: Sequence[str] | Mapping[int, str],
    cells: dict[int, CellGT],
    n_total: int,
    extra_meta: dict[str, Any],
    where: str,
) -> Benchmark:
    """Rows in official index order for the cells with GT; arch strings validated."""
    order = sorted(cells)
    arch_strs, canon = [], []
    for i in order:
        try:
            canon.append(canonical_id(parse_arch(archs[i])))
        except ArchError as e:
            raise BenchmarkError(f"{where}: cell {i}: {e}") from None
        arch_strs.append(archs[i])
    seeds = Counter(cells[i].n_seeds for i in order if cells[i].n_seeds > 0)
    return Benchmark(
        index=np.array(order, dtype=np.int64),
        arch=arch_strs,
        canonical=canon,
        acc=np.array([cells[i].acc for i in order]),
        params=np.array([cells[i].params for i in order]),
        flops=np.array([cells[i].flops for i in order]),
        meta={
            "n_total": int(n_total),
            "n_missing": int(n_total - len(order)),
            "seed_counts": {str(k): v for k, v in sorted(seeds.items())},
            **extra_meta,
        },
    )
