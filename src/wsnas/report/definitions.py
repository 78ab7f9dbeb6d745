"""The named metric definitions side by side: each number the tables print says which one it used.

A run's summary holds its metrics under its own `eval.metric_definition` (the paper's text by
default). The published tables were made by the authors' analysis scripts, which differ in
three ways (`wsnas.core.metrics.METRIC_DEFINITIONS`): 1-point s-KdT bins, the top 10 (NB201) or
top 5 (elsewhere) for the final model and P>R, and, before any metric, each architecture's
super-net accuracy averaged over the seeds of a setting. This module recomputes that variant
from the runs' final eval CSVs (evals/epoch_NNNN.csv), so any study shows both without
retraining. Runs without an eval CSV (or not finished) are left out of the average.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from wsnas.core.metrics import MetricDefinition, metric_definition, summarize
from wsnas.report.runs import RunRecord
from wsnas.report.settings import Stat

AUTHORS_METRICS = (("skdt", "s-KdT", 3), ("final_acc", "final acc", 2), ("pbr", "P>R", 3))
"""The columns whose definition differs between the paper's text and the authors' scripts."""
AVG_TAG = "seed-avg"


def run_definitions(runs: Iterable[RunRecord]) -> str:
    """`paper (0.1-pt bins, top-3)`: the definition the runs' own summaries used (joined with / when
    they differ), as a table prints it next to their numbers."""
    texts = sorted({r.cfg.metrics().text for r in runs})
    return " / ".join(texts) if texts else "paper"


def authors_definition(space: str) -> MetricDefinition:
    return metric_definition("authors", space)


def authors_label(space: str) -> str:
    """`authors (1-pt bins, top-10), seed-avg`: the tag of the seed-averaged numbers."""
    return f"{authors_definition(space).text}, {AVG_TAG}"


@dataclass(frozen=True)
class PoolScores:
    """One run's final evaluation: per architecture its super-net accuracy and ground truth."""

    accs: dict[str, float]
    gt: dict[str, float]
    gt_rank: dict[str, int]
    total: int


def final_pool(run: RunRecord) -> PoolScores | None:
    """The run's last eval CSV keyed by arch string; None when there is none or no benchmark size."""
    if not run.finished:
        return None
    files = sorted((run.path / "evals").glob("epoch_*.csv"))
    total = run.summary.get("final", {}).get("pbr_total") or (run.summary.get("benchmark") or {}).get("size")
    if not files or not isinstance(total, int):
        return None
    with files[-1].open(newline="") as f:
        rows = list(csv.DictReader(f))
    return PoolScores(
        {r["arch"]: float(r["supernet_acc"]) for r in rows},
        {r["arch"]: float(r["gt_acc"]) for r in rows},
        {r["arch"]: int(r["gt_rank"]) for r in rows},
        total,
    )


def seed_averaged(pools: list[PoolScores], definition: MetricDefinition) -> dict[str, Any] | None:
    """The metrics of DEFINITION on the seed-averaged super-net accuracies of POOLS (one per seed).

    Each architecture's score is the mean of its super-net accuracy over the pools that hold it
    (the union of the pools, as the authors' scripts take it); None when fewer than two
    architectures or the top-k does not fit.
    """
    if not pools:
        return None
    archs = list(dict.fromkeys(a for p in pools for a in p.accs))
    if len(archs) < max(2, definition.k):
        return None
    scores = [float(np.mean([p.accs[a] for p in pools if a in p.accs])) for a in archs]
    first = {a: p for p in reversed(pools) for a in p.accs}
    gt = [first[a].gt[a] for a in archs]
    ranks = [first[a].gt_rank[a] for a in archs]
    out = summarize(
        scores, gt, ranks, pools[0].total, definition.threshold, definition.k, definition=definition.name
    )
    return {**out, "seeds": len(pools)}


_CACHE: dict[tuple[str, ...], dict[str, Any] | None] = {}
"""Seed-averaged metrics by run dirs, for one report (cleared by `clear_cache` when a report starts,
so runs that changed since are read again)."""


def clear_cache() -> None:
    _CACHE.clear()


def authors_metrics(runs: list[RunRecord]) -> dict[str, Any] | None:
    """The authors' definition on RUNS (the seeds of one setting), seed-averaged; cached by run dirs."""
    key = tuple(sorted(str(r.path) for r in runs))
    if key not in _CACHE:
        pools = [p for p in (final_pool(r) for r in runs) if p is not None]
        _CACHE[key] = seed_averaged(pools, authors_definition(runs[0].space)) if runs else None
    return _CACHE[key]


def authors_stat(groups: Iterable[list[RunRecord]], metric: str) -> Stat:
    """Mean (and sample std) over settings of the seed-averaged authors' METRIC: one value per
    setting in GROUPS (a one-at-a-time row has one, a pooled grid row several)."""
    values = []
    for runs in groups:
        m = authors_metrics(runs)
        values.append(float(m[metric]) if m is not None else math.nan)
    return Stat.of(values)


def definitions_note(spaces: Iterable[str]) -> str:
    """What the two tags mean, for a table's note."""
    tags = sorted({authors_label(s) for s in spaces})
    return (
        "Each metric column names its definition (docs/metrics.md): [paper ...] is the paper's text "
        "(s-KdT over GT binned at eval.sparse_threshold points, final model and P>R over the top "
        "eval.top_k), mean ± sample std over seeds of each run's own number; ["
        + "; ".join(tags)
        + "] is the authors' analysis scripts behind the published tables: each architecture's super-net "
        "accuracy averaged over the setting's seeds first, then s-KdT at 1-point GT bins and the final "
        "model and P>R over the top 10 (NASBench-201) or top 5 (elsewhere), one number per setting."
    )


def definitions_sentence(spaces: Iterable[str]) -> str:
    """The one sentence the page puts where the two tags first appear (above that table)."""
    ks = sorted({(authors_definition(s).k, s) for s in spaces})
    tops = " or ".join(dict.fromkeys(f"top {k}" for k, _ in ks)) or "top k"
    return (
        "Where a metric appears twice, [paper] is the paper's text applied to each run and then "
        "averaged over seeds, and [authors, seed-avg] is what the authors' scripts behind the "
        "published tables compute: each architecture's super-net accuracy averaged over the seeds "
        f"first, then s-KdT at 1-point bins and the {tops} for the final model and P>R "
        "(docs/metrics.md)."
    )
