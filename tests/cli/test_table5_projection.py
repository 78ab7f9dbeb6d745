"""benchmarks/table5_projection.py: the Table 5 study's hours from step times, arithmetic by hand.

Step times are made up (round numbers); what is checked is that every run of the shipped spec is
costed once, each term as the script's docstring says (weight steps, controller phases, evaluations),
and that search_controllers.py's epoch shares follow from its medians.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import search_controllers  # noqa: E402
import table5_projection  # noqa: E402

from wsnas.config import load_config  # noqa: E402

STEPS = {
    "device": "cpu-test",
    "threads": 1,
    "batch_size": 64,
    "seconds_per_step_median": {"single_path": 1.0, "wsnas_darts_v2": 30.0, "wsnas_gdas": 4.0},
}
CTRL = {
    "batch_size": 64,
    "seconds_median": {
        "enas_weight_step": 1.5,
        "nao_weight_step": 1.2,
        "eval_forward": 0.25,
        "enas_controller_step": 8.0,
        "nao_controller_epoch": 2.0,
    },
    "nao_epoch_at_reference": {"pool": 600},
}


def cfg(*overrides: str):
    return load_config(None, ["space.name=nb201", "data.valid_size=25000", *overrides])


def test_a_tuned_random_nas_run_is_steps_times_epochs_plus_its_evaluations():
    c = cfg(
        "protocol.epochs=400", "protocol.batch_size=256", "eval.epochs=[100,200,300]", "eval.pool_size=200"
    )
    r = table5_projection.run_seconds(c, STEPS, CTRL)
    assert r["train_s"] == pytest.approx(400 * (25_000 // 256) * 1.0 * 256 / 64)
    assert r["controller_s"] == 0.0
    assert r["eval_s"] == pytest.approx(4 * 200 * (10_000 // 64 + 1) * 0.25)  # 100, 200, 300 and the last


def test_enas_adds_its_controller_steps_per_epoch_and_nao_its_rounds():
    e = table5_projection.run_seconds(
        cfg("algorithm.name=enas", "protocol.epochs=10", "protocol.batch_size=128"), STEPS, CTRL
    )
    assert e["train_s"] == pytest.approx(10 * (25_000 // 128) * 1.5 * 2)
    assert e["controller_s"] == pytest.approx(10 * 50 * 8.0 * 20 / 20 * 2)  # 50 steps of 20 samples
    n = table5_projection.run_seconds(
        cfg("algorithm.name=nao", "protocol.epochs=10", "protocol.batch_size=64"), STEPS, CTRL
    )
    assert n["controller_s"] == pytest.approx(4 * (600 * 0.25 + 1000 * 2.0))  # 4 rounds: pool scoring + fits


def test_the_shipped_nb201_spec_costs_all_24_runs(tmp_path):
    steps, ctrl = tmp_path / "s.json", tmp_path / "c.json"
    steps.write_text(json.dumps(STEPS))
    ctrl.write_text(json.dumps(CTRL))
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "table5_projection.py"), "--steps", str(steps),
         "--controllers", str(ctrl)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    res = json.loads(out.stdout)
    assert res["runs"] == 24 and len(res["rows"]) == 8
    assert all(r["runs"] == 3 for r in res["rows"].values())
    darts = res["rows"]["algorithm.name=darts_v2"]
    assert darts["train_h"] == pytest.approx(3 * 400 * (25_000 // 256) * 30.0 * 4 / 3600, abs=0.01)
    total = sum(r["train_h"] + r["controller_h"] + r["eval_h"] for r in res["rows"].values())
    assert res["total_hours_one_at_a_time"] == pytest.approx(total, abs=0.1)


def test_controller_shares_follow_from_the_medians():
    med = {
        "single_path_step": 1.0, "enas_weight_step": 1.0, "nao_weight_step": 1.0, "eval_forward": 0.5,
        "enas_controller_step": 10.0, "nao_controller_epoch": 1.0, "enas_sample_one": 0.01,
        "enas_update_only": 0.1,
    }  # fmt: skip
    args = argparse.Namespace(batch_size=128, channels=16, cells=5, threads=1, repeats=1)
    s = search_controllers.summary(
        args, __import__("torch").device("cpu"), med, {k: [v] for k, v in med.items()}, 600
    )
    enas = s["enas_epoch_at_reference"]
    assert enas["weight_steps"] == 195 and enas["weights_s"] == pytest.approx(195.0)
    assert enas["controller_s"] == pytest.approx(500.0) and enas["controller_share"] == pytest.approx(
        500 / 695, abs=1e-3
    )
    nao = s["nao_epoch_at_reference"]
    assert nao["round_s"] == pytest.approx(600 * 0.5 + 1000 * 1.0)
    assert nao["controller_s_per_epoch_amortised"] == pytest.approx(1300 * 4 / 200)
    assert s["controller_share_of_a_step"]["enas_weight_step_sampling"] == pytest.approx(0.01)
