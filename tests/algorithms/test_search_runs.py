"""A run with a search algorithm is a normal run dir: it trains, records what the algorithm found at
every evaluation, and a run killed with SIGKILL mid-epoch resumes to exactly the numbers and
architecture parameters of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mini_runs import mini_run
from wsnas.cli.main import main
from wsnas.config import load_config
from wsnas.trainers.supernet_trainer import train

MINI = mini_run()


SMALL = {
    "enas": ["algorithm.controller_steps=3", "algorithm.controller_aggregate=4"],
    "nao": ["algorithm.seed_archs=12", "algorithm.new_archs=4", "algorithm.controller_epochs=3"],
}
"""The controller-based algorithms' phases cut to a few steps (their defaults take minutes on a CPU)."""


@pytest.mark.parametrize("name", ["darts_v1", "darts_v2", "gdas", "setn", "drnas", "enas", "nao"])
def test_each_algorithm_trains_and_reports_what_it_found(tmp_path, name):
    args = [*MINI, "protocol.epochs=2", "eval.epochs=[1]", f"algorithm.name={name}", *SMALL.get(name, [])]
    summary = train(load_config(None, [*args, f"out_dir={tmp_path}"]))
    algo = summary["algorithm"]
    assert algo["name"] == name and algo["reference"] and "arch_lr" in algo["settings"]
    assert [t["epoch"] for t in algo["trajectory"]] == [1, 2]
    last = algo["trajectory"][-1]
    assert algo["final_searched_arch"] == last["derived_arch"] and 0 <= algo["final_searched_gt_rank"] < 125
    assert 0.0 <= last["derived_param_free_share"] <= 1.0
    final = summary["final"]
    for key in ("kdt", "skdt", "dist_kdt", "dist_skdt", "dist_spearman", "dist_pbr"):
        assert key in final, key
    log = [json.loads(line) for line in (Path(summary["run_dir"]) / "log.jsonl").read_text().splitlines()]
    epochs = [r for r in log if r["type"] == "epoch"]
    # NAO's last round only scores its pool: no controller loss in the last epoch
    assert all(r["arch_loss"] is not None for r in (epochs[:1] if name == "nao" else epochs))
    if name == "gdas":
        assert epochs[0]["tau"] == 10.0 and epochs[1]["tau"] == pytest.approx(0.1)
    probs = final["arch_probabilities"]
    assert len(probs) == 3 and all(abs(sum(row) - 1) < 1e-9 for row in probs)


@pytest.mark.slow  # two short runs and a kill
@pytest.mark.parametrize("name", ["darts_v2", "gdas"])
def test_kill_during_search_then_resume_equals_uninterrupted(tmp_path, name):
    args = [*MINI, "protocol.epochs=3", "eval.epochs=[1,2]", f"algorithm.name={name}", f"out_dir={tmp_path}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsnas", "train", *args, "name=killed"],
        env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    run = tmp_path / "killed"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        log = run / "log.jsonl"
        if log.exists() and sum(1 for _ in log.open()) >= 2:  # epoch 1 and its eval: now in epoch 2's steps
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    time.sleep(0.3)  # well into epoch 2 (architecture and weight steps alternate every batch)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "summary.json").exists(), "the run must have been killed mid-way"
    assert main(["train", "--resume", str(run), "runtime.threads=1"]) == 0
    straight = train(load_config(None, [*args, "name=straight"]))
    killed = json.loads((run / "summary.json").read_text())
    same = lambda a, b: json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # noqa: E731 - NaN == NaN
    assert same(killed["final"], straight["final"])  # architecture probabilities included
    assert same(killed["algorithm"]["trajectory"], straight["algorithm"]["trajectory"])
