"""The config is checked once per command (issue 23): a counter on the check's first step
(`spaces.check.space_of`) sees each config's content at most once, whether a CLI verb, a
trainer, a sweep's planner (which plans again for progress and status) or a sweep worker
would check it; a checked config changed afterwards is checked again."""

from __future__ import annotations

import json
from collections import Counter

import pytest

import wsnas.spaces.check as check_mod
from fake_executor import FakeExecutor
from mini_runs import mini_run
from wsnas.cli.main import main
from wsnas.config import RunConfig, load_config
from wsnas.core.errors import ConfigError
from wsnas.execution import worker as worker_mod
from wsnas.spaces.check import check_config, is_checked
from wsnas.sweep import Sweep, parse_spec
from wsnas.trainers import task as task_mod

MINI = mini_run(pool=12, epochs=1, eval_batch=128, valid_size=None)


@pytest.fixture
def checks(monkeypatch, tmp_path) -> Counter:
    """Counts checks per config content."""
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    seen: Counter = Counter()
    real = check_mod.space_of

    def counting(cfg):
        seen[json.dumps(cfg.to_dict(), sort_keys=True)] += 1
        return real(cfg)

    monkeypatch.setattr(check_mod, "space_of", counting)
    return seen


def test_train_checks_once(tmp_path, checks):
    assert main(["train", *MINI, f"out_dir={tmp_path}", "name=r"]) == 0
    assert sum(checks.values()) == 1


def test_resume_checks_once(tmp_path, checks):
    assert main(["train", *MINI, f"out_dir={tmp_path}", "name=r"]) == 0
    (tmp_path / "r" / "summary.json").unlink()  # cut after its last checkpoint
    checks.clear()
    assert main(["train", "--resume", str(tmp_path / "r")]) == 0
    assert sum(checks.values()) == 1


def test_standalone_checks_once(tmp_path, checks):
    arch = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|"
    argv = ["standalone", "train", "nb201_mini", arch, "data.name=digits", "proxy.channels=4"]
    argv += ["proxy.epochs=1", "runtime.device=cpu", "runtime.threads=1", f"out_dir={tmp_path}", "name=sa"]
    assert main(argv) == 0
    assert sum(checks.values()) == 1


SPEC = {
    "base": {"space": {"name": "nb201"}, "protocol": {"epochs": 3}},
    "overrides": ["eval.pool_size=12"],
    "factors": {"sampler.name": ["random_nas", "fairnas"], "protocol.lr": [0.025, 0.1]},
    "seeds": [0, 1],
}


@pytest.mark.parametrize("mode", ["grid", "sequential", "paper"])
def test_sweep_checks_each_config_once(tmp_path, checks, mode):
    spec = {**SPEC, "mode": mode}
    if mode == "paper":
        spec["factors"] = {**spec["factors"], "mapping.bn_affine": [True, False]}
        spec["sequential"] = ["protocol.lr", "sampler.name"]
    sw = Sweep(parse_spec(spec), None, tmp_path / "sweep", log=lambda m: None)
    sw._executor = FakeExecutor()
    assert sw.run().ok
    sw.status_lines()
    assert checks and max(checks.values()) == 1, [n for n in checks.values() if n > 1]


def test_a_sweep_worker_trusts_the_sweeps_check(tmp_path, checks, monkeypatch):
    cfg = load_config(None, [*MINI, f"out_dir={tmp_path}", "name=w"])
    seen = []

    def fake_train(cfg, resume, standalone):  # what the trainer does first
        seen.append(is_checked(cfg))
        check_config(cfg)
        return {"final": {}}

    monkeypatch.setattr(task_mod, "_train", fake_train)
    task = {
        "kind": "supernet",
        "target": task_mod.TARGET,
        "name": "w",
        "run_dir": str(tmp_path / "w"),
        "config": cfg.to_dict(),
        "threads": 1,
    }
    assert worker_mod.run_task({**task, "checked": True})["status"] == "finished"
    assert worker_mod.run_task(task)["status"] == "finished"
    assert seen == [True, False] and sum(checks.values()) == 1


def test_a_checked_config_changed_afterwards_is_checked_again(checks):
    cfg = check_config(load_config(None, MINI[:2]))
    assert is_checked(cfg) and check_config(cfg) is cfg and sum(checks.values()) == 1
    cfg.sampler.name = "no_such_sampler"  # validate_assignment allows any string here
    assert not is_checked(cfg)
    with pytest.raises(ConfigError, match="sampler.name"):
        check_config(cfg)
    assert not is_checked(RunConfig())
