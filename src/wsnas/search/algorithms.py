"""The search algorithms, each a deterministic function of its RNG and the fitness it is told.

wsnas's own algorithms (`--algo`), with defaults of its own that follow no benchmark's code:
`random`: the paper's protocol at any budget: benchmark architectures in a seeded random
order (uniform without replacement). `evolution`: regularised (aging) evolution after Real
et al.: a population of distinct benchmark architectures (default 20); each cycle draws
`sample_size` members (default 5) without replacement, mutates the fittest with the space's
own mutation (`SearchSpace.mutate`: a uniform neighbour), adds the child and drops the oldest.
`local`: first-improvement hill climbing from random starts: the neighbours of the current
architecture in random order, moving to the first that is fitter; at a local optimum, a new
random start (one architecture, not the best of several).

The presets (`--preset`) follow a benchmark's published baseline with its defaults
(`PRESETS`): `nb201-rea`, NAS-Bench-201's regularised evolution; `naszilla-ls`, White et al.'s
local search. Each runs until the oracle stops it (budget spent, stalled) or it has nothing
left to ask.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from wsnas.core.errors import ConfigError
from wsnas.search.moves import Moves
from wsnas.search.oracle import Oracle
from wsnas.spaces.base import EdgeOpSpace

_PRESET_NAMES = ("nb201-rea", "naszilla-ls")
"""Names of `PRESETS` (declared below), for messages of SearchOptions."""


@dataclass(frozen=True)
class SearchOptions:
    """Algorithm options (only evolution has any)."""

    population: int = 20
    sample_size: int = 5

    def check(self, algo: str) -> SearchOptions:
        if algo != "evolution" and self != SearchOptions():
            what = f"preset {algo}, whose defaults are fixed" if algo in _PRESET_NAMES else algo
            raise ConfigError(f"--population and --sample-size are options of evolution, not of {what}")
        if self.population < 1 or not 1 <= self.sample_size <= self.population:
            raise ConfigError(
                f"--population {self.population} / --sample-size {self.sample_size}: need population >= 1 "
                "and 1 <= sample size <= population"
            )
        return self

    def suffix(self, algo: str) -> str:
        """What the search dir's name adds for non-default options (none for the defaults)."""
        if algo != "evolution" or self == SearchOptions():
            return ""
        return f"-p{self.population}-k{self.sample_size}"


def random_search(moves: Moves, ask: Oracle, rng: np.random.Generator, opts: SearchOptions) -> str:
    for i in rng.permutation(moves.size):
        ask(moves.start(int(i)))
    return "every benchmark architecture evaluated"


def evolution(moves: Moves, ask: Oracle, rng: np.random.Generator, opts: SearchOptions) -> str:
    order = rng.permutation(moves.size)
    population: deque[tuple[Any, float]] = deque()
    for i in order[: opts.population]:
        arch = moves.start(int(i))
        population.append((arch, ask(arch)))
    if not population:
        return "no benchmark architectures"
    while True:
        picks = rng.choice(len(population), size=min(opts.sample_size, len(population)), replace=False)
        parent = max((population[int(p)] for p in picks), key=lambda m: m[1])[0]  # first on ties
        child = moves.mutate(parent, rng)
        population.append((child, ask(child)))
        if len(population) > opts.population:
            population.popleft()


def local_search(moves: Moves, ask: Oracle, rng: np.random.Generator, opts: SearchOptions) -> str:
    for i in rng.permutation(moves.size):
        start = moves.start(int(i))
        if ask.asked(start):
            continue  # a random start is a new architecture
        current, fitness = start, ask(start)
        while True:
            options = moves.neighbours(current)
            for j in rng.permutation(len(options)):
                f = ask(options[int(j)])
                if f > fitness:
                    current, fitness = options[int(j)], f
                    break
            else:
                break  # a local optimum: restart
    return "every benchmark architecture was a start or visited"


def node_edge_mutation(space: EdgeOpSpace, arch: Any, rng: np.random.Generator) -> Any:
    """NAS-Bench-201's mutation: a node (1, 2, 3) uniformly, one of its incoming edges uniformly,
    then a different op uniformly. Edges into a node with more inputs are picked less often than
    under the uniform neighbour of `SearchSpace.mutate`."""
    a = list(int(o) for o in arch)
    targets = sorted({dst for _, dst in space.edges})
    node = targets[int(rng.integers(len(targets)))]
    into = [e for e, (_, dst) in enumerate(space.edges) if dst == node]
    edge = into[int(rng.integers(len(into)))]
    others = [o for o in range(len(space.ops)) if o != a[edge]]
    a[edge] = others[int(rng.integers(len(others)))]
    return tuple(a)


REA_POPULATION, REA_TOURNAMENT = 10, 3
"""NAS-Bench-201's R_EA defaults (AutoDL-Projects exps/NAS-Bench-201-algos/R_EA.py)."""
LS_INIT = 10
"""White et al.'s local search (naszilla): the best of this many random architectures starts a climb."""


def nb201_rea(moves: Moves, ask: Oracle, rng: np.random.Generator, opts: SearchOptions) -> str:
    """NAS-Bench-201's regularised evolution: a population of REA_POPULATION random encodings
    (uniform, repeats allowed); each cycle draws REA_TOURNAMENT members with replacement, mutates
    the fittest (first drawn of equals) by `node_edge_mutation`, adds the child, drops the oldest."""
    population: deque[tuple[Any, float]] = deque()
    for _ in range(REA_POPULATION):
        arch = moves.space.sample(rng)
        population.append((arch, ask(arch)))
    while True:
        picks = rng.integers(len(population), size=REA_TOURNAMENT)
        parent = max((population[int(p)] for p in picks), key=lambda m: m[1])[0]
        child = node_edge_mutation(moves.space, parent, rng)  # type: ignore[arg-type]
        population.append((child, ask(child)))
        population.popleft()


def naszilla_local(moves: Moves, ask: Oracle, rng: np.random.Generator, opts: SearchOptions) -> str:
    """White et al.'s local search: LS_INIT new random architectures, climb from the fittest (first
    of equals): the neighbours in random order, those not asked before only, moving to the first
    that is fitter; at a local optimum, LS_INIT new random architectures."""
    order = iter(rng.permutation(moves.size))
    while True:
        starts: list[tuple[Any, float]] = []
        for i in order:
            arch = moves.start(int(i))
            if not ask.asked(arch):
                starts.append((arch, ask(arch)))
                if len(starts) == LS_INIT:
                    break
        if not starts:
            return "every benchmark architecture was a start or visited"
        current, fitness = max(starts, key=lambda m: m[1])
        improved = True
        while improved:
            improved = False
            options = moves.neighbours(current)
            for j in rng.permutation(len(options)):
                nb = options[int(j)]
                if ask.asked(nb):
                    continue  # an architecture already asked is not asked (or compared) again
                f = ask(nb)
                if f > fitness:
                    current, fitness, improved = nb, f, True
                    break


def learnt(moves: Moves, ask: Oracle, rng: np.random.Generator, opts: SearchOptions) -> str:
    """The run's learnt architecture distribution as the proposal: benchmark architectures drawn from
    it without replacement (Gumbel top-k: the order of log p + Gumbel noise), most probable likeliest
    first. Needs a run trained with a search algorithm (`moves.proposal`, set by `run_search`)."""
    logp = moves.proposal
    if logp is None:
        raise ConfigError("--algo learnt: the run has no learnt distribution (algorithm.name=none)")
    keys = logp + rng.gumbel(size=logp.shape)
    for i in np.argsort(-keys, kind="stable"):
        ask(moves.start(int(i)))
    return "every benchmark architecture evaluated"


Algorithm = Callable[[Moves, Oracle, np.random.Generator, SearchOptions], str]
ALGORITHMS: dict[str, Algorithm] = {
    "random": random_search,
    "evolution": evolution,
    "local": local_search,
    "learnt": learnt,
}
"""--algo name -> algorithm; each returns why it ended when it ran out of architectures to ask."""


@dataclass(frozen=True)
class Preset:
    """A benchmark's published search baseline, with its defaults and whose code they follow."""

    algorithm: Algorithm
    defaults: str
    follows: str
    edge_op_only: bool = False
    """Needs a space with one op per edge (NB201's node -> edge -> op mutation)."""


PRESETS: dict[str, Preset] = {
    "nb201-rea": Preset(
        nb201_rea,
        f"population {REA_POPULATION} random architectures, tournament of {REA_TOURNAMENT} drawn with "
        "replacement, mutation: a node, one of its incoming edges, a different op; oldest dies",
        "NAS-Bench-201's regularised evolution (AutoDL-Projects exps/NAS-Bench-201-algos/R_EA.py); "
        "its time budget is an evaluation budget here",
        edge_op_only=True,
    ),
    "naszilla-ls": Preset(
        naszilla_local,
        f"start from the best of {LS_INIT} random architectures, first-improvement over the "
        f"neighbours not asked before, in random order; at a local optimum {LS_INIT} new random ones",
        "White et al.'s local search (naszilla, 'Local search is state of the art for NAS "
        "benchmarks'), with stop_at_minimum",
    ),
}
"""--preset name -> a benchmark's baseline; its defaults are fixed (no --population / --sample-size)."""

OWN_DEFAULTS: dict[str, str] = {
    "random": "benchmark architectures in a seeded random order, without replacement",
    "evolution": "wsnas's own: population {population} distinct benchmark architectures, {sample_size} "
    "drawn without replacement, the space's uniform-neighbour mutation, oldest dies",
    "local": "wsnas's own: first-improvement from one random start, neighbours in random order, "
    "restart at a local optimum",
    "learnt": "the run's learnt architecture distribution (its search algorithm's) as the proposal: "
    "benchmark architectures sampled from it without replacement",
}


def describe_algorithm(name: str, opts: SearchOptions | None = None) -> dict[str, str]:
    """What the search ran, as summaries and --help state it: its defaults and whose they follow."""
    if name in PRESETS:
        p = PRESETS[name]
        return {"name": name, "defaults": p.defaults, "follows": p.follows}
    o = opts or SearchOptions()
    return {
        "name": name,
        "defaults": OWN_DEFAULTS[name].format(population=o.population, sample_size=o.sample_size),
        "follows": "wsnas's own algorithm (no benchmark's code); see --preset for the benchmarks' baselines",
    }


def get_algorithm(name: str) -> Algorithm:
    if name in PRESETS:
        return PRESETS[name].algorithm
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ConfigError(
            f"--algo {name!r}: known algorithms are {', '.join(ALGORITHMS)}; presets (--preset) are "
            f"{', '.join(PRESETS)}"
        ) from None


def check_preset(name: str, space: Any, restricted: bool) -> None:
    """ConfigError when preset NAME cannot run as its benchmark ran it on SPACE."""
    p = PRESETS.get(name)
    if p is not None and p.edge_op_only and (not isinstance(space, EdgeOpSpace) or restricted):
        raise ConfigError(
            f"--preset {name}: NAS-Bench-201's mutation needs a space with one op per edge whose "
            f"benchmark covers it (nb201, nb201_mini); {space.name} is not one"
        )
