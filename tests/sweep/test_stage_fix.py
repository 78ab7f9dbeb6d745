"""`stage_fix`: keys a validated factor's stage holds while it runs (and only then).

The paper's Fig. 5 compares learning rates at 400 epochs and the authors' epoch study fixes the
learning rate at 0.025; the shipped NB201 spec follows both (tests/sweep/test_shipped_counts.py).
"""

from __future__ import annotations

import json

import pytest

from fake_executor import FakeExecutor
from wsnas.config import load_config
from wsnas.core.errors import ConfigError
from wsnas.sweep import Planner, Sweep, parse_spec

SPEC = {
    "base": {"space": {"name": "nb201"}, "protocol": {"epochs": 3, "lr": 0.025}},
    "overrides": ["eval.pool_size=12"],
    "start": {"protocol.lr": 0.2, "protocol.epochs": 2},
    "factors": {
        "protocol.lr": [0.2, 0.1, 0.025],
        "protocol.epochs": [2, 4],
        "sampler.name": ["random_nas", "fairnas"],
    },
    "mode": "paper",
    "sequential": ["protocol.lr", "protocol.epochs"],
    "stage_fix": {"protocol.lr": {"protocol.epochs": 4}, "protocol.epochs": {"protocol.lr": 0.025}},
    "seeds": [0, 1],
}


def accuracy(cfg: dict) -> float:
    """lr 0.1 best; 2 epochs better than 4 only at lr 0.025 (so a leak of the held lr shows)."""
    acc = 90.0 + {0.2: 0.0, 0.1: 1.0, 0.025: 0.5}[cfg["protocol"]["lr"]]
    if cfg["protocol"]["lr"] == 0.025:
        acc += 0.2 if cfg["protocol"]["epochs"] == 2 else 0.0
    else:
        acc += 0.2 if cfg["protocol"]["epochs"] == 4 else 0.0
    return acc + 0.01 * cfg["seed"]


def test_stage_runs_hold_the_keys_then_release_them(tmp_path):
    ex = FakeExecutor(accuracy)
    sw = Sweep(parse_spec(SPEC), None, tmp_path / "s")
    sw._executor = ex
    result = sw.run()
    # lr stage at 4 epochs: 0.1 wins; epochs stage at lr 0.025: 2 wins; the tuned result keeps lr 0.1
    assert result.ok and result.chosen == {"protocol.lr": 0.1, "protocol.epochs": 2}
    seq = json.loads((tmp_path / "s" / "sequential.json").read_text())
    runs = tmp_path / "s" / "runs"
    lr_stage, ep_stage = seq["stages"]
    assert {load_config(runs / n / "config.yaml").protocol.epochs for n in lr_stage["runs"]} == {4}
    assert {load_config(runs / n / "config.yaml").protocol.lr for n in ep_stage["runs"]} == {0.025}
    paper = json.loads((tmp_path / "s" / "paper.json").read_text())
    tuned = load_config(runs / paper["tuned_runs"][0] / "config.yaml")
    assert (tuned.protocol.lr, tuned.protocol.epochs) == (0.1, 2)
    # the starting point (lr 0.2, 2 epochs) is trained as itself, apart from the lr stage's 0.2 row
    start = load_config(runs / paper["starting_point_runs"][0] / "config.yaml")
    assert (start.protocol.lr, start.protocol.epochs) == (0.2, 2)
    assert "protocol.epochs=4" in lr_stage["runs"][0]  # the held key is in the run's label
    # lr 3 values x 2 seeds, epochs 2 x 2 (4 epochs at lr 0.025 ran in the lr stage: reused),
    # tuned (0.1, 2), start, fairnas around the tuned result
    assert len(ex.calls) == 6 + 2 + 2 + 2 + 2


def test_planner_stage_applies_only_its_own_fix(tmp_path):
    planner = Planner(parse_spec(SPEC), None, tmp_path)
    ep = planner.stage("protocol.epochs", {"protocol.lr": 0.1})
    assert {(r.cfg.protocol.lr, r.cfg.protocol.epochs) for r in ep} == {(0.025, 2), (0.025, 4)}
    nofix = parse_spec({**SPEC, "stage_fix": {}})
    ep2 = Planner(nofix, None, tmp_path).stage("protocol.epochs", {"protocol.lr": 0.1})
    assert {r.cfg.protocol.lr for r in ep2} == {0.1}


@pytest.mark.parametrize(
    "change, match",
    [
        ({"stage_fix": {"sampler.name": {"protocol.epochs": 4}}}, "not a validated factor"),
        ({"stage_fix": {"protocol.lr": {"protocol.lr": 0.1}}}, "cannot hold its own factor"),
        ({"stage_fix": {"protocol.lr": {"seed": 3}}}, "set by the sweep itself"),
        ({"stage_fix": {"protocol.lr": {}}}, "give the keys"),
        ({"mode": "one-at-a-time", "sequential": None, "start": {}}, "'stage_fix' is for modes"),
    ],
)
def test_bad_stage_fix_is_a_spec_error(change, match):
    with pytest.raises(ConfigError, match=match):
        parse_spec({**SPEC, **change})


def test_a_held_value_that_makes_a_bad_config_fails_at_plan_time(tmp_path):
    spec = parse_spec({**SPEC, "stage_fix": {"protocol.lr": {"protocol.epochs": 0}}})
    with pytest.raises(ConfigError, match="protocol.epochs"):
        Planner(spec, None, tmp_path)
