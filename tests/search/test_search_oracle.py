"""The search oracle (budget, path cache, replay), the trajectory file and the summary's numbers."""

import numpy as np
import pytest

from wsnas.core.errors import WsnasError
from wsnas.groundtruth.table import Benchmark
from wsnas.search.oracle import Oracle, Row, SearchStop
from wsnas.search.summary import checkpoints, found_after, summarize_search
from wsnas.search.trajectory import read_trajectory, write_trajectory


def _oracle(budget, replay=None, calls=None):
    """Archs are strings 'p/x': path p, encoding x; fitness = int(p) + 0.1."""

    def evaluate(a):
        if calls is not None:
            calls.append(a)
        return int(a.split("/")[0]) + 0.1

    return Oracle(
        budget, evaluate, lambda a: (a, a.split("/")[0], None, None), lambda a: a.split("/")[0], replay=replay
    )


def test_budget_counts_paths_and_cache_is_free():
    calls = []
    o = _oracle(2, calls=calls)
    assert o("1/a") == 1.1 and o("1/b") == 1.1 and o("1/a") == 1.1  # b shares a's path; a asked again
    assert o("2/c") == 2.1
    assert calls == ["1/a", "2/c"] and o.evals == 2
    assert [r.same_path_as for r in o.rows] == [None, 0, None] and [r.evals for r in o.rows] == [1, 1, 2]
    assert o("2/d") == 2.1  # shares a path: free even after the budget
    with pytest.raises(SearchStop, match="budget spent"):
        o("3/e")


def test_replay_takes_recorded_fitness_and_refuses_another_order():
    first = _oracle(3)
    for a in ("1/a", "1/b", "2/c"):
        first(a)
    rows = [Row(r.arch, r.canonical, r.fitness + 5, r.evals, r.same_path_as, None, None) for r in first.rows]
    calls = []
    again = _oracle(3, replay=rows, calls=calls)
    assert again("1/a") == 6.1 and again("1/b") == 6.1 and again("2/c") == 7.1  # the recorded values
    assert calls == [] and again.replayed == 3
    again("3/d")
    assert calls == ["3/d"]
    other = _oracle(3, replay=rows)
    other("1/a")
    with pytest.raises(WsnasError, match="row 2 holds 1/b"):
        other("2/x")
    short = _oracle(3, replay=rows)
    short("1/a")
    with pytest.raises(WsnasError, match="holds 3 rows"):
        short.check_replayed()


def test_trajectory_round_trip_is_exact(tmp_path):
    rows = [Row("a", "A", 1 / 3, 1, None, 91.2345678901, 4, 0.5), Row("b", "A", 1 / 3, 1, 0, None, None, 0.7)]
    path = tmp_path / "trajectory.csv"
    write_trajectory(path, rows)
    assert read_trajectory(path) == [
        Row("a", "A", 1 / 3, 1, None, 91.2345678901, 4, 0.5),
        Row("b", "A", 1 / 3, 1, 0, None, None, 0.7),
    ]
    path.write_text(path.read_text().replace("0.3333333333333333,1,1", "x,1,1", 1))
    with pytest.raises(WsnasError, match="row 2 is malformed"):
        read_trajectory(path)
    path.write_text("arch,fitness\n")
    with pytest.raises(WsnasError, match="not a wsnas trajectory"):
        read_trajectory(path)


def test_checkpoints():
    assert checkpoints(60) == [10, 20, 50, 60]
    assert checkpoints(5) == [5]
    assert checkpoints(1000) == [10, 20, 50, 100, 200, 500, 1000]


def test_summary_by_hand():
    bench = Benchmark(
        index=range(4),
        arch=["w", "x", "y", "z"],
        canonical=["w", "x", "y", "z"],
        acc=[90.0, 80.0, 70.0, 60.0],
        meta={"space": "t", "metric": "m", "schedule": "s"},
    )
    rows = [
        Row("y", "y", 5.0, 1, None, 70.0, 2),
        Row("z", "z", 7.0, 2, None, 60.0, 3),
        Row("x", "x", 7.0, 3, None, 80.0, 1),
        Row("w", "w", 1.0, 4, None, 90.0, 0),
    ]
    assert [r.arch for r in found_after(rows, 3)] == ["z", "x"]
    s = summarize_search(rows, budget=4, bench=bench, top_k=3)
    assert s["evals"] == 4 and s["found"]["tied_archs"] == ["z", "x"]
    assert s["found"]["gt_acc"] == pytest.approx(70.0)  # the mean of the tied 60 and 80
    assert s["found"]["regret"] == pytest.approx(20.0)
    assert s["found"]["pbr"] == pytest.approx(((1 - 3 / 4) ** 4 + (1 - 1 / 4) ** 4) / 2)
    assert s["found"]["pbr_top_k"] == pytest.approx(((1 - 3 / 4) ** 3 + (1 - 1 / 4) ** 3) / 2)
    assert [c["evals"] for c in s["regret_after"]] == [4]
    assert np.isclose(s["regret_after"][0]["regret"], 20.0)
    assert s["benchmark_best"] == {"arch": "w", "gt_acc": 90.0, "size": 4}
