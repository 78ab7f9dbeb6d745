"""Search moves of every space (SearchSpace.neighbours / mutate / arch_distance) and the restricted mode."""

import contextlib

import numpy as np
import pytest

from wsnas.core.errors import ConfigError
from wsnas.groundtruth.table import Benchmark
from wsnas.search.algorithms import ALGORITHMS, SearchOptions
from wsnas.search.moves import Moves
from wsnas.search.oracle import Oracle, SearchStop
from wsnas.spaces import get_space
from wsnas.spaces.nb101.enumerate import enumerate_cells
from wsnas.spaces.nb101.graph import validate
from wsnas.spaces.nb101.space import NB101Space


def _table(space, archs, seed=0):
    rng = np.random.default_rng(seed)
    return Benchmark(
        index=range(len(archs)),
        arch=[space.format(a) for a in archs],
        canonical=[space.canonical(a) for a in archs],
        acc=rng.uniform(50, 90, size=len(archs)).round(1),
        meta={"space": space.name, "metric": "test", "schedule": "x"},
    ).bind(space)


@pytest.mark.parametrize(("name", "count"), [("nb201", 6 * 4), ("nb201_mini", 3 * 4), ("darts_nds", 432)])
def test_neighbours_change_one_choice(name, count):
    space = get_space(name)
    arch = space.sample(np.random.default_rng(3))
    nb = space.neighbours(arch)
    assert len(nb) == count == len({space.format(a) for a in nb})
    assert all(space.arch_distance(arch, a) == 1 for a in nb)
    assert space.format(arch) not in {space.format(a) for a in nb}
    child = space.mutate(arch, np.random.default_rng(0))
    assert space.arch_distance(arch, child) == 1
    space.parse(space.format(child))  # a valid encoding of the space


def test_nb201_neighbours_by_hand():
    space = get_space("nb201_mini")
    assert space.neighbours((0, 0, 0))[:5] == [(1, 0, 0), (2, 0, 0), (3, 0, 0), (4, 0, 0), (0, 1, 0)]


def _tiny_nb101():
    space = NB101Space(max_vertices=4, max_edges=4)
    cells = enumerate_cells(4, 4, processes=1)
    return space, [cells.spec(i) for i in range(len(cells))]


def test_nb101_moves_keep_specs_valid():
    space, specs = _tiny_nb101()
    rng = np.random.default_rng(0)
    for spec in specs:
        nb = space.neighbours(spec)
        assert nb or spec.num_vertices == 2, spec  # input->output alone: a new vertex needs two edges
        hashes = [space.canonical(a) for a in nb]
        assert space.canonical(spec) not in hashes and len(set(hashes)) == len(hashes)
        for a in nb:
            validate(a, 4, 4)
        child = space.mutate(spec, rng)
        validate(child, 4, 4)
        assert space.arch_distance(spec, child) >= 0


@pytest.mark.parametrize("algo", ["evolution", "local", "random"])
def test_nb101_search_never_evaluates_an_invalid_spec(algo):
    space, specs = _tiny_nb101()
    bench = _table(space, specs)
    moves = Moves(space, bench)
    assert not moves.restricted  # the table holds every unique cell
    asked = []

    def evaluate(spec):
        validate(spec, space.max_vertices, space.max_edges)  # raises on an invalid cell
        asked.append(spec)
        return float(int(space.canonical(spec)[:6], 16) % 1000) / 10

    def describe(spec):
        return space.format(spec), space.canonical(spec), None, None

    oracle = Oracle(30, evaluate, describe, path_key=space.canonical)
    opts = SearchOptions(population=5, sample_size=2) if algo == "evolution" else SearchOptions()
    with contextlib.suppress(SearchStop):
        ALGORITHMS[algo](moves, oracle, np.random.default_rng(1), opts)
    assert 5 < len(asked) == oracle.evals <= 30  # past the initial population: mutations were asked
    assert {space.canonical(s) for s in asked} <= set(bench.canonical)


@pytest.mark.parametrize("algo", ["evolution", "local"])
def test_restricted_search_stays_in_the_benchmark(algo):
    space = get_space("nb201_mini")
    archs = space.all_archs()[::4]  # 32 of 125 encodings have "GT"
    bench = _table(space, archs)
    moves = Moves(space, bench)
    assert moves.restricted and moves.describe()["restricted_to_benchmark"]
    inside = {space.format(a) for a in archs}

    def evaluate(a):
        assert space.format(a) in inside
        return float(sum(a))

    oracle = Oracle(20, evaluate, lambda a: (space.format(a), space.canonical(a), None, None), space.format)
    opts = SearchOptions(population=4, sample_size=2) if algo == "evolution" else SearchOptions()
    with contextlib.suppress(SearchStop):
        ALGORITHMS[algo](moves, oracle, np.random.default_rng(0), opts)
    assert oracle.evals >= 4  # evolution may converge (stall) before the budget
    nearest = moves.nearest(archs[0])
    d = {space.arch_distance(archs[0], a) for a in nearest}
    assert len(d) == 1 and min(space.arch_distance(archs[0], b) for b in archs[1:]) == d.pop()


@pytest.mark.parametrize("algo", ["evolution", "local"])
def test_darts_search_is_restricted_to_the_benchmark_sample(algo):
    space = get_space("darts_nds")
    rng = np.random.default_rng(5)
    archs = [space.sample(rng) for _ in range(25)]
    archs += [space.mutate(a, rng) for a in archs[:15]]  # some pairs one (op, input) apart
    bench = _table(space, archs)
    moves = Moves(space, bench)
    assert moves.restricted and "nearest" in moves.describe()["why"]
    inside = {space.format(a) for a in archs}

    def evaluate(a):
        assert space.format(a) in inside
        return float(hash(space.format(a)) % 97)

    oracle = Oracle(15, evaluate, lambda a: (space.format(a), space.canonical(a), None, None), space.format)
    opts = SearchOptions(population=5, sample_size=2) if algo == "evolution" else SearchOptions()
    with contextlib.suppress(SearchStop):
        ALGORITHMS[algo](moves, oracle, np.random.default_rng(0), opts)
    assert oracle.evals >= 5
    near = moves.nearest(archs[0])
    assert near and all(space.arch_distance(archs[0], a) == 1 for a in near)  # its mutation is in the table


def test_a_space_without_moves_allows_only_random_search():
    class Bare(type(get_space("nb201_mini"))):
        def neighbours(self, arch):
            raise NotImplementedError

    space = Bare()
    moves = Moves(space, _table(space, space.all_archs()))
    moves.check("random")
    with pytest.raises(ConfigError, match="no search moves.*--algo random"):
        moves.check("local")


@pytest.mark.parametrize("algo", ["evolution", "local"])
def test_nb101_official_limits_moves_stay_valid(algo):
    space = NB101Space()  # 7 vertices, 9 edges; starts from 20 sampled cells, moves unrestricted
    rng = np.random.default_rng(2)
    moves = Moves(space, _table(space, [space.sample(rng) for _ in range(20)]), restricted=False)
    asked = []

    def evaluate(spec):
        validate(spec)  # the official limits; raises on an invalid cell
        asked.append(spec)
        return float(int(space.canonical(spec)[:6], 16) % 1000) / 10

    describe = lambda a: (space.format(a), space.canonical(a), None, None)  # noqa: E731
    oracle = Oracle(60, evaluate, describe, space.canonical)
    opts = SearchOptions(5, 2) if algo == "evolution" else SearchOptions()
    with contextlib.suppress(SearchStop):
        ALGORITHMS[algo](moves, oracle, np.random.default_rng(0), opts)
    assert len(asked) == oracle.evals == 60
