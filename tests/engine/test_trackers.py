"""W&B and MLflow logging (`logging.wandb`, `logging.mlflow`), offline: what the tracker holds is log.jsonl.

W&B runs in offline mode (its records read back from the run's .wandb file), MLflow on a local
file store; both in tmp. Each test skips with the reason when its extra is not installed.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from wsnas.config import load_config
from wsnas.core.errors import ConfigError
from wsnas.engine.trackers import TRACKERS_FILE, metrics_of
from wsnas.trainers.supernet_trainer import Trainer, train

pytest.importorskip("sklearn")

MINI = [
    "space.name=nb201_mini",
    "data.name=digits",
    "lowfi.channels=4",
    "lowfi.cells_per_stage=1",
    "protocol.batch_size=64",
    "protocol.epochs=3",
    "eval.pool_size=8",
    "eval.batch_size=128",
    "eval.epochs=[1,2]",
    "runtime.device=cpu",
    "runtime.threads=1",
    "runtime.progress=false",
]


def need(module: str, extra: str):
    return pytest.importorskip(module, reason=f"optional extra not installed: pip install 'wsnas[{extra}]'")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """W&B offline with its files in tmp; MLflow on a file store in tmp; the GT cache in tmp."""
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 wants the opt-in for a file store
    (tmp_path / "wandb").mkdir()
    return f"file://{tmp_path / 'mlruns'}"


def log_records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


def same_curves(a: dict[str, list[tuple[int, float]]], b: dict[str, list[tuple[int, float]]]) -> bool:
    """Equal curves, a NaN (a ranking metric undefined on a small pool) equal to a NaN."""

    def norm(c: dict[str, list[tuple[int, float]]]) -> dict[str, list[tuple[int, object]]]:
        return {
            k: [(int(e), "nan" if math.isnan(float(v)) else float(v)) for e, v in vs] for k, vs in c.items()
        }

    return norm(a) == norm(b)


def expected(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every curve of log.jsonl as the trackers should hold it: key -> [(epoch, value)]."""
    out: dict[str, list[tuple[int, float]]] = {}
    for rec in log_records(run_dir):
        for k, v in metrics_of(rec).items():
            out.setdefault(k, []).append((int(rec["epoch"]), v))
    return out


# ---- W&B's offline files ---------------------------------------------------------------------
def wandb_records(path: Path) -> list:
    """The protobuf records of a .wandb file (W&B's LevelDB-style log: a 7-byte file header,
    32 KiB blocks of chunks, each with a 7-byte header: crc32, length, type FULL/FIRST/MIDDLE/LAST)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    block, pos, out, parts = 32768, 7, [], b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # the block's tail is padding
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 0 and length == 0:
            continue
        parts = chunk if kind in (1, 2) else parts + chunk
        if kind in (1, 4):
            rec = pb.Record()
            rec.ParseFromString(parts)
            out.append(rec)
    return out


def wandb_run(wandb_dir: Path, run_id: str) -> tuple[dict[str, list[tuple[int, float]]], dict, int]:
    """History curves (key -> [(epoch, value)]), config (with the run's group as `_group`) and
    number of run files of W&B run RUN_ID."""
    files = sorted(wandb_dir.glob(f"wandb/offline-run-*-{run_id}/run-{run_id}.wandb"))
    curves: dict[str, list[tuple[int, float]]] = {}
    config: dict = {}
    for f in files:
        for rec in wandb_records(f):
            kind = rec.WhichOneof("record_type")
            if kind == "history":
                row = {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in rec.history.item}
                for k, v in row.items():
                    if k.startswith(("train/", "eval/")):
                        curves.setdefault(k, []).append((int(row["epoch"]), v))
            elif kind in ("run", "config"):
                if kind == "run":
                    config["_group"] = rec.run.run_group
                items = rec.run.config.update if kind == "run" else rec.config.update
                for i in items:
                    config[i.key or "/".join(i.nested_key)] = json.loads(i.value_json)
    return curves, config, len(files)


def mlflow_run(uri: str, run_id: str) -> tuple[dict[str, list[tuple[int, float]]], object]:
    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=uri)
    run = c.get_run(run_id)
    curves = {k: [(m.step, m.value) for m in c.get_metric_history(run_id, k)] for k in run.data.metrics}
    return {k: sorted(v) for k, v in curves.items()}, run


# ---- tests -----------------------------------------------------------------------------------
def test_missing_client_is_a_clear_error_before_anything_is_written(monkeypatch, tmp_path):
    for tracker in ("wandb", "mlflow"):
        monkeypatch.setitem(sys.modules, tracker, None)
        cfg = load_config(None, [*MINI, f"logging.{tracker}=true", f"out_dir={tmp_path}"])
        with pytest.raises(ConfigError, match=rf"pip install 'wsnas\[{tracker}\]'"):
            train(cfg)
    assert not any(tmp_path.iterdir())


def test_logging_fields_leave_the_config_hash_alone():
    base = load_config(None, MINI)
    logged = load_config(None, [*MINI, "logging.wandb=true", "logging.mlflow=true", "logging.project=x"])
    assert logged.hash() == base.hash()


@pytest.mark.slow
def test_wandb_and_mlflow_hold_log_jsonl_and_a_resume_continues_the_same_runs(tmp_path, offline, monkeypatch):
    need("wandb", "wandb")
    need("mlflow", "mlflow")
    overrides = [
        *MINI,
        "logging.wandb=true",
        "logging.mlflow=true",
        "logging.project=wsnas-test",
        f"logging.mlflow_tracking_uri={offline}",
        f"out_dir={tmp_path / 'runs'}",
        "name=r",
    ]
    cfg = load_config(None, overrides)
    calls = {"n": 0}
    original = Trainer.train_epoch

    def crash_on_third(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(Trainer, "train_epoch", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    run_dir = tmp_path / "runs" / "r"
    first = json.loads((run_dir / TRACKERS_FILE).read_text())
    monkeypatch.setattr(Trainer, "train_epoch", original)
    summary = train(cfg, resume_dir=str(run_dir))
    ids = json.loads((run_dir / TRACKERS_FILE).read_text())
    assert ids == first  # the resume continued the same tracker runs
    want = expected(run_dir)
    assert [e for e, _ in want["train/train_loss"]] == [1, 2, 3]
    assert [e for e, _ in want["eval/skdt"]] == [1, 2, 3]
    assert {"eval/skdt", "eval/kdt", "eval/supernet_acc_mean", "eval/pbr", "eval/final_acc"} <= set(want)

    curves, config, n_files = wandb_run(tmp_path / "wandb", ids["wandb"]["id"])
    assert n_files == 2  # one W&B run, opened twice (started, resumed)
    assert same_curves(curves, want)
    assert config["wsnas"]["run_dir"] == str(run_dir.resolve())
    assert config["wsnas"]["identity"] == summary["identity"]
    assert config["protocol"]["epochs"] == 3 and config["space"]["name"] == "nb201_mini"

    curves, run = mlflow_run(offline, ids["mlflow"]["run_id"])
    assert same_curves(curves, want)
    assert run.info.status == "FINISHED"
    ident = summary["identity"]
    assert run.data.tags["wsnas.run_dir"] == str(run_dir.resolve())
    assert run.data.tags["wsnas.gt_sha256"] == ident["gt"]["sha256"]
    assert run.data.tags["wsnas.numerics"] == ident["numerics"]
    assert run.data.tags["wsnas.world_size"] == str(ident["world_size"])
    assert json.loads(run.data.tags["wsnas.identity"]) == ident
    assert run.data.params["protocol.epochs"] == "3" and run.data.params["space.name"] == "nb201_mini"
    assert "wsnas.sweep" not in run.data.tags
    assert wandb_run(tmp_path / "wandb", ids["wandb"]["id"])[1]["_group"] == ""


@pytest.mark.slow
def test_runs_of_a_sweep_are_grouped_by_its_sweep_dir(tmp_path, offline):
    need("mlflow", "mlflow")
    need("wandb", "wandb")
    from mlflow.tracking import MlflowClient

    from wsnas.sweep import Sweep, parse_spec

    spec = parse_spec(
        {
            "overrides": [
                *[o for o in MINI if not o.startswith(("protocol.epochs", "eval.epochs"))],
                "protocol.epochs=1",
                "eval.epochs=[]",
                "logging.mlflow=true",
                "logging.wandb=true",
                f"logging.mlflow_tracking_uri={offline}",
            ],
            "factors": {"protocol.lr": [0.1, 0.05]},
            "executor": {"name": "local", "workers": 1, "threads": 1},
        }
    )
    out = tmp_path / "study"
    result = Sweep(spec, None, out, log=lambda _: None).run()
    assert result.ok, result.status
    c = MlflowClient(tracking_uri=offline)
    exp = c.get_experiment_by_name("wsnas")
    runs = c.search_runs([exp.experiment_id], filter_string=f"tags.`wsnas.sweep` = '{out.resolve()}'")
    assert sorted(r.data.tags["wsnas.run_dir"] for r in runs) == sorted(
        str(r.run_dir.resolve()) for r in result.runs
    )
    for r in result.runs:
        wid = json.loads((r.run_dir / TRACKERS_FILE).read_text())["wandb"]["id"]
        _, config, _ = wandb_run(tmp_path / "wandb", wid)
        assert config["wsnas"]["sweep_dir"] == str(out.resolve()) and config["_group"] == "study"
