"""`wsnas search --preset`: the benchmarks' own baselines (NAS-Bench-201's R_EA, naszilla's local search)."""

from __future__ import annotations

import contextlib
from collections import Counter

import numpy as np
import pytest

from wsnas.cli.main import main
from wsnas.core.errors import ConfigError
from wsnas.groundtruth.table import Benchmark
from wsnas.search.algorithms import (
    LS_INIT,
    PRESETS,
    REA_POPULATION,
    SearchOptions,
    check_preset,
    describe_algorithm,
    get_algorithm,
    node_edge_mutation,
)
from wsnas.search.moves import Moves
from wsnas.search.oracle import Oracle, SearchStop
from wsnas.spaces import get_space


def _table(space, archs):
    return Benchmark(
        index=range(len(archs)),
        arch=[space.format(a) for a in archs],
        canonical=[space.canonical(a) for a in archs],
        acc=np.linspace(50, 90, len(archs)).round(2),
        meta={"space": space.name, "metric": "test", "schedule": "x"},
    ).bind(space)


def _oracle(space, budget, fitness, asked):
    def evaluate(a):
        asked.append(tuple(a))
        return fitness(a)

    return Oracle(budget, evaluate, lambda a: (space.format(a), space.format(a), None, None), space.format)


def test_node_edge_mutation_picks_a_node_then_an_edge_then_another_op():
    space = get_space("nb201")  # edges 0->1 | 0->2, 1->2 | 0->3, 1->3, 2->3
    rng = np.random.default_rng(0)
    arch = (0, 1, 2, 3, 4, 0)
    n = 18_000
    changed: Counter[int] = Counter()
    for _ in range(n):
        child = node_edge_mutation(space, arch, rng)
        diff = [e for e in range(6) if child[e] != arch[e]]
        assert len(diff) == 1  # one edge, and its op is a different one
        changed[diff[0]] += 1
    # node 1 (1 edge): 1/3; node 2 (2 edges): 1/6 each; node 3 (3 edges): 1/9 each
    want = [1 / 3, 1 / 6, 1 / 6, 1 / 9, 1 / 9, 1 / 9]
    for e, p in enumerate(want):
        assert changed[e] / n == pytest.approx(p, abs=0.012)


def test_nb201_rea_population_tournament_and_aging():
    space = get_space("nb201_mini")
    bench = _table(space, space.all_archs())
    asked: list[tuple] = []
    oracle = _oracle(space, 60, lambda a: float(sum(a)), asked)
    with contextlib.suppress(SearchStop):
        get_algorithm("nb201-rea")(Moves(space, bench), oracle, np.random.default_rng(2), SearchOptions())
    assert oracle.evals == 60
    # after the random population every question is a one-edge mutation of a member of the
    # current population (the last REA_POPULATION questions, oldest dropped)
    questions: list[tuple] = []

    def record(a):
        questions.append(tuple(a))
        return float(sum(a))

    def fresh(a):  # every question a new row (no cache), so each question is seen
        return space.format(a) + str(len(questions)), "", None, None

    o2 = Oracle(40, record, fresh, lambda a: object())
    with contextlib.suppress(SearchStop):
        get_algorithm("nb201-rea")(Moves(space, bench), o2, np.random.default_rng(2), SearchOptions())
    for i in range(REA_POPULATION, len(questions)):
        population = questions[i - REA_POPULATION : i]
        assert any(space.arch_distance(p, questions[i]) == 1 for p in population), i


def test_naszilla_local_starts_from_the_best_of_ten():
    space = get_space("nb201_mini")
    bench = _table(space, space.all_archs())
    asked: list[tuple] = []
    oracle = _oracle(space, 40, lambda a: float(sum(a)), asked)
    with contextlib.suppress(SearchStop):
        get_algorithm("naszilla-ls")(Moves(space, bench), oracle, np.random.default_rng(4), SearchOptions())
    first = asked[:LS_INIT]
    assert len(set(first)) == LS_INIT  # new random architectures
    best = max(first, key=lambda a: float(sum(a)))  # first of equals
    assert space.arch_distance(best, asked[LS_INIT]) == 1  # the climb starts at the best of them
    assert len(set(asked)) == len(asked)  # nothing asked twice


def test_presets_say_what_they_follow_and_refuse_other_spaces():
    assert "R_EA.py" in describe_algorithm("nb201-rea")["follows"]
    assert "naszilla" in describe_algorithm("naszilla-ls")["follows"]
    assert "population 10" in describe_algorithm("nb201-rea")["defaults"]
    assert "no benchmark's code" in describe_algorithm("evolution")["follows"]
    assert "population 20" in describe_algorithm("evolution")["defaults"]
    with pytest.raises(ConfigError, match="preset nb201-rea"):
        check_preset("nb201-rea", get_space("darts_nds"), restricted=True)
    check_preset("nb201-rea", get_space("nb201"), restricted=False)
    check_preset("naszilla-ls", get_space("darts_nds"), restricted=True)  # any space with moves
    with pytest.raises(ConfigError, match="fixed"):
        SearchOptions(population=5).check("nb201-rea")
    assert set(PRESETS) == {"nb201-rea", "naszilla-ls"}


def test_cli_takes_one_of_algo_and_preset(capsys):
    with pytest.raises(SystemExit):
        main(["search", "x", "--algo", "local", "--preset", "nb201-rea", "--budget", "3"])
    assert "not allowed with" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    out = capsys.readouterr().out
    assert "R_EA.py" in out and "naszilla" in out and "population 20" in out
