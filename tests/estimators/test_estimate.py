"""`wsnas estimate`: config refusals, the run dir (scores.csv, summary.json with the super-net
metrics), the 12-epoch schedule of the official NATS files, resume after a torn line and after
kill -9, SIGINT."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from wsnas.cli.main import main
from wsnas.config import RunConfig, load_config
from wsnas.core.errors import ConfigError
from wsnas.core.metrics import summarize
from wsnas.estimators.plan import EstimateOptions, plan_estimate
from wsnas.estimators.registry import check_estimators
from wsnas.estimators.run import run_estimate
from wsnas.estimators.scores_file import read_scores
from wsnas.spaces import get_space

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
MINI = [
    "space.name=nb201_mini",
    "data.name=digits",
    "eval.pool_size=8",
    "runtime.device=cpu",
    "runtime.threads=1",
]
EST = "synflow,jacob_cov,snip,nwot,vote,params,flops"


def mini_cfg(tmp_path: Path, *extra: str) -> RunConfig:
    return load_config(None, [*MINI, f"out_dir={tmp_path}", *extra])


def opts(est: str = EST, archs: str = "pool", **kw) -> EstimateOptions:
    return EstimateOptions(estimators=est.split(","), archs=archs, batch=16, channels=4, cells=1, **kw)


# ---- refusals at config time ----------------------------------------------------------------------


def test_unknown_and_refused_estimators_are_config_errors():
    nb201, mini = get_space("nb201"), get_space("nb201_mini")
    with pytest.raises(ConfigError, match="unknown estimator 'synflw'.*synflow"):
        check_estimators(["synflw"], nb201)
    with pytest.raises(ConfigError, match="nb201_mini benchmark files hold no shorter schedule"):
        check_estimators(["bench:12"], mini)
    with pytest.raises(ConfigError, match="nb201 benchmark files hold schedules 12"):
        check_estimators(["bench:36"], nb201)
    with pytest.raises(ConfigError, match="name at least one"):
        check_estimators([], nb201)
    assert [e.name for e in check_estimators(["bench:12", "params", "params"], nb201)] == [
        "bench:12",
        "params",
    ]


def test_bench_12_from_a_csv_is_refused_before_anything_is_written(tmp_path, shared_data):
    cfg = load_config(
        None,
        [f"bench.source={shared_data / 'nb201' / 'nb201_accuracy_200ep.csv'}", f"out_dir={tmp_path}"],
    )
    with pytest.raises(ConfigError, match="bench:12.*200-epoch"):
        plan_estimate(cfg, EstimateOptions(["params", "bench:12"]))
    assert not any(tmp_path.iterdir())


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="--archs"):
        plan_estimate(mini_cfg(tmp_path), opts(archs="some"))
    with pytest.raises(ConfigError, match="--batch"):
        plan_estimate(mini_cfg(tmp_path), EstimateOptions(["params"], batch=1))


# ---- the run dir ----------------------------------------------------------------------------------


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "scores.csv", newline="") as f:
        return list(csv.DictReader(f))


def _stable(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rows without the timing columns (wall time is the only thing a rerun changes)."""
    return [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in rows]


def test_run_dir_scores_and_summary_use_the_super_net_metrics(tmp_path):
    plan = plan_estimate(mini_cfg(tmp_path, "name=e"), opts())
    summary = run_estimate(plan)
    run = tmp_path / "e"
    assert {p.name for p in run.iterdir()} >= {
        "estimate.yaml", "estimate.json", "identity.json", "scores.csv", "summary.json", ".wsnas.lock",
    }  # fmt: skip
    assert not (run / "config.yaml").exists()  # never read by the report as a super-net run
    rows = _rows(run)
    assert len(rows) == 8 and summary["status"] == "finished" and summary["archs"]["n"] == 8
    assert [r["arch"] for r in rows] == plan.pool.arch_strs
    gt = np.array([float(r["gt_acc"]) for r in rows])
    ranks = np.array([int(r["gt_rank"]) for r in rows])
    for name in ("synflow", "snip", "params"):
        s = np.array([float(r[name]) for r in rows])
        ok = np.isfinite(s)
        want = summarize(s[ok], gt[ok], ranks[ok], plan.pool.total)
        got = summary["estimators"][name]
        for key in ("kdt", "skdt", "spearman", "final_acc", "pbr"):
            assert got[key] == pytest.approx(want[key], nan_ok=True), (name, key)
        assert got["n_nan"] == int((~ok).sum())
    facts = get_space("nb201_mini").arch_facts_on(plan.pool.archs[0], "digits")
    assert float(rows[0]["params"]) == facts["params_m"]
    assert json.loads((run / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert summary["identity"]["gt"]["sha256"] and summary["identity"]["numerics"] == "fp32"


def test_vote_is_the_majority_of_synflow_jacob_cov_snip(tmp_path):
    plan = plan_estimate(mini_cfg(tmp_path, "name=v", "eval.pool_size=12"), opts("vote"))
    summary = run_estimate(plan)
    rows = _rows(tmp_path / "v")
    assert set(rows[0]) >= {"synflow", "jacob_cov", "snip"}  # the vote's columns are scored
    s = np.array([[float(r[c]) for c in ("synflow", "jacob_cov", "snip")] for r in rows])
    ok = np.isfinite(s).all(1)
    wins = []
    for i in np.flatnonzero(ok):  # plain double loop
        wins.append(sum(1 for j in np.flatnonzero(ok) if sum(s[i, c] > s[j, c] for c in range(3)) >= 2))
    gt = np.array([float(r["gt_acc"]) for r in rows])[ok]
    ranks = np.array([int(r["gt_rank"]) for r in rows])[ok]
    want = summarize(np.array(wins, float), gt, ranks, plan.pool.total)
    assert summary["estimators"]["vote"]["spearman"] == pytest.approx(want["spearman"], nan_ok=True)
    assert summary["estimators"]["vote"]["n_nan"] == int((~ok).sum())


def test_all_none_cell_gets_nan_with_a_reason_in_the_csv(tmp_path):
    plan = plan_estimate(mini_cfg(tmp_path, "name=n", "eval.pool_size=125"), opts("jacob_cov,params"))
    run_estimate(plan)
    rows = {r["arch"]: r for r in _rows(tmp_path / "n")}
    dead = rows["|none~0|+|none~0|none~1|"]
    assert dead["jacob_cov"] == "nan" and "does not depend on the input" in dead["reason"]
    assert float(dead["params"]) > 0


def test_bench_12_reads_the_official_12_epoch_schedule(tmp_path, shared_data):
    """The real NATS-Bench 'simple' sample (cells 0, 11, 284): ori-test@11, mean over the cifar10 seeds."""
    from wsnas.groundtruth.unpickle import load_pbz2

    folder = shared_data / "nb201" / "NATS-tss-v1_0-3ffb9-simple"
    # a GT cache of its own: the 3-cell sample may not replace a complete cached table (issue 28)
    cache = tmp_path / "cache"
    cfg = load_config(
        None,
        [
            f"bench.source={folder}",
            f"bench.cache_dir={cache}",
            f"out_dir={tmp_path}",
            "name=b",
            "runtime.threads=1",
        ],
    )
    with pytest.warns(UserWarning, match="3 of the 15625"):
        plan = plan_estimate(cfg, EstimateOptions(["bench:12", "params"], archs="all"))
    summary = run_estimate(plan)
    rows = _rows(tmp_path / "b")
    assert len(rows) == 3 and summary["estimators"]["bench:12"]["n_nan"] == 0
    for r in rows:
        record = load_pbz2(folder / f"{int(r['index']):06d}.pickle.pbz2")["12"]
        accs = [
            v["eval_acc1es"]["ori-test@11"] for (ds, _), v in record["all_results"].items() if ds == "cifar10"
        ]
        assert float(r["bench:12"]) == pytest.approx(np.mean(accs))


# ---- resume ---------------------------------------------------------------------------------------


def test_resume_cuts_a_torn_line_and_gives_the_same_csv(tmp_path):
    full = run_estimate(plan_estimate(mini_cfg(tmp_path, "name=full"), opts()))
    plan = plan_estimate(mini_cfg(tmp_path, "name=cut"), opts())
    run_estimate(plan)
    scores = tmp_path / "cut" / "scores.csv"
    lines = scores.read_text().splitlines(keepends=True)
    scores.write_text("".join(lines[:4]) + lines[4][:17])  # 3 rows and a torn fourth
    (tmp_path / "cut" / "summary.json").unlink()
    assert len(read_scores(scores, plan.columns)) == 3
    again = run_estimate(plan_estimate(mini_cfg(tmp_path, "name=cut"), opts()))
    assert _stable(_rows(tmp_path / "cut")) == _stable(_rows(tmp_path / "full"))
    assert again["estimators"]["synflow"]["skdt"] == full["estimators"]["synflow"]["skdt"]


def test_other_settings_on_an_existing_run_dir_are_refused(tmp_path):
    run_estimate(plan_estimate(mini_cfg(tmp_path, "name=x"), opts("params")))
    from wsnas.core.errors import WsnasError

    with pytest.raises(WsnasError, match="other settings"):
        run_estimate(plan_estimate(mini_cfg(tmp_path, "name=x"), opts("flops")))


def _cli(tmp_path: Path, name: str, *more: str) -> list[str]:
    return [
        sys.executable, "-m", "wsnas", "estimate", "--estimators", EST, "--archs", "30", "--batch", "16",
        "--channels", "4", "--cells", "1", *MINI, f"out_dir={tmp_path}", f"name={name}", *more,
    ]  # fmt: skip


def _wait_rows(path: Path, n: int, proc: subprocess.Popen, limit: float = 120) -> None:
    t0 = time.time()
    while time.time() - t0 < limit:
        if path.exists() and path.read_text().count("\n") > n:
            return
        if proc.poll() is not None:
            pytest.fail(f"finished before {n} rows: {proc.communicate()}")
        time.sleep(0.05)
    pytest.fail("no rows in time")


@pytest.mark.slow
def test_resume_after_kill_9_gives_the_same_csv(tmp_path):
    subprocess.run(_cli(tmp_path, "ref"), env=ENV, check=True, capture_output=True)
    proc = subprocess.Popen(_cli(tmp_path, "k"), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_rows(tmp_path / "k" / "scores.csv", 5, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    n_cut = len(_rows(tmp_path / "k"))
    assert 5 <= n_cut < 30 and not (tmp_path / "k" / "summary.json").exists()
    done = subprocess.run(_cli(tmp_path, "k"), env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _stable(_rows(tmp_path / "k")) == _stable(_rows(tmp_path / "ref"))
    a = json.loads((tmp_path / "k" / "summary.json").read_text())["estimators"]
    b = json.loads((tmp_path / "ref" / "summary.json").read_text())["estimators"]
    for name in a:
        for key in ("kdt", "skdt", "spearman", "final_acc", "pbr", "n_nan"):
            assert a[name][key] == b[name][key] or (math.isnan(a[name][key]) and math.isnan(b[name][key]))


@pytest.mark.slow
def test_sigint_stops_with_a_resume_hint_and_resume_finishes(tmp_path):
    proc = subprocess.Popen(
        _cli(tmp_path, "s"), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _wait_rows(tmp_path / "s" / "scores.csv", 3, proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, err
    assert "interrupted after" in err and f"wsnas estimate --resume {tmp_path / 's'}" in err
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["status"] == "partial"
    assert main(["estimate", "--resume", str(tmp_path / "s"), "-q", "--json"]) == 0
    assert len(_rows(tmp_path / "s")) == 30
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_two_workers_write_the_same_csv_as_one(tmp_path):
    one = run_estimate(plan_estimate(mini_cfg(tmp_path, "name=one"), opts("synflow,params")))
    two = run_estimate(plan_estimate(mini_cfg(tmp_path, "name=two"), opts("synflow,params")), workers=2)
    assert _stable(_rows(tmp_path / "two")) == _stable(_rows(tmp_path / "one"))
    assert two["estimators"]["synflow"]["skdt"] == one["estimators"]["synflow"]["skdt"]


def test_status_reports_the_rows_so_far_without_writing(tmp_path, capsys):
    plan = plan_estimate(mini_cfg(tmp_path, "name=st"), opts("params,flops"))
    run_estimate(plan)
    scores = tmp_path / "st" / "scores.csv"
    lines = scores.read_text().splitlines(keepends=True)
    scores.write_text("".join(lines[:5]))  # 4 of 8 rows: a run in progress
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "st").iterdir()}
    assert main(["estimate", "--status", str(tmp_path / "st"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "partial" and set(out["estimators"]) == {"params", "flops"}
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "st").iterdir()} == before


@pytest.mark.slow
def test_ray_executor_writes_the_same_csv(tmp_path):
    pytest.importorskip("ray")
    from wsnas.execution.executors import RayExecutor

    run_estimate(plan_estimate(mini_cfg(tmp_path, "name=one"), opts("synflow,params")))
    ex = RayExecutor(workers=2)
    run_estimate(plan_estimate(mini_cfg(tmp_path, "name=ray"), opts("synflow,params")), executor=ex)
    assert _stable(_rows(tmp_path / "ray")) == _stable(_rows(tmp_path / "one"))


def test_nb101_shorter_schedules_from_a_full_tfrecord(tmp_path, monkeypatch):
    """bench:4/12/36 on a small file in nasbench_full's structure: the mean final test accuracy of the
    three repeats at that budget (a cell without 4-epoch records is NaN with a reason)."""
    # a cache of its own: its 3-cell 108-epoch table must not meet a bigger one another test imported
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    import base64

    from nb101_records import C1, C3, eval_bytes, frame, metrics_bytes
    from wsnas.spaces.nb101.graph import CellSpec, spec_hash

    cells = [
        ([[0, 1], [0, 0]], ["input", "output"]),
        ([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", C3, "output"]),
    ]
    cells.append(([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", C1, "output"]))

    def acc(c: int, rep: int, epochs: int) -> float:
        return 0.6 + 0.01 * c + 0.002 * rep + epochs / 1000

    datas = []
    for e in (4, 12, 36, 108):
        for c, (m, ops) in enumerate(cells):
            if (c, e) == (2, 4):
                continue
            for rep in range(3):
                raw = metrics_bytes(
                    [eval_bytes(float(e), 1.0, 0.9, acc(c, rep, e), acc(c, rep, e))], 1000, 1.0
                )
                flat = "".join(str(x) for row in m for x in row)
                h = spec_hash(CellSpec.of(m, ops))
                datas.append(json.dumps([h, e, flat, ",".join(ops), base64.b64encode(raw).decode()]).encode())
    src = tmp_path / "nasbench_full.tfrecord"
    src.write_bytes(b"".join(frame(d) for d in datas))
    cfg = load_config(
        None,
        [
            "space.name=nb101",
            "mapping.ops_on=nodes",
            f"bench.source={src}",
            f"out_dir={tmp_path}",
            "name=n",
            "runtime.threads=1",
        ],
    )
    plan = plan_estimate(cfg, EstimateOptions(["bench:4", "bench:12", "bench:36"], archs="all"))
    summary = run_estimate(plan)
    rows = _rows(tmp_path / "n")
    assert len(rows) == 3
    for r in rows:
        c = next(i for i, (m, ops) in enumerate(cells) if float(r["gt_acc"]) == pytest.approx(
            100 * np.mean([acc(i, k, 108) for k in range(3)])))  # fmt: skip
        for e in (4, 12, 36):
            if (c, e) == (2, 4):
                assert r[f"bench:{e}"] == "nan" and "not in the 4-epoch table" in r["reason"]
            else:
                assert float(r[f"bench:{e}"]) == pytest.approx(
                    100 * np.mean([acc(c, k, e) for k in range(3)])
                )
    assert summary["estimators"]["bench:4"]["n_nan"] == 1


# ---- where shards run: processes, Ray, GPUs shared as for sweeps ------------------------------------


def test_gpu_placement_follows_the_sweeps(tmp_path, monkeypatch):
    from wsnas.core.errors import WsnasError
    from wsnas.estimators.shards import estimate_executor
    from wsnas.execution import executors
    from wsnas.execution.placement import GpuRequest

    plan = plan_estimate(mini_cfg(tmp_path, "runtime.device=auto"), opts("params"))
    assert estimate_executor(plan) is None and estimate_executor(plan, workers=1) is None  # this process
    assert estimate_executor(plan, workers=2).workers == 2
    with pytest.raises(WsnasError, match="shows no GPU"):
        estimate_executor(plan, gpus=GpuRequest(gpus=1))
    monkeypatch.setattr(executors, "cuda_device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    ex = estimate_executor(plan, gpus=GpuRequest(gpus=2, runs_per_gpu=2))
    assert ex.gpu_slots == ["0", "1", "0", "1"] and ex.workers == 4 and ex.threads == 1
    with pytest.raises(WsnasError, match="contradicts --gpus 2"):
        estimate_executor(plan, workers=3, gpus=GpuRequest(gpus=2, runs_per_gpu=2))
    with pytest.raises(WsnasError, match="--gpus-per-run is for --executor ray"):
        estimate_executor(plan, gpus=GpuRequest(gpus_per_run=0.25))
    on_cpu = plan_estimate(mini_cfg(tmp_path), opts("params"))  # runtime.device=cpu
    with pytest.raises(WsnasError, match="runtime.device='cpu' with GPU placement"):
        estimate_executor(on_cpu, gpus=GpuRequest(gpus=1))


def test_cli_refuses_gpus_where_there_are_none(tmp_path, capsys):
    args = ["estimate", "--estimators", "params", *MINI, "runtime.device=auto", f"out_dir={tmp_path}"]
    assert main([*args, "--gpus", "1"]) != 0
    assert "shows no GPU" in capsys.readouterr().err
    assert main([*args, "--runs-per-gpu", "2"]) != 0
    assert "--runs-per-gpu 2 needs --gpus N" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_scores_of_other_numerics_never_join_a_run_dir(tmp_path):
    """A CPU run resumed (or a shard scored) where the device gives other numerics is refused."""
    from wsnas.core.errors import WsnasError
    from wsnas.estimators.shards import score_shard

    run_estimate(plan_estimate(mini_cfg(tmp_path, "name=n"), opts("params")))
    ident = tmp_path / "n" / "identity.json"
    doc = json.loads(ident.read_text())
    ident.write_text(json.dumps({**doc, "numerics": "tf32"}))  # as if scored on a GPU
    with pytest.raises(WsnasError, match=r"other numerics \(device\): tf32 there, fp32 here"):
        run_estimate(plan_estimate(mini_cfg(tmp_path, "name=n"), opts("params")))
    with pytest.raises(WsnasError, match="other numerics"):
        score_shard(str(tmp_path / "n"), [0])
