"""`wsnas estimate --predictor RUN_DIR [--supernet RUN_DIR]`: gradient boosting over the estimators of a
finished estimate run, trained on N GT-labelled archs and scored on the rest only; seeded splits in the
identity; a super-net run's one-shot accuracy as a feature when it scored the same pool and GT; the
report shows it beside the estimators."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from wsnas.cli.main import main
from wsnas.config import dump_config, load_config
from wsnas.core.errors import WsnasError
from wsnas.core.metrics import summarize
from wsnas.estimators import predictor as pred_mod
from wsnas.estimators.plan import EstimateOptions, plan_estimate
from wsnas.estimators.predictor import PREDICTOR_FILE, PredictorOptions, run_predictor
from wsnas.estimators.run import run_estimate

pytest.importorskip("sklearn")

MINI = ["space.name=nb201_mini", "data.name=digits", "eval.pool_size=40", "runtime.device=cpu",
        "runtime.threads=1"]  # fmt: skip


@pytest.fixture(scope="module")
def estimate_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pred")
    cfg = load_config(None, [*MINI, f"out_dir={root}", "name=e"])
    opts = EstimateOptions(["params", "flops", "synflow", "nwot"], batch=8, channels=4, cells=1)
    run_estimate(plan_estimate(cfg, opts))
    return root / "e"


def _scores(run: Path) -> list[dict[str, str]]:
    with open(run / "scores.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_trained_archs_are_never_scored_and_splits_are_seeded(estimate_run, monkeypatch):
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    real_split, real_metrics = pred_mod.split, pred_mod._metrics
    scored: list[np.ndarray] = []

    def split(*a):
        out = real_split(*a)
        seen.append(out)
        return out

    def metrics(scores, f, test, total, plan):
        scored.append(np.array(test))
        return real_metrics(scores, f, test, total, plan)

    monkeypatch.setattr(pred_mod, "split", split)
    monkeypatch.setattr(pred_mod, "_metrics", metrics)
    out = run_predictor(estimate_run, PredictorOptions(ns=(10, 20, 100), repeats=2, seed=3))
    assert [r["n_train"] for r in out["results"]] == [10, 20] and "100" in out["skipped"]
    assert len(seen) == 4
    for train, test in seen:
        assert np.intersect1d(train, test).size == 0 and np.union1d(train, test).size == 40
    train_sets = [set(t.tolist()) for t, _ in seen]
    assert all(set(s.tolist()).isdisjoint(train_sets[(i // 5) % 4]) for i, s in enumerate(scored))
    doc = json.loads((estimate_run / PREDICTOR_FILE).read_text())  # what the file says, by pool position
    r10 = doc["results"][0]
    assert r10["n_test"] == 30 and len(r10["train_positions"]) == 2
    assert [sorted(t.tolist()) for t, _ in seen[:2]] == r10["train_positions"]  # pool order: pos == row
    assert doc["identity"]["split"] == {"seed": 3, "ns": [10, 20, 100], "repeats": 2}
    assert doc["identity"]["features"] == ["params", "flops", "synflow", "nwot"]
    monkeypatch.undo()
    again = run_predictor(estimate_run, PredictorOptions(ns=(10, 20, 100), repeats=2, seed=3))
    same = json.dumps(again["results"][0]["per_repeat"]) == json.dumps(out["results"][0]["per_repeat"])
    assert same  # (as JSON: NaN == NaN)
    assert again["identity"]["hash"] == out["identity"]["hash"]
    other = run_predictor(estimate_run, PredictorOptions(ns=(10, 20, 100), repeats=2, seed=4))
    assert other["identity"]["hash"] != out["identity"]["hash"]
    assert other["results"][0]["train_positions"] != out["results"][0]["train_positions"]


def test_feature_alone_is_its_metric_on_the_held_out_archs(estimate_run):
    out = run_predictor(estimate_run, PredictorOptions(ns=(12,), repeats=3, seed=0))
    rows = _scores(estimate_run)
    r = out["results"][0]
    kdts = []
    for train in r["train_positions"]:
        held = [x for x in rows if int(x["pos"]) not in set(train)]
        s = np.array([float(x["synflow"]) for x in held])
        ok = np.isfinite(s)
        gt = np.array([float(x["gt_acc"]) for x in held])[ok]
        ranks = np.array([int(x["gt_rank"]) for x in held])[ok]
        kdts.append(summarize(s[ok], gt, ranks, 125, k=3)["kdt"])
    assert r["features_alone"]["synflow"]["kdt"]["mean"] == pytest.approx(np.mean(kdts))
    assert r["predictor"]["kdt"]["n"] == 3 and len(r["per_repeat"]) == 3


def _fake_supernet(
    root: Path, name: str, estimate_run: Path, archs: list[str], acc: dict[str, float]
) -> Path:
    cfg = load_config(None, [*MINI, f"name={name}", f"out_dir={root}"])
    run = root / name
    (run / "evals").mkdir(parents=True)
    dump_config(cfg, run / "config.yaml")
    gt = json.loads((estimate_run / "summary.json").read_text())["gt"]
    identity = {
        "version": 1,
        "config": cfg.hash(),
        "gt": gt,
        "numerics": "fp32",
        "world_size": 1,
        "hash": name,
    }
    summary = {"status": "finished", "final": {"kdt": 0.5}, "identity": identity, "timing": {"seconds": 9.0}}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "log.jsonl").write_text(json.dumps({"type": "eval", "epoch": 1, "kdt": 0.5}) + "\n")
    with (run / "evals" / "epoch_0001.csv").open("w") as f:
        w = csv.writer(f)
        w.writerow(["arch", "canonical", "index", "supernet_acc", "gt_acc", "gt_rank"])
        for i, a in enumerate(archs):
            w.writerow([a, a, i, f"{acc[a]:.4f}", "90.0", i])
    return run


def test_supernet_accuracy_is_a_feature_when_it_scored_the_same_pool_and_gt(estimate_run, tmp_path):
    rows = _scores(estimate_run)
    archs = [r["arch"] for r in rows]
    rng = np.random.default_rng(0)
    acc = {r["arch"]: float(r["gt_acc"]) + rng.normal(0, 0.05) for r in rows}  # nearly the GT order
    sn = _fake_supernet(tmp_path, "sn", estimate_run, archs, acc)
    out = run_predictor(estimate_run, PredictorOptions(ns=(20,), repeats=2, supernet=str(sn)))
    assert out["identity"]["features"][-1] == "supernet_acc"
    assert out["identity"]["sources"]["supernet"]["identity"] == "sn"
    r = out["results"][0]
    assert r["features_alone"]["supernet_acc"]["kdt"]["mean"] > 0.8
    short = _fake_supernet(tmp_path, "short", estimate_run, archs[:-3], acc)
    with pytest.raises(WsnasError, match="lacks 3 of the estimate run's 40 architectures"):
        run_predictor(estimate_run, PredictorOptions(ns=(20,), repeats=1, supernet=str(short)))
    other = _fake_supernet(tmp_path, "other", estimate_run, archs, acc)
    doc = json.loads((other / "summary.json").read_text())
    doc["identity"]["gt"]["sha256"] = "0" * 64
    (other / "summary.json").write_text(json.dumps(doc))
    with pytest.raises(WsnasError, match="other ground truth"):
        run_predictor(estimate_run, PredictorOptions(ns=(20,), repeats=1, supernet=str(other)))


def test_features_from_other_runs_of_the_same_pool_join_row_aligned(
    estimate_run, tmp_path, capsys, monkeypatch
):
    """Estimators scored in separate runs (a cheap set first, an expensive one later) over one pool
    train one predictor: the other run's scores join by architecture, its identity is a source, and
    runs of another pool, other ground truth or the same estimators are refused."""
    cfg = load_config(None, [*MINI, f"out_dir={tmp_path}", "name=more"])
    run_estimate(plan_estimate(cfg, EstimateOptions(["grad_norm", "snip"], batch=8, channels=4, cells=1)))
    more = tmp_path / "more"
    rows, theirs = _scores(estimate_run), {r["arch"]: r for r in _scores(more)}
    assert [r["arch"] for r in rows] == list(theirs)  # same seeded pool
    (more / "scores.csv").write_text(  # rows in another order: joined by arch, not by position
        "".join([(more / "scores.csv").read_text().splitlines(keepends=True)[0],
                 *reversed((more / "scores.csv").read_text().splitlines(keepends=True)[1:])])
    )  # fmt: skip
    plan, f = pred_mod.load_features(estimate_run, features_from=(str(more),))
    assert f.names[-2:] == ["grad_norm", "snip"] and f.names[:4] == ["params", "flops", "synflow", "nwot"]
    for i, a in enumerate(f.archs):
        assert f.x[i, -1] == pytest.approx(float(theirs[a]["snip"]))
        assert f.x[i, 0] == pytest.approx(float(rows[i]["params"]))
    alone = run_predictor(estimate_run, PredictorOptions(ns=(20,), repeats=1))
    joined = run_predictor(estimate_run, PredictorOptions(ns=(20,), repeats=1, features_from=(str(more),)))
    assert joined["identity"]["hash"] != alone["identity"]["hash"]
    assert joined["identity"]["sources"]["features_from"][0]["run_dir"] == str(more)
    assert "snip" in joined["results"][0]["features_alone"]
    assert main(["estimate", "--predictor", str(estimate_run), "--features-from", str(more),
                 "--predictor-n", "20", "--predictor-repeats", "1"]) == 0  # fmt: skip
    assert "6 features" in capsys.readouterr().out

    same = tmp_path / "same"
    cfg = load_config(None, [*MINI, f"out_dir={tmp_path}", "name=same"])
    run_estimate(plan_estimate(cfg, EstimateOptions(["params"], batch=8, channels=4, cells=1)))
    with pytest.raises(WsnasError, match="params already come from another run"):
        run_predictor(estimate_run, PredictorOptions(ns=(20,), features_from=(str(same),)))
    cfg = load_config(None, [*MINI, "eval.pool_size=30", f"out_dir={tmp_path}", "name=small"])
    run_estimate(plan_estimate(cfg, EstimateOptions(["grasp"], batch=8, channels=4, cells=1)))
    with pytest.raises(WsnasError, match="scored 30 architectures, not the 40"):
        run_predictor(estimate_run, PredictorOptions(ns=(20,), features_from=(str(tmp_path / "small"),)))
    real_load = pred_mod.load_plan

    def other_gt(path):
        plan = real_load(path)
        if Path(path) == more:
            plan.identity = {**plan.identity, "gt": {**plan.identity["gt"], "sha256": "0" * 64}}
        return plan

    monkeypatch.setattr(pred_mod, "load_plan", other_gt)
    with pytest.raises(WsnasError, match="other ground truth"):
        run_predictor(estimate_run, PredictorOptions(ns=(20,), features_from=(str(more),)))
    assert main(["estimate", "--features-from", str(more), "--estimators", "params"]) != 0
    assert "--features-from go with --predictor" in capsys.readouterr().err


def test_cli_and_report_show_quality_against_n(estimate_run, tmp_path, capsys):
    args = [
        "estimate",
        "--predictor",
        str(estimate_run),
        "--predictor-n",
        "10,30",
        "--predictor-repeats",
        "2",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "predictor.json" in out and "\n   10     30 " in out and "\n   30     10 " in out
    from wsnas.report import write_report

    write_report([str(estimate_run.parent)], str(tmp_path / "report"))
    (table,) = (tmp_path / "report" / "tables").glob("estimators_*.csv")
    with table.open(newline="") as f:
        got = [r for r in csv.DictReader(f) if r["kind"] == "predictor"]
    assert [r["label"].split(" [")[0] for r in got] == ["predictor N=10", "predictor N=30"]
    doc = json.loads((estimate_run / PREDICTOR_FILE).read_text())
    assert float(got[0]["kdt_mean"]) == pytest.approx(doc["results"][0]["predictor"]["kdt"]["mean"])


def test_refusals(estimate_run, tmp_path, monkeypatch):
    with pytest.raises(WsnasError, match="not an estimate run dir"):
        run_predictor(tmp_path)
    cfg = load_config(None, [*MINI, f"out_dir={tmp_path}", "name=cut"])
    run_estimate(plan_estimate(cfg, EstimateOptions(["params"])))
    (tmp_path / "cut" / "summary.json").write_text(json.dumps({"status": "partial"}))
    with pytest.raises(WsnasError, match="has not finished"):
        run_predictor(tmp_path / "cut")
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)
    with pytest.raises(WsnasError, match=r"pip install 'wsnas\[predictor\]'"):
        run_predictor(estimate_run)


def test_features_enter_as_pool_ranks_so_huge_scores_fit_float32():
    """synflow reaches 1e40 on NB201 cells: beyond the float32 scikit-learn's trees use. Ranks keep
    each feature's order (all a tree sees), NaN below every finite value."""
    x = np.array([[1e40, np.nan], [1e41, 1.0], [3e39, 2.0], [np.inf, 2.0]])
    r = pred_mod.impute(x)
    assert np.isfinite(r).all() and r.max() <= 1.0
    assert r[:, 0].tolist() == [0.75, 1.0, 0.5, 0.25]  # inf is no score: below the finite ones
    assert r[:, 1].tolist() == [0.25, 0.5, 0.875, 0.875]
    pred_mod.sklearn_regressor(0).fit(r, [90.0, 91.0, 92.0, 10.0]).predict(r)
