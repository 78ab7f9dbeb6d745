"""`vote` reports two numbers under two names: the ranking metrics of its Copeland score (what
`vote` always meant in summary.json) and `pairwise_acc`, the zero-cost authors' vote, each checked
against a plain computation written after their notebook."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsnas.config import load_config
from wsnas.core.metrics import pairwise_accuracy
from wsnas.estimators.plan import EstimateOptions, plan_estimate
from wsnas.estimators.run import run_estimate
from wsnas.estimators.summary import vote_pairwise_accuracy

pytest.importorskip("sklearn")  # the digits data set


def _authors_vote(cols: dict[str, np.ndarray], gt: np.ndarray) -> float:
    """zero-cost-nas `notebooks/nasbench201_correlations.ipynb`: every ordered pair of different GT;
    'first is better' when at least 2 of the 3 score differences are > 0; right when GT agrees."""
    right = tot = 0
    for i in range(gt.size):
        for j in range(gt.size):
            if i == j or gt[i] == gt[j]:
                continue
            numpos = sum(1 for m in ("synflow", "jacob_cov", "snip") if cols[m][i] - cols[m][j] > 0)
            sign = 1 if numpos >= 1.5 else -1
            right += 1 if sign * (gt[i] - gt[j]) > 0 else 0
            tot += 1
    return right / tot


@pytest.mark.parametrize("seed", range(4))
def test_vote_pairwise_accuracy_is_the_authors_number(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 30
    gt = rng.choice(np.linspace(85, 95, 12), n)
    cols = {m: rng.integers(0, 5, n).astype(float) for m in ("synflow", "jacob_cov", "snip")}  # ties
    assert vote_pairwise_accuracy(cols, gt) == pytest.approx(_authors_vote(cols, gt), abs=1e-12)
    cols["snip"][3] = math.nan  # an arch without all three scores leaves the vote
    keep = np.arange(n) != 3
    want = _authors_vote({m: c[keep] for m, c in cols.items()}, gt[keep])
    assert vote_pairwise_accuracy(cols, gt) == pytest.approx(want, abs=1e-12)


def test_summary_reports_both_under_their_names(tmp_path) -> None:
    cfg = load_config(
        None,
        ["space.name=nb201_mini", "data.name=digits", "eval.pool_size=12", "runtime.device=cpu",
         "runtime.threads=1", f"out_dir={tmp_path}", "name=v"],
    )  # fmt: skip
    opts = EstimateOptions(["vote", "synflow"], batch=16, channels=4, cells=1)
    summary = run_estimate(plan_estimate(cfg, opts))
    vote, syn = summary["estimators"]["vote"], summary["estimators"]["synflow"]
    assert vote["score"] == "copeland" and "Copeland" in summary["definitions"]["vote"]
    import csv

    with open(tmp_path / "v" / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    gt = np.array([float(r["gt_acc"]) for r in rows])
    cols = {m: np.array([float(r[m]) for r in rows]) for m in ("synflow", "jacob_cov", "snip")}
    ok = np.isfinite(np.stack(list(cols.values()), 1)).all(1)
    want = _authors_vote({m: c[ok] for m, c in cols.items()}, gt[ok])
    assert vote["pairwise_acc"] == pytest.approx(want, abs=1e-12)
    fin = np.isfinite(cols["synflow"])
    assert syn["pairwise_acc"] == pytest.approx(pairwise_accuracy(cols["synflow"][fin], gt[fin]))
