"""The second-round proxies through `wsnas estimate` end to end on the shipped mini benchmark (3
archs): every column written, az_nas and te_nas ranked over the pool from their components' columns
in the summary, latency's identity tied to the machine."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from wsnas.config import load_config
from wsnas.core.metrics import summarize
from wsnas.estimators import identity
from wsnas.estimators.plan import EstimateOptions, plan_estimate
from wsnas.estimators.proxies import SUMMARIES
from wsnas.estimators.proxies.aggregate import (
    AZ_NAS_COMPONENTS,
    TE_NAS_COMPONENTS,
    az_nas_aggregate,
    te_nas_aggregate,
)
from wsnas.estimators.run import run_estimate

pytest.importorskip("sklearn")

MINI = ["space.name=nb201_mini", "data.name=digits", "runtime.device=cpu", "runtime.threads=1"]
NEW = "epe_nas,l2_norm,plain,zen,zico,meco,swap,swap_reg,az_nas,te_nas,latency_b1,latency"


def plan_for(tmp_path: Path, name: str, estimators: str, n: int = 3):
    cfg = load_config(None, [*MINI, f"eval.pool_size={n}", f"out_dir={tmp_path}", f"name={name}"])
    opts = EstimateOptions(estimators=estimators.split(","), archs="pool", batch=16, channels=4, cells=1)
    return plan_estimate(cfg, opts)


def test_every_new_estimator_goes_end_to_end_and_pool_scores_come_from_their_columns(tmp_path):
    plan = plan_for(tmp_path, "all", NEW)
    summary = run_estimate(plan)
    assert summary["status"] == "finished" and summary["archs"]["n"] == 3
    with open(tmp_path / "all" / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert set(SUMMARIES) <= set(rows[0])  # every per-network proxy has its column
    assert "az_nas" not in rows[0] and "te_nas" not in rows[0]  # pool scores are derived
    cols = {c: np.array([float(r[c]) for r in rows]) for c in SUMMARIES}
    gt = np.array([float(r["gt_acc"]) for r in rows])
    ranks = np.array([int(r["gt_rank"]) for r in rows])
    for name, comps, agg in (
        ("az_nas", AZ_NAS_COMPONENTS, az_nas_aggregate),
        ("te_nas", TE_NAS_COMPONENTS, te_nas_aggregate),
    ):
        got = summary["estimators"][name]
        assert got["kind"] == "pool"
        s = agg({c: cols[c] for c in comps})
        ok = np.isfinite(s)
        want = summarize(s[ok], gt[ok], ranks[ok], plan.pool.total)
        assert got["spearman"] == pytest.approx(want["spearman"], nan_ok=True)
        assert got["n_nan"] == int((~ok).sum())
    for name in SUMMARIES:
        rec = summary["estimators"].get(name)
        if rec is not None:
            assert rec["kind"] == "zero_cost" and rec["seconds_per_arch"] > 0
    for r in rows:
        assert math.isfinite(float(r["latency"])) and float(r["latency"]) > 0


def test_latency_ties_the_identity_to_the_machine(tmp_path, monkeypatch):
    with_latency = plan_for(tmp_path, "lat", "latency,params")
    without = plan_for(tmp_path, "nolat", "params")
    before = (identity.estimate_identity(with_latency), identity.estimate_identity(without))
    monkeypatch.setattr(identity, "device_label", lambda device: "cpu: another machine")
    after = (identity.estimate_identity(with_latency), identity.estimate_identity(without))
    assert before[0]["config"] != after[0]["config"]  # a resume elsewhere is refused
    assert before[1] == after[1]  # estimators that do not time keep their identity


def test_a_revised_estimator_changes_the_identity_of_the_runs_that_score_it(tmp_path, monkeypatch):
    with_lr = plan_for(tmp_path, "te", "te_nas,params")
    without = plan_for(tmp_path, "plain", "params")
    before = (identity.estimate_identity(with_lr), identity.estimate_identity(without))
    monkeypatch.setattr(identity, "REVISED", {})  # as before te_nas_lr's revision 2
    after = (identity.estimate_identity(with_lr), identity.estimate_identity(without))
    assert before[0]["config"] != after[0]["config"]  # a run of the old te_nas_lr is not resumed
    assert before[1] == after[1]  # runs without it keep their identity
