"""The summary scores every estimator against every ground truth the benchmark holds for the data set
(NB201 CIFAR-10: ori-test, x-valid, x-test), each labelled: checked on the real NB201 table against
the CSV's own columns."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from wsnas.config import load_config
from wsnas.core.metrics import kendall_tau, pairwise_accuracy, summarize
from wsnas.estimators.plan import EstimateOptions, plan_estimate
from wsnas.estimators.run import run_estimate

pytest.importorskip("sklearn")  # the digits data set of the mini test


def test_nb201_cifar10_scores_against_ori_test_x_valid_x_test(tmp_path, shared_data):
    source = shared_data / "nb201" / "nb201_accuracy_200ep.csv"
    cfg = load_config(
        None,
        [f"bench.source={source}", f"out_dir={tmp_path}", "name=g", f"bench.cache_dir={tmp_path / 'cache'}",
         "runtime.device=cpu", "runtime.threads=1"],
    )  # fmt: skip
    summary = run_estimate(plan_estimate(cfg, EstimateOptions(["params", "flops"], archs="60")))
    labels = [c["label"] for c in summary["gt_columns"]]
    assert labels == ["ori-test", "x-valid", "x-test"] and summary["gt_columns_missing"] == {}
    metrics = {c["label"]: c["metric"] for c in summary["gt_columns"]}
    assert metrics == {
        "ori-test": "cifar10/ori-test",
        "x-valid": "cifar10-valid/x-valid",
        "x-test": "cifar10-valid/ori-test",
    }
    with open(source, newline="") as f:
        table = {r["arch_str"]: r for r in csv.DictReader(f)}
    with open(tmp_path / "g" / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    params = np.array([float(r["params"]) for r in rows])
    for label, column in (("ori-test", "cifar10_test"), ("x-valid", "cifar10_valid_xvalid"),
                          ("x-test", "cifar10_valid_xtest")):  # fmt: skip
        gt = np.array([float(table[r["arch"]][column]) for r in rows])
        all_gt = np.array([float(r[column]) for r in table.values()])
        ranks = np.array([int((all_gt > g).sum()) for g in gt])
        got = summary["estimators"]["params"]["by_gt"][label]
        want = summarize(params, gt, ranks, len(all_gt))
        for key in ("kdt", "spearman", "ptop_5pct", "br_5pct", "ndcg", "pbr", "final_acc"):
            assert got[key] == pytest.approx(want[key], nan_ok=True), (label, key)
        assert got["kdt"] == pytest.approx(kendall_tau(params, gt))
        assert got["pairwise_acc"] == pytest.approx(pairwise_accuracy(params, gt))
    own = summary["estimators"]["params"]
    assert own["by_gt"]["ori-test"]["kdt"] == own["kdt"]  # the run's own GT is the first column
    assert own["by_gt"]["x-valid"]["kdt"] != own["kdt"]


def test_a_source_without_a_column_lists_it_as_missing(tmp_path, shared_data):
    source = shared_data / "nb201" / "nb201_accuracy_200ep.csv"
    cfg = load_config(
        None,
        [f"bench.source={source}", f"out_dir={tmp_path}", "name=c", "data.name=cifar100",
         "data.eval_split=x-test", f"bench.cache_dir={tmp_path / 'cache'}", "runtime.device=cpu",
         "runtime.threads=1"],
    )  # fmt: skip
    summary = run_estimate(plan_estimate(cfg, EstimateOptions(["params"], archs="20")))
    assert [c["label"] for c in summary["gt_columns"]] == ["x-test"]  # the CSV holds cifar100 x-test only
    assert set(summary["gt_columns_missing"]) == {"ori-test", "x-valid"}
    assert "cifar100/x-valid" in summary["gt_columns_missing"]["x-valid"]


def test_a_space_without_columns_scores_its_own_gt(tmp_path):
    cfg = load_config(
        None,
        ["space.name=nb201_mini", "data.name=digits", "eval.pool_size=8", "runtime.device=cpu",
         "runtime.threads=1", f"out_dir={tmp_path}", "name=m"],
    )  # fmt: skip
    summary = run_estimate(plan_estimate(cfg, EstimateOptions(["params"])))
    (col,) = summary["gt_columns"]
    assert col["label"] == col["metric"] == summary["gt"]["metric"] and col["n"] == 8
    rec = summary["estimators"]["params"]
    assert rec["by_gt"][col["label"]]["kdt"] == rec["kdt"] or math.isnan(rec["kdt"])
