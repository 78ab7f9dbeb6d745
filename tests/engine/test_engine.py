"""The training engine under both trainers: hook calls and their order, one distributed.init, divergence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wsnas.config import StandaloneConfig, load_config
from wsnas.engine import distributed
from wsnas.engine.loop import Diverged, EpochTrainer, HookBase
from wsnas.engine.rundir import RunDir
from wsnas.trainers.standalone_trainer import StandaloneTrainer, run_dir_for, train_standalone
from wsnas.trainers.supernet_trainer import Trainer, train

pytest.importorskip("sklearn")

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|"


def supernet_cfg(tmp_path: Path, *extra: str):
    return load_config(
        None,
        [
            "space.name=nb201_mini",
            "data.name=digits",
            "runtime.device=cpu",
            "runtime.threads=1",
            "runtime.progress=false",
            "lowfi.channels=4",
            "lowfi.cells_per_stage=1",
            "eval.pool_size=10",
            "protocol.epochs=2",
            f"bench.cache_dir={tmp_path / 'cache'}",
            f"out_dir={tmp_path / 'runs'}",
            *extra,
        ],
    )


def standalone_cfg(tmp_path: Path, *extra: str) -> StandaloneConfig:
    cfg = load_config(
        None,
        [
            "space.name=nb201_mini",
            "data.name=digits",
            "runtime.device=cpu",
            "runtime.threads=1",
            "runtime.progress=false",
            "proxy.channels=4",
            "proxy.epochs=2",
            f"out_dir={tmp_path}",
            *extra,
        ],
        model=StandaloneConfig,
    )
    return cfg.model_copy(update={"arch": ARCH})


class Recorder(HookBase):
    """Records each call; at a record, also what the run dir holds then."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.records: list[dict[str, Any]] = []

    def before_train(self, trainer: EpochTrainer) -> None:
        self.calls.append(("before_train", trainer.epoch))

    def after_epoch(self, trainer: EpochTrainer, record: dict[str, Any]) -> None:
        self._record("after_epoch", trainer, record)

    def after_eval(self, trainer: EpochTrainer, record: dict[str, Any]) -> None:
        self._record("after_eval", trainer, record)

    def after_train(self, trainer: EpochTrainer) -> None:
        self.calls.append(("after_train", trainer.epoch, trainer.run.summary.exists()))

    def _record(self, name: str, trainer: EpochTrainer, record: dict[str, Any]) -> None:
        logged = [json.loads(s) for s in trainer.run.log.read_text().splitlines()]
        # in log.jsonl before the hook sees it (as JSON text: a metric undefined on a tiny pool is NaN)
        assert json.dumps(logged[-1], sort_keys=True) == json.dumps(record, sort_keys=True)
        assert trainer.run.load_checkpoint()["epoch"] == record["epoch"]  # and checkpointed
        self.calls.append((name, record["epoch"]))
        self.records.append(record)


def _log(run: RunDir) -> list[dict[str, Any]]:
    return [json.loads(s) for s in run.log.read_text().splitlines()]


def test_supernet_hook_order_and_records(tmp_path):
    cfg = supernet_cfg(tmp_path, "eval.epochs=[1]", "runtime.progress=true")
    run = RunDir.for_config(cfg)
    run.create(cfg)
    trainer = Trainer(cfg, run)
    hook = Recorder()
    trainer.register_hooks([hook])
    summary = trainer.fit()
    assert hook.calls == [
        ("before_train", 0),
        ("after_epoch", 1),
        ("after_eval", 1),
        ("after_epoch", 2),
        ("after_eval", 2),
        ("after_train", 2, True),
    ]
    assert json.dumps(hook.records, sort_keys=True) == json.dumps(_log(run), sort_keys=True)  # NaN-safe
    assert summary["status"] == "finished" and summary["final"]["epoch"] == 2


def test_standalone_hook_order_and_resume(tmp_path):
    cfg = standalone_cfg(tmp_path)
    run = run_dir_for(cfg)
    trainer = StandaloneTrainer(cfg, run)
    run.create(cfg)
    hook = Recorder()
    trainer.register_hooks([hook])
    trainer.fit()
    assert [c[:2] for c in hook.calls] == [
        ("before_train", 0),
        ("after_epoch", 1),
        ("after_epoch", 2),
        ("after_eval", 2),
        ("after_train", 2),
    ]
    assert json.dumps(hook.records, sort_keys=True) == json.dumps(_log(run), sort_keys=True)  # NaN-safe
    # A finished run resumed: no epoch left, so no record; the summary is written again.
    again = StandaloneTrainer(cfg, run)
    again.resume()
    hook = Recorder()
    again.register_hooks([hook])
    again.fit()
    assert hook.calls == [("before_train", 2), ("after_train", 2, True)]


def test_distributed_init_once_per_run(tmp_path, monkeypatch):
    calls = []
    real = distributed.init

    def counting(device):
        calls.append(device)
        return real(device)

    monkeypatch.setattr(distributed, "init", counting)
    cfg = supernet_cfg(tmp_path, "protocol.epochs=1", "name=once")
    train(cfg)
    assert len(calls) == 1
    train(cfg, resume_dir=str(tmp_path / "runs" / "once"))
    assert len(calls) == 2
    train_standalone(standalone_cfg(tmp_path, "proxy.epochs=1"))  # one process: no process group
    assert len(calls) == 2


@pytest.mark.parametrize("kind", ["supernet", "standalone"])
def test_divergence_writes_the_diverged_status(tmp_path, kind):
    if kind == "supernet":
        cfg = supernet_cfg(tmp_path, "protocol.lr=1e30", "protocol.grad_clip=0", "name=div")
        run = RunDir.for_config(cfg)
        run.create(cfg)
        trainer: EpochTrainer = Trainer(cfg, run)
        match = r"^run diverged at epoch 1 step \d+ \(non-finite loss\)"
    else:
        cfg = standalone_cfg(tmp_path, "proxy.lr=1e30")
        run = run_dir_for(cfg)
        trainer = StandaloneTrainer(cfg, run)
        run.create(cfg)
        match = r"^stand-alone run diverged at epoch 1 \(non-finite loss\)"
    hook = Recorder()
    trainer.register_hooks([hook])
    with pytest.raises(Diverged, match=match) as e:
        trainer.fit()
    summary = json.loads(run.summary.read_text())
    assert summary["status"] == "diverged" and summary["message"] == str(e.value)
    assert summary["epoch"] == 1 and summary["config_hash"] == cfg.hash()
    assert ("step" in summary) == (kind == "supernet")
    assert hook.calls == [("before_train", 0), ("after_train", 0, True)]  # after_train despite the error
    assert not run.checkpoint.exists() and not run.log.exists()
