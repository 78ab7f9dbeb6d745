"""benchmarks/device_check.py on the CPU (--quick): it runs, writes the JSON it prints, its figures are sane.

Also the projection's arithmetic on its own (benchmarks/_projection.py): one run of the
shipped NB201 config, and the NB201 study spec expanded by the sweep planner.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "src" / "wsnas" / "configs"
sys.path.insert(0, str(ROOT / "benchmarks"))

from _projection import packed_hours, run_seconds, study_stages  # noqa: E402

from wsnas.config import load_config  # noqa: E402


def test_protocol_seconds_of_the_shipped_nb201_config():
    cfg = load_config(SHIPPED / "nb201.yaml")
    r = run_seconds(cfg, train_rate=1000.0, eval_rate=2000.0)
    assert r["epochs"] == 400 and r["train_images_per_epoch"] == 195 * 256  # full batches of 50,000
    assert r["evaluations"] == 4  # eval.epochs 100, 200, 300 and the last
    assert r["train_s"] == pytest.approx(400 * 49_920 / 1000.0)
    assert r["eval_s"] == pytest.approx(4 * 200 * 10_000 / 2000.0)
    half = load_config(SHIPPED / "nb201.yaml", ["data.train_portion=0.5", "protocol.epochs=200"])
    h = run_seconds(half, 1000.0, 2000.0)
    assert h["train_images_per_epoch"] == 97 * 256 and h["evaluations"] == 2  # 100 and 200


def test_study_projection_counts_the_nb201_spec_like_the_planner():
    stages = study_stages(SHIPPED / "sweeps" / "nb201.yaml", lambda cfg: float(cfg.protocol.epochs), "first")
    # each stage's new runs, 3 seeds: lr at 400 epochs (4 new values), epochs at lr 0.025 (stage_fix);
    # last: + OFA, cell-level path dropout, landmark and few-shot rows (tests/sweep/test_shipped_counts.py)
    assert [s["runs"] for s in stages] == [6, 3, 12, 6, 3, 57]
    assert sum(s["runs"] for s in stages) == 87
    longest = study_stages(
        SHIPPED / "sweeps" / "nb201.yaml", lambda cfg: float(cfg.protocol.epochs), "longest"
    )
    assert sum(longest[-1]["seconds"]) > sum(stages[-1]["seconds"])  # 400 epochs chosen, not 200
    hours = packed_hours([{"runs": 4, "seconds": [3600.0] * 4}], {1: 100.0, 2: 180.0, 4: 300.0})
    assert hours == {"1": 4.0, "2": pytest.approx(round(4 * 100 / 180, 2)), "4": pytest.approx(1.33)}
    one_long = packed_hours([{"runs": 2, "seconds": [36000.0, 3600.0]}], {1: 100.0, 2: 150.0})
    assert one_long["2"] == pytest.approx(round(10 * 100 / 75, 2))  # the long run shares the GPU: 1/2 of 150


def test_the_cuda_tests_it_runs_exist():
    """The check runs one test file by path; a move of that file must not turn the check red on a GPU."""
    import device_check

    assert (ROOT / device_check.CUDA_TESTS).is_file()


ALGOS = ("darts_v1", "darts_v2", "gdas", "setn", "drnas")


@pytest.mark.slow
def test_quick_cpu_run_writes_sane_json(tmp_path):
    out = tmp_path / "device.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "device_check.py"),
            "--device",
            "cpu",
            "--quick",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = json.loads(proc.stdout)
    assert json.loads(out.read_text()) == printed
    d = printed
    assert d["ok"] is True and d["complete"] and d["broken_sections"] == [] and d["device_type"] == "cpu"
    assert d["quick"]
    assert "synthetic" in d["data"]["throughput_and_packing"]
    assert d["cuda_tests"]["failed"] == 0 and d["cuda_tests"]["skipped"] >= 4  # no CUDA: every test skips
    for space in ("nb201", "nb101", "darts_nds"):
        row = d["throughput"][space]
        assert row["fp32"]["numerics"] == "fp32"
        fp32 = row["fp32"]
        assert fp32["train_images_per_s"]["median"] > 0 and fp32["eval_images_per_s"]["median"] > 0
        assert fp32["peak_memory_mb"] > 0
        assert "skipped" in row["bf16_channels_last"]  # not measured where it cannot act
    n = d["numerics"]
    assert n["compared"] == ["fp32", "fp32"] and "does not act" in n["note"]
    assert n["supernet_acc_abs_diff_max"] == 0.0 and n["train_loss_diff"] == 0.0  # same seed, same run
    assert n["pool_size"] == 10 and 0 <= n["with_amp"]["supernet_acc_mean"] <= 100
    levels = d["packing"]["levels"]
    assert set(levels) == {"1", "2"} and all(v["aggregate_train_images_per_s"] > 0 for v in levels.values())
    assert len(levels["2"]["per_run_train_images_per_s"]) == 2
    sr = d["search"]
    assert set(sr["steps"]["seconds_per_step_median"]) == {"single_path", *(f"wsnas_{a}" for a in ALGOS)}
    assert sr["controllers"]["enas_epoch_at_reference"]["weight_steps"] == 195
    assert (
        sr["table5_nb201_projection"]["runs"] == 24
        and sr["table5_nb201_projection"]["total_hours_one_at_a_time"] > 0
    )
    p = d["projection"]
    proto, first = p["protocol"], p["study"]["choices_first"]
    assert proto["epochs"] == 400 and proto["evaluations"] == 4 and proto["minutes"] > 0
    assert first["runs"] == 87 and set(first["hours_by_runs_per_gpu"]) == {"1", "2"}
    assert "caveat" in p
