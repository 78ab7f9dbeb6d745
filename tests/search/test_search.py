"""`wsnas search` end to end on the mini benchmark: GT recorded correctly, resume after kill -9, refusals."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wsnas.cli.main import main
from wsnas.config import load_config
from wsnas.core.dirlock import DirLock
from wsnas.core.errors import ConfigError, WsnasError
from wsnas.groundtruth import open_benchmark
from wsnas.presets.demo import preset_path
from wsnas.report import write_report
from wsnas.report.search import regret_curve
from wsnas.search import run_search
from wsnas.search.algorithms import SearchOptions
from wsnas.search.oracle import Row
from wsnas.spaces import get_space
from wsnas.spaces.check import check_config
from wsnas.trainers.supernet_trainer import train

pytest.importorskip("sklearn")

TINY = [
    "protocol.epochs=1",
    "eval.epochs=[]",
    "lowfi.channels=4",
    "eval.pool_size=12",
    "runtime.device=cpu",
    "runtime.threads=1",
    "runtime.progress=false",
]
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _train(out, name, *extra):
    cfg = check_config(load_config(preset_path(), [*TINY, *extra, f"out_dir={out}", f"name={name}"]), "test")
    return Path(train(cfg)["run_dir"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("search")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WSNAS_CACHE", str(out / "cache"))  # the shipped table, not a user cache
        yield {"held": _train(out, "held", "data.valid_size=100"), "all": _train(out, "all"), "out": out}


def _rows(path):
    with open(path / "trajectory.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("algo", ["random", "evolution", "local", "nb201-rea", "naszilla-ls"])
def test_every_algorithm_records_the_ground_truth(runs, algo, tmp_path, monkeypatch):
    monkeypatch.setenv("WSNAS_CACHE", str(runs["out"] / "cache"))
    run = tmp_path / "run"
    shutil.copytree(runs["held"], run)
    opts = SearchOptions(population=10, sample_size=3) if algo == "evolution" else None
    res = run_search(run, algo, 60, seed=1, opts=opts, overrides=["runtime.threads=1"])
    s, rows = res.summary, _rows(res.path)
    space = get_space("nb201_mini")
    bench = open_benchmark(space)
    assert s["evals"] == 60 == int(rows[-1]["evals"]) and s["stopped"] == "budget spent"
    assert len({r["arch"] for r in rows}) == len(rows)
    for r in rows:
        assert float(r["gt_acc"]) == bench.acc_of(r["arch"]) and int(r["gt_rank"]) == bench.rank(r["arch"])
        assert r["canonical"] == space.canonical(space.parse(r["arch"]))
    found = s["found"]
    tied = [r for r in rows if float(r["fitness"]) == max(float(x["fitness"]) for x in rows)]
    assert found["tied_archs"] == [r["arch"] for r in tied]
    assert found["gt_acc"] == pytest.approx(sum(bench.acc_of(r["arch"]) for r in tied) / len(tied))
    assert found["regret"] == pytest.approx(float(bench.acc.max()) - found["gt_acc"])
    assert [c["evals"] for c in s["regret_after"]] == [10, 20, 50, 60]
    assert s["fitness"]["split"] == "valid" and s["fitness"]["valid_images"] == 100
    assert s["fitness"]["valid_held_out_from_training"] is True and s["fitness"]["gt_disjoint_from_valid"]
    assert not s["moves"]["restricted_to_benchmark"] and s["algo"] == algo
    assert s["algorithm"]["name"] == algo and s["algorithm"]["defaults"] and s["algorithm"]["follows"]
    assert res.path.name == (f"{algo}-p10-k3-s1-b60" if algo == "evolution" else f"{algo}-s1-b60")
    again = run_search(run, algo, 60, seed=1, opts=opts, overrides=["runtime.threads=1"])  # replayed
    assert again.resumed_rows == len(rows) and _rows(again.path) == rows


def test_random_search_is_the_seeded_benchmark_order(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("WSNAS_CACHE", str(runs["out"] / "cache"))
    run = tmp_path / "run"
    shutil.copytree(runs["held"], run)
    rows = _rows(run_search(run, "random", 10, seed=4).path)
    bench = open_benchmark(get_space("nb201_mini"))
    order = [str(bench.arch[i]) for i in np.random.default_rng(4).permutation(bench.size)]
    assert [r["arch"] for r in rows] == order[: len(rows)]


def test_a_run_without_held_out_images_needs_valid_size(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("WSNAS_CACHE", str(runs["out"] / "cache"))
    run = tmp_path / "run"
    shutil.copytree(runs["all"], run)
    with pytest.raises(ConfigError, match=r"data.valid_size=0.*give data.valid_size=N"):
        run_search(run, "random", 5)
    res = run_search(run, "random", 5, overrides=["data.valid_size=50"])
    assert res.summary["fitness"]["valid_held_out_from_training"] is False
    assert "trained on these images" in res.summary["fitness"]["split_rule"]
    held = tmp_path / "held"
    shutil.copytree(runs["held"], held)
    with pytest.raises(ConfigError, match="held out 100"):
        run_search(held, "random", 5, overrides=["data.valid_size=50"])
    with pytest.raises(ConfigError, match="change the super-net"):
        run_search(held, "random", 5, overrides=["protocol.lr=0.1"])
    run_search(held, "random", 5)
    with pytest.raises(WsnasError, match="other settings.*eval_batch_size"):
        run_search(held, "random", 5, overrides=["eval.batch_size=32"])
    (held / "search" / "random-s0-b5" / "search.json").unlink()
    with pytest.raises(WsnasError, match="no search.json"):
        run_search(held, "random", 5)
    with pytest.raises(WsnasError, match="is not a run dir"):
        run_search(tmp_path, "random", 5)
    with pytest.raises(ConfigError, match="known algorithms"):
        run_search(held, "anneal", 5)
    with pytest.raises(ConfigError, match="options of evolution"):
        run_search(held, "local", 5, opts=SearchOptions(population=3))


def test_cli_says_which_split(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WSNAS_CACHE", str(runs["out"] / "cache"))
    run = tmp_path / "run"
    shutil.copytree(runs["held"], run)
    assert main(["search", str(run), "--algo", "local", "--budget", "12", "--seed", "2", "--json"]) == 0
    out, err = capsys.readouterr()
    line = json.loads(out)
    assert line["fitness_split"] == "valid (100 images, seed 0)" and line["evals"] == 12
    assert "100 validation images (held out of super-net training" in err and "not the test split" in err
    assert isinstance(line["found_gt_rank"], int) or "." in str(line["found_gt_rank"])  # a mean only if tied
    # without --json: the human table (found arch, GT rank from 1, regret and P>R per checkpoint, files)
    assert main(["search", str(run), "--algo", "local", "--budget", "12", "--seed", "2"]) == 0
    text = capsys.readouterr().out.splitlines()
    summary = json.loads((run / "search" / "local-s2-b12" / "summary.json").read_text())
    found = summary["found"]
    assert text[0].startswith("NB201-mini (nb201_mini) | local search, seed 2, 12/12 evaluations")
    assert text[2].startswith(
        f"found: {found['arch']}  super-net {found['fitness']:.2f}  GT {found['gt_acc']:.2f}"
    )
    if isinstance(found["gt_rank"], int):
        size = summary["benchmark_best"]["size"]
        assert f"(GT rank {found['gt_rank'] + 1:,} of {size:,} (1 = best))" in text[2]
    head = text.index(next(t for t in text if t.lstrip().startswith("evals")))
    assert [r.split()[0] for r in text[head + 1 : head + 3]] == ["10", "12"]  # checkpoints of the budget
    assert (
        text[-1]
        == f"files: {run / 'search/local-s2-b12/summary.json'}, {run / 'search/local-s2-b12/trajectory.csv'}"
    )


def test_a_run_still_training_is_searched_at_its_checkpoint_and_says_so(runs, tmp_path, monkeypatch, capsys):
    """Issue 35: a search of a live run searched the checkpoint of that moment without saying so."""
    monkeypatch.setenv("WSNAS_CACHE", str(runs["out"] / "cache"))
    run = tmp_path / "run"
    shutil.copytree(runs["held"], run)
    (run / "summary.json").unlink()  # mid-training: a checkpoint, no summary yet
    argv = ["search", str(run), "--algo", "random", "--budget", "5", "--json"]
    with DirLock(run, "run dir"):  # what the trainer holds while it writes the run dir
        assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"is still training (pid {os.getpid()}): this search uses its checkpoint of epoch 1 of 1" in err
    assert "training goes on" in err
    summary = json.loads((run / "search" / "random-s0-b5" / "summary.json").read_text())
    assert summary["run_still_training"] is True and summary["fitness"]["checkpoint_epoch"] == 1
    assert main(argv) == 0  # the trainer is gone: no note
    assert "still training" not in capsys.readouterr().err


KILLER = """
import os, signal, sys
import wsnas.search.run as run
write = run.write_trajectory
def write_then_die(path, rows):
    write(path, rows)
    if len(rows) >= int(os.environ["KILL_AFTER"]):
        os.kill(os.getpid(), signal.SIGKILL)
run.write_trajectory = write_then_die
from wsnas.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["evolution", "local"])
def test_resume_after_kill_gives_the_same_trajectory(runs, algo, tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    shutil.copytree(runs["held"], whole)
    shutil.copytree(runs["held"], cut)
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "WSNAS_CACHE": str(runs["out"] / "cache"),
        "KILL_AFTER": "25",
        "OMP_NUM_THREADS": "1",
    }
    args = ["--algo", algo, "--budget", "40", "--seed", "3", "runtime.threads=1", "--json"]
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, "search", str(cut), *args], env=env, capture_output=True, text=True
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    name = f"{algo}-s3-b40"
    assert len(_rows(cut / "search" / name)) == 25 and not (cut / "search" / name / "summary.json").exists()
    env.pop("KILL_AFTER")
    cli = [sys.executable, "-m", "wsnas", "search"]
    done = subprocess.run([*cli, str(cut), *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["resumed_rows"] == 25
    ref = subprocess.run([*cli, str(whole), *args], env=env, capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr

    def same(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert same(_rows(cut / "search" / name)) == same(_rows(whole / "search" / name))
    cut_s = json.loads((cut / "search" / name / "summary.json").read_text())
    whole_s = json.loads((whole / "search" / name / "summary.json").read_text())
    assert cut_s["found"] == whole_s["found"] and cut_s["regret_after"] == whole_s["regret_after"]


@pytest.mark.slow
def test_report_shows_search_curves_and_table(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WSNAS_CACHE", str(runs["out"] / "cache"))

    run = tmp_path / "run"
    shutil.copytree(runs["held"], run)
    for seed in (0, 1):
        for algo in ("random", "local"):
            run_search(run, algo, 15, seed=seed)
    cut = run / "search" / "local-s9-b15"
    cut.mkdir()
    shutil.copy(run / "search" / "local-s0-b15" / "trajectory.csv", cut)  # as a killed search leaves it
    rep = write_report([run], tmp_path / "report")
    assert f"skipped search {cut} (no summary.json" in capsys.readouterr().err
    with open(tmp_path / "report" / "tables" / "search.csv", newline="") as f:
        table = {r["algo"]: r for r in csv.DictReader(f)}
    assert set(table) == {"random", "local"}
    assert all(r["n"] == "2" and r["budget"] == "15" for r in table.values())
    summaries = [
        json.loads((run / "search" / f"random-s{s}-b15" / "summary.json").read_text()) for s in (0, 1)
    ]
    regrets = [s["found"]["regret"] for s in summaries]
    assert float(table["random"]["regret_mean"]) == pytest.approx(sum(regrets) / 2)
    summary = json.loads((run / "summary.json").read_text())
    assert float(table["random"]["final_acc_mean"]) == pytest.approx(summary["final"]["final_acc"])
    assert (tmp_path / "report" / "figures" / "search_regret_nb201_mini.png").is_file()
    assert any(p.name == "search_regret_nb201_mini.png" for p in rep.figures)
    assert "search_regret_nb201_mini.png" in (tmp_path / "report" / "index.html").read_text()


def test_regret_curve_by_hand():
    rows = [
        Row("a", "a", 5.0, 1, None, 70.0, 2),
        Row("b", "b", 5.0, 1, 0, 80.0, 1),
        Row("c", "c", 4.0, 2, None, 90.0, 0),
        Row("d", "d", 6.0, 3, None, 60.0, 3),
    ]
    assert regret_curve(rows, 90.0).tolist() == [15.0, 15.0, 30.0]  # a and b tie: their mean, 75
