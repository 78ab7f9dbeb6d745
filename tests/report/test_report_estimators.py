"""The report's estimator section: estimate runs next to super-net settings of the same GT and pool only."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from wsnas.config import dump_config, load_config
from wsnas.estimators.plan import EstimateOptions, plan_estimate
from wsnas.estimators.run import run_estimate
from wsnas.report import write_report
from wsnas.report.estimators import pool_sha

pytest.importorskip("sklearn")

MINI = [
    "space.name=nb201_mini",
    "data.name=digits",
    "eval.pool_size=8",
    "runtime.device=cpu",
    "runtime.threads=1",
]


def fake_supernet(root: Path, name: str, archs: list[str], gt: dict, seed: int, skdt: float, lr: str) -> Path:
    """A finished super-net run dir whose last evaluation scored ARCHS against GT."""
    cfg = load_config(None, [*MINI, f"protocol.lr={lr}", f"seed={seed}", f"name={name}", f"out_dir={root}"])
    run = root / name
    (run / "evals").mkdir(parents=True)
    dump_config(cfg, run / "config.yaml")
    final = {
        "supernet_acc_mean": 50.0,
        "kdt": skdt,
        "skdt": skdt,
        "spearman": skdt,
        "final_acc": 98.0,
        "pbr": 0.5,
    }
    identity = {
        "version": 1,
        "config": cfg.hash(),
        "gt": gt,
        "numerics": "fp32",
        "world_size": 1,
        "hash": name,
    }
    summary = {"status": "finished", "final": final, "identity": identity, "timing": {"seconds": 80.0}}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "log.jsonl").write_text(json.dumps({"type": "eval", "epoch": 1, "skdt": skdt}) + "\n")
    with (run / "evals" / "epoch_0001.csv").open("w") as f:
        w = csv.writer(f)
        w.writerow(["arch", "canonical", "index", "supernet_acc", "gt_acc", "gt_rank"])
        for i, a in enumerate(archs):
            w.writerow([a, a, i, f"{50 + i}", "90.0", i])
    return run


def test_estimators_share_a_table_only_with_the_same_gt_and_pool(tmp_path):
    cfg = load_config(None, [*MINI, f"out_dir={tmp_path}", "name=est"])
    plan = plan_estimate(cfg, EstimateOptions(["synflow", "params"], batch=16, channels=4, cells=1))
    summary = run_estimate(plan)
    gt, archs = summary["gt"], plan.pool.arch_strs
    assert summary["archs"]["sha256"] == pool_sha(archs)
    for seed, skdt in ((0, 0.4), (1, 0.6)):
        fake_supernet(tmp_path, f"base-s{seed}", archs, gt, seed, skdt, "0.025")
        fake_supernet(tmp_path, f"lr-s{seed}", archs, gt, seed, 0.1, "0.05")
    fake_supernet(tmp_path, "other-pool-s0", archs[:7], gt, 0, 0.9, "0.1")
    fake_supernet(tmp_path, "other-gt-s0", archs, {**gt, "sha256": "x" * 64}, 0, 0.9, "0.2")
    report = write_report([tmp_path], tmp_path / "report")
    tables = [p for p in report.tables if p.name.startswith("estimators_") and p.suffix == ".csv"]
    assert len(tables) == 1
    with open(tables[0], newline="") as f:
        rows = list(csv.DictReader(f))
    kinds = [r["kind"] for r in rows]
    assert kinds == ["super-net", "super-net", "estimator", "estimator"]
    skdts = sorted(float(r["skdt_mean"]) for r in rows if r["kind"] == "super-net")
    assert skdts == pytest.approx([0.1, 0.5])  # the other pool's and the other GT's 0.9 are not here
    assert all(float(r["seconds_per_arch"]) == pytest.approx(10.0) for r in rows if r["kind"] == "super-net")
    syn = next(r for r in rows if r["label"].startswith("synflow"))
    assert float(syn["skdt_mean"]) == pytest.approx(summary["estimators"]["synflow"]["skdt"])
    assert any(p.name.startswith("fig_estimators_cost_") for p in report.figures)
    assert "Super-nets and estimators" in report.index.read_text()
