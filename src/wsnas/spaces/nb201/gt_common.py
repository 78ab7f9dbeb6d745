"""What every NAS-Bench-201 ground-truth reader shares: schedules, metric names, the table.

Metrics are 'dataset/eval-name' in NATS spelling (e.g. cifar10/ori-test). A schedule
names the training length ('12' or '200' epochs); GT is read at epoch (epochs - 1).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wsnas.core.errors import ArchError, BenchmarkError, did_you_mean
from wsnas.groundtruth.table import Benchmark
from wsnas.spaces.nb201.arch import EDGES, OPS, canonical_id, parse_arch

SCHEDULES: dict[str, int] = {"12": 12, "200": 200}
"""Schedule name -> training epochs; GT is read at epoch (epochs - 1)."""
SOURCES = "a NAS-Bench-201 .pth, a NATS-Bench topology folder or .pickle.pbz2, or a CSV"
NUM_CELLS = len(OPS) ** len(EDGES)
"""Cells of the space (15,625): official indices are 0..NUM_CELLS - 1."""


def check_index(i: int, where: str) -> int:
    """I if it is an official cell index; BenchmarkError otherwise."""
    if not 0 <= i < NUM_CELLS:
        raise BenchmarkError(f"{where}: cell index {i} outside the space (0..{NUM_CELLS - 1})")
    return i


def check_accuracy(acc: float, where: str) -> float:
    """ACC if it is a percentage in [0, 100] (NaN: no GT); BenchmarkError otherwise."""
    if not math.isnan(acc) and not 0.0 <= acc <= 100.0:
        raise BenchmarkError(f"{where}: accuracy {acc!r} is not a percentage in [0, 100]")
    return acc


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
    """Rows in official index order for the cells with GT; arch strings, indices and accuracies
    validated; a loud warning when the table covers fewer cells than the space."""
    order = sorted(cells)
    arch_strs, canon = [], []
    for i in order:
        check_index(i, where)
        check_accuracy(cells[i].acc, f"{where}: cell {i}")
        try:
            canon.append(canonical_id(parse_arch(archs[i])))
        except ArchError as e:
            raise BenchmarkError(f"{where}: cell {i}: {e}") from None
        arch_strs.append(archs[i])
    if len(order) < NUM_CELLS:
        warnings.warn(
            f"{where}: ground truth for {len(order)} of the {NUM_CELLS} NAS-Bench-201 cells "
            f"({NUM_CELLS - len(order)} without); metrics are over these cells only",
            stacklevel=2,
        )
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
