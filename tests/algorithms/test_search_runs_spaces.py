"""DARTS, GDAS, SETN and DrNAS on DARTS-NDS and NB101: a run trains, records what the algorithm found
at its evaluation (a cell in the space, its share of parameter-free ops, the pool ranked by the
learnt distribution), `wsnas search --algo learnt` starts from it, and a run killed with SIGKILL
mid-epoch resumes to exactly the numbers and architecture parameters of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from space_runs import darts_nds_gt, nb101_gt, space_run

from wsnas.cli.main import main
from wsnas.config import load_config
from wsnas.search.run import run_search
from wsnas.spaces import get_space
from wsnas.trainers.supernet_trainer import train

pytestmark = pytest.mark.filterwarnings("ignore:bench.allow_metric_mismatch")

SMALL = {"setn": ["algorithm.select_num=4"]}


@pytest.fixture(scope="module")
def gts(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gt")
    return {"darts_nds": darts_nds_gt(folder), "nb101": nb101_gt(folder)}


@pytest.mark.parametrize("space", ["darts_nds", "nb101"])
@pytest.mark.parametrize("name", ["darts_v1", "darts_v2", "gdas", "setn", "drnas"])
def test_each_algorithm_trains_on_the_space_and_reports_what_it_found(tmp_path, gts, space, name):
    args = [*space_run(space, gts[space], tmp_path), "protocol.epochs=1", f"algorithm.name={name}"]
    summary = train(load_config(None, [*args, *SMALL.get(name, [])]))
    algo, sp = summary["algorithm"], get_space(space)
    last = algo["trajectory"][-1]
    arch = sp.parse(last["derived_arch"])  # a cell of the space (parse validates)
    assert sp.canonical(arch) and algo["final_searched_arch"] == last["derived_arch"]
    assert 0.0 <= last["derived_param_free_share"] <= 1.0
    final = summary["final"]
    for key in ("kdt", "skdt", "dist_kdt", "dist_skdt", "dist_spearman", "dist_pbr"):
        assert key in final, key
    sizes = sp.relaxation().sizes
    probs = final["arch_probabilities"]
    assert [len(row) for row in probs] == list(sizes) and all(abs(sum(row) - 1) < 1e-9 for row in probs)
    state = torch.load(Path(summary["run_dir"]) / "checkpoint.pt", weights_only=False)["algorithm"]
    assert tuple(state["alphas"].shape) == (len(sizes), max(sizes))
    log = [json.loads(line) for line in (Path(summary["run_dir"]) / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["arch_loss"]) for r in log if r["type"] == "epoch")  # architecture steps ran


@pytest.mark.parametrize("space", ["darts_nds"])  # nb101's search moves enumerate its cells: minutes
def test_search_starts_from_the_learnt_distribution(tmp_path, gts, space):
    run = train(
        load_config(
            None, [*space_run(space, gts[space], tmp_path), "protocol.epochs=1", "algorithm.name=gdas"]
        )
    )
    result = run_search(run["run_dir"], "learnt", budget=4, seed=1)
    assert (result.path / "trajectory.csv").read_text().count("\n") >= 4


@pytest.mark.slow  # two short runs and a kill
@pytest.mark.parametrize(("space", "name"), [("darts_nds", "gdas"), ("nb101", "darts_v2")])
def test_kill_during_search_then_resume_equals_uninterrupted(tmp_path, gts, space, name):
    args = [
        *space_run(space, gts[space], tmp_path),
        "protocol.epochs=2",
        "eval.epochs=[1,2]",
        "data.train_portion=0.3",
        f"algorithm.name={name}",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsnas", "train", *args, "name=killed"],
        env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    run = tmp_path / "runs" / "killed"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        log = run / "log.jsonl"
        if log.exists() and sum(1 for _ in log.open()) >= 2:  # epoch 1 and its eval: now in epoch 2
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    time.sleep(0.5)  # into epoch 2's steps
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "summary.json").exists(), "the run must have been killed mid-way"
    assert main(["train", "--resume", str(run), "runtime.threads=1"]) == 0
    straight = train(load_config(None, [*args, "name=straight"]))
    killed = json.loads((run / "summary.json").read_text())
    same = lambda a, b: json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # noqa: E731 - NaN == NaN
    assert same(killed["final"], straight["final"])  # architecture probabilities included
    assert same(killed["algorithm"]["trajectory"], straight["algorithm"]["trajectory"])
