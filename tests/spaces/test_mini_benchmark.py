"""The shipped nb201_mini ground truth: complete, self-consistent, reproducible by retraining."""

import csv
import json

import numpy as np
import pytest

from cpu_goldens import count_of
from wsnas.cli.main import main
from wsnas.config import StandaloneConfig, validate
from wsnas.groundtruth import open_benchmark
from wsnas.groundtruth.table import Benchmark
from wsnas.spaces import get_space
from wsnas.spaces.mini.benchmark import METRIC, RUNS, SCHEDULE, TABLE
from wsnas.trainers.standalone_trainer import train_standalone

pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def table():
    return Benchmark.load(TABLE)


@pytest.fixture(scope="module")
def runs():
    with RUNS.open() as f:
        return list(csv.DictReader(f))


def test_table_covers_every_cell(table):
    space = get_space("nb201_mini")
    assert (table.space, table.metric, table.schedule) == ("nb201_mini", METRIC, SCHEDULE)
    assert table.size == space.num_archs == 125
    assert set(table.arch.tolist()) == {space.format(a) for a in space.all_archs()}
    assert len(table.ids()) == space.num_unique == 60
    assert all(table.canonical[i] == space.canonical(str(table.arch[i])) for i in range(table.size))
    assert np.isfinite(table.params).all() and np.isfinite(table.flops).all()
    assert 5.0 < table.acc.min() < 15.0 and 95.0 < table.acc.max() <= 100.0  # zero cells .. the best


def test_metadata_records_how_it_was_made(table):
    meta = table.meta
    assert meta["command"].startswith("wsnas bench build") and "mini-build.yaml" in meta["command"]
    assert meta["seeds"] == [0, 1, 2] and meta["wall_seconds"] > 0 and meta["built"]
    assert meta["config"]["data"]["name"] == "digits" and meta["config"]["proxy"]["epochs"] == 40


def test_per_seed_results_average_to_the_table(table, runs):
    assert len(runs) == 3 * table.size
    by_arch: dict[str, list[float]] = {}
    for r in runs:
        by_arch.setdefault(r["arch"], []).append(float(r["eval_acc"]))
    for arch, accs in by_arch.items():
        assert len(accs) == 3
        assert table.acc_of(arch) == pytest.approx(np.mean(accs), abs=1e-3)


def test_loader_serves_the_shipped_table(tmp_path, capsys):
    assert main(["bench", "info", "nb201_mini", "--cache-dir", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["size"] == 125 and info["unique"] == 60 and info["source_status"] == "valid"
    bench = open_benchmark(get_space("nb201_mini"), cache_dir=tmp_path)
    assert bench.size == 125 and bench.metric == METRIC
    assert bench.meta["source"] == str(TABLE)


@pytest.mark.parametrize("row", [31, 93])  # all-skip, all-conv3x3
@pytest.mark.slow  # 40 stand-alone epochs
def test_retraining_cells_lands_within_the_seed_spread(tmp_path, table, runs, row, cpu_golden):
    """Retrain one cell with the build's own config and seed 0: its accuracy lies within the
    seeds' (allowed: the cell's spread + 1 point: at main 67b49a6 it is not bit-exact with the
    shipped seed-0 run) and is the golden accuracy of this code on CPU, 1 thread."""
    arch = str(table.arch[row])
    accs = np.array([float(r["eval_acc"]) for r in runs if r["arch"] == arch])
    cfg = dict(table.meta["config"])
    cfg.update(arch=arch, seed=0, out_dir=str(tmp_path), name=None)
    cfg["runtime"] = {**cfg["runtime"], "threads": 1, "progress": False, "device": "cpu"}
    summary = train_standalone(validate(cfg, model=StandaloneConfig))
    acc = summary["final"]["eval_acc"]
    spread = accs.max() - accs.min()
    assert accs.min() - spread - 1.0 <= acc <= accs.max() + spread + 1.0
    # golden: seeded CPU run, threads=1 (test digits right of 599 after retraining, seed 0)
    cpu_golden.expect("test_right", count_of(acc, 599))
    cpu_golden.verify()


def test_cache_follows_the_shipped_table(tmp_path):
    """A cache made from another copy of the table (e.g. an older install) is re-checked."""
    import shutil

    old = tmp_path / "old.npz"
    shutil.copy(TABLE, old)
    first = open_benchmark(get_space("nb201_mini"), source=old, cache_dir=tmp_path / "c")
    assert first.source == str(old)
    # no source named: the shipped one
    again = open_benchmark(get_space("nb201_mini"), cache_dir=tmp_path / "c")
    assert again.source == str(TABLE) and again.size == 125
