"""Where a search may go: the space's own moves, or the benchmark's archs nearest to the current one.

A search starts from (and random search draws) architectures of the ground-truth table,
so every start has a known GT. Where the table covers every unique architecture of the
space (NB201, NB101, nb201_mini) a move is the space's mutation or neighbourhood
(`SearchSpace.mutate` / `neighbours`). Where it covers only a sample (DARTS-NDS: 5,000 of
~5.8e22 genotypes) the search is restricted to the table: a move goes to one of the
table's architectures at the smallest `SearchSpace.arch_distance` from the current one.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from wsnas.core.errors import ConfigError
from wsnas.spaces.base import SearchSpace


def covers_space(space: SearchSpace, bench: Any) -> bool:
    """Whether the GT table has every unique architecture of the space (so any move has GT)."""
    return len(bench.ids()) >= space.num_unique


class Moves:
    """Starts, mutations and neighbourhoods of a search over SPACE scored against BENCH."""

    def __init__(
        self,
        space: SearchSpace,
        bench: Any,
        restricted: bool | None = None,
        exclude: frozenset[int] = frozenset(),
    ) -> None:
        """EXCLUDE: table rows a search never visits (a landmark run's landmarks, whose ground truth
        was a training input)."""
        self.space, self.bench = space, bench
        self.restricted = not covers_space(space, bench) if restricted is None else restricted
        self._nearest: dict[str, list[Any]] = {}
        self.rows = [r for r in range(int(bench.size)) if r not in exclude] if exclude else None
        self.excluded = frozenset(str(bench.arch[r]) for r in exclude)
        self.proposal: np.ndarray | None = None
        """Log-probability of each start under the run's learnt distribution (`--algo learnt`)."""

    @property
    def size(self) -> int:
        """Architectures a search may start from: the table's rows (less the excluded)."""
        return int(self.bench.size) if self.rows is None else len(self.rows)

    def _row(self, i: int) -> int:
        return i if self.rows is None else self.rows[i]

    def allowed(self, arch: Any) -> bool:
        return not self.excluded or self.space.format(arch) not in self.excluded

    @cached_property
    def candidates(self) -> list[Any]:
        """The table's architectures, in its row order (parsed; restricted searches only)."""
        return [self.space.parse(str(self.bench.arch[self._row(i)])) for i in range(self.size)]

    def check(self, algo: str) -> None:
        """ConfigError if ALGO needs moves this space does not define (random search needs none)."""
        if algo in ("random", "learnt") or not self.size:
            return
        arch = self.start(0)
        try:
            if self.restricted:
                self.space.arch_distance(arch, arch)
            else:
                self.space.neighbours(arch)
        except NotImplementedError:
            what = "arch_distance" if self.restricted else "neighbours/mutate"
            raise ConfigError(
                f"--algo {algo}: space {self.space.name} defines no search moves (SearchSpace.{what}); "
                "use --algo random"
            ) from None

    def start(self, i: int) -> Any:
        """Row I of the table, parsed (NB101's 423,624 rows are not all parsed up front)."""
        return self.space.parse(str(self.bench.arch[self._row(i)]))

    def mutate(self, arch: Any, rng: np.random.Generator) -> Any:
        if not self.restricted:
            if not self.excluded:
                return self.space.mutate(arch, rng)
            options = self.neighbours(arch)
            if not options:
                return self.space.mutate(arch, rng)  # the space's own error, or an excluded arch: none left
            return options[int(rng.integers(len(options)))]
        near = self.nearest(arch)
        return near[int(rng.integers(len(near)))]

    def neighbours(self, arch: Any) -> list[Any]:
        if self.restricted:
            return self.nearest(arch)
        return [a for a in self.space.neighbours(arch) if self.allowed(a)]

    def nearest(self, arch: Any) -> list[Any]:
        """The table's architectures at the smallest positive distance from ARCH (table order)."""
        key = self.space.format(arch)
        if key not in self._nearest:
            self._nearest[key] = self._find_nearest(arch)
        return self._nearest[key]

    def _find_nearest(self, arch: Any) -> list[Any]:
        dist = np.array([self.space.arch_distance(arch, c) for c in self.candidates])
        canon = self.space.canonical(arch)
        ok = (dist > 0) & np.array(
            [str(self.bench.canonical[self._row(i)]) != canon for i in range(self.size)]
        )
        if not ok.any():
            return []
        best = dist[ok].min()
        return [self.candidates[i] for i in np.flatnonzero(ok & (dist == best))]

    def describe(self) -> dict[str, Any]:
        if self.restricted:
            return {
                "restricted_to_benchmark": True,
                "why": f"the ground truth covers {len(self.bench.ids())} unique architectures of "
                f"{self.space.num_unique:.3g}; a move goes to the benchmark architectures nearest to the "
                "current one (fewest differing choices, SearchSpace.arch_distance), starts are "
                "benchmark architectures",
            }
        return {
            "restricted_to_benchmark": False,
            "why": "the ground truth covers every unique architecture; moves are the space's own "
            "(SearchSpace.mutate / neighbours), starts are benchmark architectures",
        }
