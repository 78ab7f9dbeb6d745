"""The fitness oracle a search asks: one row per new encoding, one evaluation per new path.

Budget N counts super-net evaluations: an encoding whose path (`SuperNet.path_key`) was
evaluated before gets that fitness for free (its row says which row it shares), and an
encoding asked again is not a new row. On resume the oracle replays the trajectory: the
algorithm must ask for the same encodings in the same order, and gets the recorded
fitness instead of a new evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from wsnas.core.errors import WsnasError

STALL_LIMIT = 1000
"""Consecutive questions without a new evaluation after which a search stops (it has converged)."""


class SearchStop(Exception):
    """Raised inside an algorithm to end it; `reason` goes into the summary."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Row:
    """One evaluated encoding of a trajectory."""

    arch: str
    canonical: str
    fitness: float
    evals: int
    """Super-net evaluations up to and including this row."""
    same_path_as: int | None
    """The earlier row whose path this encoding runs (fitness copied), or None if evaluated here."""
    gt_acc: float | None
    gt_rank: int | None
    seconds: float = 0.0
    """Wall time of the search (all attempts) when the row was added."""


class Oracle:
    """Fitness by encoding for the algorithms; records the trajectory.

    `evaluate(arch)` computes a new path's fitness; `describe(arch)` gives (arch string,
    canonical id, GT acc, GT rank); `path_key(arch)` says which encodings share a path;
    `on_row(rows)` is told after each new row (to write the trajectory). `replay` holds
    the rows of an earlier, killed attempt; `clock()` is the search's wall time so far.
    """

    def __init__(
        self,
        budget: int,
        evaluate: Callable[[Any], float],
        describe: Callable[[Any], tuple[str, str, float | None, int | None]],
        path_key: Callable[[Any], Hashable],
        on_row: Callable[[list[Row]], None] = lambda rows: None,
        replay: list[Row] | None = None,
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        if budget < 1:
            raise WsnasError(f"--budget: must be >= 1, got {budget}")
        self.budget = budget
        self._evaluate, self._describe, self._path_key, self._on_row = evaluate, describe, path_key, on_row
        self.replay = list(replay or [])
        self.clock = clock
        self.rows: list[Row] = []
        self._by_arch: dict[str, int] = {}
        self._by_path: dict[Hashable, int] = {}
        self.evals = 0
        self._idle = 0

    @property
    def replayed(self) -> int:
        """Rows taken from the earlier attempt so far."""
        return min(len(self.rows), len(self.replay))

    def asked(self, arch: Any) -> bool:
        """Whether ARCH (this encoding) has a row already."""
        return self._describe(arch)[0] in self._by_arch

    def __call__(self, arch: Any) -> float:
        """The fitness of ARCH; SearchStop once the budget is spent or the search has stalled."""
        text, canonical, gt_acc, gt_rank = self._describe(arch)
        if text in self._by_arch:
            self._idle += 1
            if self._idle >= STALL_LIMIT:
                raise SearchStop(f"stalled: {STALL_LIMIT} questions in a row without a new evaluation")
            return self.rows[self._by_arch[text]].fitness
        key = self._path_key(arch)
        shared = self._by_path.get(key)
        if shared is None and self.evals >= self.budget:
            raise SearchStop("budget spent")
        i = len(self.rows)
        if shared is not None:
            fitness, evals = self.rows[shared].fitness, self.evals
            self._idle += 1
        else:
            fitness = self._recorded(i, text) if i < len(self.replay) else float(self._evaluate(arch))
            self.evals += 1
            evals = self.evals
            self._idle = 0
        seconds = self.replay[i].seconds if i < len(self.replay) else self.clock()
        row = Row(text, canonical, fitness, evals, shared, gt_acc, gt_rank, seconds)
        if i < len(self.replay) and (self.replay[i].arch, self.replay[i].same_path_as) != (text, shared):
            raise WsnasError(self._mismatch(i, text))
        self.rows.append(row)
        self._by_arch[text] = i
        if shared is None:
            self._by_path[key] = i
        if i >= len(self.replay):
            self._on_row(self.rows)
        if self._idle >= STALL_LIMIT:
            raise SearchStop(f"stalled: {STALL_LIMIT} questions in a row without a new evaluation")
        return fitness

    def _recorded(self, i: int, text: str) -> float:
        if self.replay[i].arch != text:
            raise WsnasError(self._mismatch(i, text))
        return self.replay[i].fitness

    def _mismatch(self, i: int, text: str) -> str:
        return (
            f"trajectory.csv row {i + 1} holds {self.replay[i].arch}, but replaying the search asks for "
            f"{text}: the trajectory was written by another search or another wsnas; remove the search "
            "dir to start it again"
        )

    def check_replayed(self) -> None:
        """After the algorithm ended: every recorded row must have been asked for again."""
        if len(self.rows) < len(self.replay):
            raise WsnasError(
                f"trajectory.csv holds {len(self.replay)} rows but replaying the search ends after "
                f"{len(self.rows)}: it was written by another search; remove the search dir to start again"
            )
