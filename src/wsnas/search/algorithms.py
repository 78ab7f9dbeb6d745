"""The search algorithms, each a deterministic function of its RNG and the fitness it is told.

`random`: the paper's protocol at any budget: benchmark architectures in a seeded random
order (uniform without replacement). `evolution`: regularised evolution (Real et al.,
as SPOS searches its super-net): a population of random architectures; each cycle
draws `sample_size` members, mutates the fittest, adds the child and drops the oldest.
`local`: first-improvement hill climbing from random starts: the neighbours of the
current architecture in random order, moving to the first that is fitter; at a local
optimum, a new random start. Each runs until the oracle stops it (budget spent, stalled)
or it has nothing left to ask.
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


@dataclass(frozen=True)
class SearchOptions:
    """Algorithm options (only evolution has any)."""

    population: int = 20
    sample_size: int = 5

    def check(self, algo: str) -> SearchOptions:
        if algo != "evolution" and self != SearchOptions():
            raise ConfigError(f"--population and --sample-size are options of evolution, not of {algo}")
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


Algorithm = Callable[[Moves, Oracle, np.random.Generator, SearchOptions], str]
ALGORITHMS: dict[str, Algorithm] = {"random": random_search, "evolution": evolution, "local": local_search}
"""--algo name -> algorithm; each returns why it ended when it ran out of architectures to ask."""


def get_algorithm(name: str) -> Algorithm:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ConfigError(f"--algo {name!r}: known algorithms are {', '.join(ALGORITHMS)}") from None
