"""The paper's protocol (`mode: paper`) and a sweep's progress and --status.

Fast tests use a fake executor (a known final accuracy per config, as in
tests/sweep/test_sweep.py); the slow one trains a tiny paper-mode study on the shipped mini
benchmark and checks from the run dirs that no one-at-a-time winner leaks into another
one-at-a-time run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from fake_executor import FakeExecutor
from wsnas.cli.main import main
from wsnas.config import load_config
from wsnas.core.errors import ConfigError
from wsnas.execution.executors import Executor
from wsnas.report import write_report
from wsnas.report.runs import flatten
from wsnas.sweep import Planner, Sweep, parse_spec

ROOT = Path(__file__).resolve().parents[2]

PAPER = {
    "base": {"space": {"name": "nb201"}, "protocol": {"epochs": 3, "lr": 0.025}},
    "overrides": ["eval.pool_size=12"],
    "start": {"protocol.lr": 0.2},
    "factors": {
        "protocol.lr": [0.2, 0.1, 0.025],
        "mapping.bn_affine": [True, False],
        "sampler.name": ["random_nas", "fairnas"],
        "protocol.batch_size": [256, 64],
        "mapping.wsbn": [False, {"mapping.wsbn": True, "mapping.ops_on": "nodes"}],
    },
    "mode": "paper",
    "sequential": ["protocol.lr", "mapping.bn_affine"],
    "seeds": [0, 1],
}


def fake_accuracy(cfg: dict) -> float:
    """lr 0.1 best, affine off best, batch 64 and fairnas would win their rows."""
    acc = 90.0 + {0.2: 0.0, 0.1: 1.0, 0.025: 0.5}[cfg["protocol"]["lr"]]
    acc += 0.3 if not cfg["mapping"]["bn_affine"] else 0.0
    acc += 2.0 if cfg["protocol"]["batch_size"] == 64 else 0.0
    acc += 2.0 if cfg["sampler"]["name"] == "fairnas" else 0.0
    return acc + 0.01 * cfg["seed"]


def fake_executor() -> FakeExecutor:
    return FakeExecutor(fake_accuracy, seconds=60.0)


def make_sweep(out: Path, executor: Executor | None = None, log=lambda m: None, **changes) -> Sweep:
    sw = Sweep(parse_spec({**PAPER, **changes}), None, out, log=log)
    if executor is not None:
        sw._executor = executor
    return sw


def leaks(runs_dir: Path, tuned: dict, rows: list[dict]) -> list[str]:
    """One-at-a-time runs that differ from the tuned baseline in anything but their row's keys."""
    out = []
    for row in rows:
        for name in row["runs"]:
            cfg = flatten(load_config(runs_dir / name / "config.yaml").to_dict())
            ref = flatten(load_config(runs_dir / tuned[cfg["seed"]] / "config.yaml").to_dict())
            diff = {k for k in cfg if cfg[k] != ref[k] and k not in ("name", "seed")}
            if diff != {k for k in row["sets"] if ref[k] != row["sets"][k]}:
                out.append(f"{name}: {sorted(diff)}")
    return out


def test_paper_mode_tunes_sequentially_then_varies_one_at_a_time(tmp_path):
    ex = fake_executor()
    lines: list[str] = []
    result = make_sweep(tmp_path / "s", ex, log=lines.append).run()
    assert result.ok and result.chosen == {"protocol.lr": 0.1, "mapping.bn_affine": False}
    # stage lr 3 x 2, stage affine 1 new x 2, then batch 64, fairnas, WSBN (ops on nodes) x 2
    assert len(ex.calls) == 6 + 2 + 6
    seq = json.loads((tmp_path / "s" / "sequential.json").read_text())
    lr = seq["stages"][0]
    assert [s["value"] for s in lr["scores"]] == [0.2, 0.1, 0.025] and lr["chosen"] == 0.1
    assert all(s["n"] == 2 and s["std"] is not None and s["mean"] is not None for s in lr["scores"])
    paper = json.loads((tmp_path / "s" / "paper.json").read_text())
    assert paper["tuned"] == result.chosen
    runs = tmp_path / "s" / "runs"
    tuned = {load_config(runs / n / "config.yaml").seed: n for n in paper["tuned_runs"]}
    assert not leaks(runs, tuned, paper["rows"])
    wsbn = next(r for r in paper["rows"] if r["factor"] == "mapping.wsbn" and r["value"] is not False)
    cfg = load_config(runs / wsbn["runs"][0] / "config.yaml")
    assert cfg.mapping.wsbn and cfg.mapping.ops_on == "nodes" and cfg.protocol.lr == 0.1
    # batch 64 and fairnas "won" their rows; neither leaks into the other
    fair = next(r for r in paper["rows"] if r["value"] == "fairnas")
    assert load_config(runs / fair["runs"][0] / "config.yaml").protocol.batch_size == 256
    # progress: one line per finished run, no carriage returns, stage and ETA shown
    done = [x for x in lines if x.startswith("[")]
    assert len(done) == len(ex.calls) and not any("\r" in x for x in lines)
    assert "stage 1/2 protocol.lr" in done[0] and "ETA" in done[0]
    assert done[-1].endswith(
        "14 done, 0 running, 0 failed, 14 total | stage one at a time (around the tuned baseline) | ETA 0s"
    )


@pytest.mark.slow
def test_paper_report_has_two_baselines_and_the_compound_row(tmp_path):
    make_sweep(tmp_path / "s", fake_executor()).run()
    for p in (tmp_path / "s" / "runs").glob("*/summary.json"):  # the report wants the full final set
        d = json.loads(p.read_text())
        d["final"].update(supernet_acc_mean=50.0, kdt=0.1, skdt=0.1, spearman=0.1, pbr=0.5)
        p.write_text(json.dumps(d))
    rep = write_report([tmp_path / "s"], tmp_path / "r")
    factors = (rep.out / "tables" / "table_factors.md").read_text()
    assert "| protocol.lr | 0.2 (starting point) |" in factors
    assert "| protocol.batch_size | 256 (tuned baseline) |" in factors
    assert "| mapping.wsbn | true (+ mapping.ops_on=nodes) |" in factors
    assert "| mapping.wsbn | false (tuned baseline) |" in factors
    final = (rep.out / "tables" / "table_final.md").read_text().splitlines()
    rows = [x for x in final if x.startswith("| ") and "Setting" not in x]
    assert rows[0].startswith("| Random NAS (ours): tuned baseline [")  # + its runs' label
    assert "| 91.31 ± 0.01 (n=2)" in rows[0]
    assert rows[1].startswith("| starting point (stand-alone hyper-parameters) [base] |")


def test_paper_plan_checks_one_at_a_time_values_against_every_stage_value(tmp_path):
    # WSBN needs ops on nodes; a stage may choose ops on edges: refused now, not hours later
    bad = {
        **PAPER,
        "base": {**PAPER["base"], "mapping": {"ops_on": "nodes"}},
        "factors": {"mapping.ops_on": ["nodes", "edges"], "mapping.wsbn": [False, True]},
        "sequential": ["mapping.ops_on"],
        "start": {},
    }
    with pytest.raises(ConfigError, match="mapping.wsbn"):
        Planner(parse_spec(bad), None, tmp_path)


def test_status_on_a_partly_finished_sweep(tmp_path, capsys):
    make_sweep(tmp_path / "s", fake_executor()).run()
    runs = sorted((tmp_path / "s" / "runs").iterdir())
    one_at_a_time = json.loads((tmp_path / "s" / "paper.json").read_text())["rows"]
    missing = {n for r in one_at_a_time if r["value"] == "fairnas" for n in r["runs"]}
    for r in runs:
        if r.name in missing:
            shutil.rmtree(r)
    cut = next(r for r in runs if r.name not in missing)
    (cut / "summary.json").unlink()
    (cut / "checkpoint.pt").write_bytes(b"")
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(PAPER, sort_keys=False))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "s"), "--status"]) == 0
    out = capsys.readouterr().out
    assert (
        "runs: 11 done (11 finished, 0 diverged), 1 running or cut (a checkpoint, no summary), "
        "0 failed, 2 not started, 14 total"
    ) in out
    assert "stage: one at a time (around the tuned baseline)" in out
    assert "chosen: protocol.lr=0.1, mapping.bn_affine=false" in out
    assert "ETA 3m00s at 1 worker(s) (mean 1m00s per finished run)" in out
    assert not (tmp_path / "s" / "runs" / sorted(missing)[0]).exists()  # nothing ran


def test_status_of_a_fresh_sweep_estimates_the_later_stages(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(PAPER, sort_keys=False))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "s"), "--status"]) == 0
    out = capsys.readouterr().out
    assert "0 not started, 14 total (estimated" not in out
    assert "14 not started, 14 total (estimated: later stages are not planned yet)" in out
    assert "stage: 1/2 protocol.lr" in out and "ETA ?" in out


@pytest.mark.slow
def test_mini_paper_study_trains_and_nothing_leaks(tmp_path):
    spec = yaml.safe_load((ROOT / "src" / "wsnas" / "configs" / "sweeps" / "mini-paper.yaml").read_text())
    spec["base"] = str(ROOT / "src" / "wsnas" / "presets" / "demo.yaml")
    spec["overrides"] = {**spec["overrides"], "protocol.epochs": 1, "eval.pool_size": 10}
    spec["factors"] = {
        k: v
        for k, v in spec["factors"].items()
        if k
        in (
            "mapping.bn_track_running_stats",
            "protocol.lr",
            "data.train_portion",
            "sampler.name",
            "mapping.dropout_path",
        )
    }
    f = tmp_path / "mini.yaml"
    f.write_text(yaml.safe_dump(spec))
    out = tmp_path / "s"
    assert main(["sweep", str(f), "--out", str(out), "--workers", "2"]) == 0
    paper = json.loads((out / "paper.json").read_text())
    runs = out / "runs"
    tuned = {load_config(runs / n / "config.yaml").seed: n for n in paper["tuned_runs"]}
    assert len(tuned) == 2 and not leaks(runs, tuned, paper["rows"])
    assert {r["factor"] for r in paper["rows"]} == {
        "data.train_portion",
        "sampler.name",
        "mapping.dropout_path",
    }
    rep = write_report([out], tmp_path / "r")
    table = (rep.out / "tables" / "table_factors.md").read_text()
    assert "(tuned baseline)" in table and "(starting point)" in table
    assert "| mapping.dropout_path | 0.2 (+ mapping.dropout_global=0.2) |" in table
