"""Settings: the runs that are seeds of one experiment, and the scopes (space x data set) they live in.

A setting is the runs whose RunRecord.setting (config without NOT_IDENTITY and the seed,
plus the run's identity) is equal. Only seeds of one setting are ever averaged: runs that
repeat a seed of their setting (the same run copied, two sweeps of one spec) are split into
copies, listed as separate settings, and one config scored against different ground truths
(or numerics, or world sizes) stays several settings; both come with a warning. A scope is
one search space on one data set (`data.name`): runs on different data sets are never
compared in one analysis.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from wsnas.report.runas import RunAs, run_as
from wsnas.report.runs import IDENTITY_KEY, RunRecord, canon
from wsnas.spaces import SPACES

PAPER_ORDER = ("nb101", "nb201", "darts_nds")
"""Spaces in the order of the paper's tables; any other registered space follows, by name."""


def space_title(space: str) -> str:
    """The benchmark's own name (`SearchSpace.title`); an unregistered space keeps its config name."""
    return SPACES.get(space).title if space in SPACES else space


def space_order(space: str) -> tuple[int, str]:
    return (PAPER_ORDER.index(space) if space in PAPER_ORDER else len(PAPER_ORDER), space)


class Scope(NamedTuple):
    """One search space on one data set: what one analysis (one column of the paper's tables) covers."""

    space: str
    dataset: str

    @property
    def title(self) -> str:
        """The benchmark's name and the data set, as every table and figure labels it."""
        return f"{space_title(self.space)} ({self.dataset})"

    @property
    def slug(self) -> str:
        """For file and CSV column names: `nb201_cifar10`."""
        return f"{self.space}_{self.dataset}"


def scope_of(run: RunRecord) -> Scope:
    return Scope(run.space, run.cfg.data.name)


def scope_order(scope: Scope) -> tuple[tuple[int, str], str]:
    return (space_order(scope.space), scope.dataset)


@dataclass(frozen=True)
class Stat:
    """Mean, sample std (ddof=1) and count of the finite values."""

    mean: float
    std: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat:
        x = np.array([v for v in values if math.isfinite(v)], dtype=float)
        if x.size == 0:
            return cls(math.nan, math.nan, 0)
        return cls(float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else math.nan, int(x.size))

    def text(self, digits: int) -> str:
        if self.n == 0:
            return "–"
        if self.n == 1 or not math.isfinite(self.std):
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


@dataclass
class Setting:
    """Runs that differ only in their seed (each seed once)."""

    key: str
    space: str
    experiment: dict[str, Any]
    runs: list[RunRecord] = field(default_factory=list)
    label: str = ""
    copy: int = 0
    """0: the only runs of this experiment; k >= 1: copy k of an experiment whose seeds repeat."""

    @property
    def finished(self) -> list[RunRecord]:
        return [r for r in self.runs if r.finished]

    def stat(self, metric: str) -> Stat:
        return Stat.of(r.metric(metric) for r in self.runs)

    def value(self, key: str) -> str:
        return canon(self.experiment.get(key))

    @property
    def run_as(self) -> RunAs:
        """What was run: the nearest shipped config and the departures from it (`wsnas.report.runas`);
        one for all runs, which share every setting key."""
        return run_as(self.runs[0].cfg)


def _split_repeated_seeds(s: Setting) -> list[Setting]:
    """S, or its copies when a seed repeats: one copy per folder holding its runs (most runs first,
    then path order), and within a folder the k-th run of each seed in copy k; a copy never mixes
    run dirs of two folders."""
    if max(Counter(r.seed for r in s.runs).values()) == 1:
        return [s]
    by_folder: dict[str, list[RunRecord]] = {}
    for r in sorted(s.runs, key=lambda r: str(r.path)):
        by_folder.setdefault(os.path.dirname(str(r.path)), []).append(r)
    parts: list[list[RunRecord]] = []
    for runs in sorted(by_folder.values(), key=lambda rs: -len(rs)):
        seen: Counter[int] = Counter()
        local: list[list[RunRecord]] = []
        for r in runs:
            k = seen[r.seed]
            seen[r.seed] += 1
            if k == len(local):
                local.append([])
            local[k].append(r)
        parts += local
    return [
        Setting(f"{s.key}#{i + 1}", s.space, s.experiment, runs, copy=i + 1) for i, runs in enumerate(parts)
    ]


def group_settings(runs: list[RunRecord], notes: list[str] | None = None) -> dict[Scope, list[Setting]]:
    """Scope -> its settings (runs grouped by RunRecord.setting, each seed once); NOTES gets one
    warning per setting split for repeated seeds and per config scored with several identities."""
    notes = [] if notes is None else notes
    by_key: dict[str, Setting] = {}
    for r in sorted(runs, key=lambda r: str(r.path)):
        s = by_key.setdefault(r.setting, Setting(r.setting, r.space, r.experiment))
        s.runs.append(r)
    scopes: dict[Scope, list[Setting]] = {}
    for s in by_key.values():
        parts = _split_repeated_seeds(s)
        scope = scope_of(s.runs[0])
        if len(parts) > 1:
            seeds = sorted(k for k, n in Counter(r.seed for r in s.runs).items() if n > 1)
            where = sorted({os.path.dirname(str(r.path)) for r in s.runs})
            notes.append(
                f"{scope.title}: {len(s.runs)} runs of one setting repeat seed(s) "
                f"{', '.join(map(str, seeds))} (run dirs under {', '.join(where)}); repeated seeds are not "
                f"independent, so they are not averaged together: listed as {len(parts)} separate settings "
                "(copy 1, 2, ...: one per folder, the folder with most runs first), and factor rows use "
                "copy 1 only"
            )
        for part in parts:
            part.runs.sort(key=lambda r: r.seed)
            scopes.setdefault(scope, []).append(part)
    for scope, settings in scopes.items():
        by_config: dict[str, set[str]] = {}
        for s in settings:
            rest = canon({k: v for k, v in s.experiment.items() if k != IDENTITY_KEY})
            by_config.setdefault(rest, set()).add(str(s.experiment.get(IDENTITY_KEY)))
        for identities in by_config.values():
            if len(identities) > 1:
                notes.append(
                    f"{scope.title}: runs of one config have different identities (ground truth, numerics "
                    f"or world size: {'; '.join(sorted(identities))}); their numbers are not comparable, so "
                    "they are listed as separate settings and never averaged together"
                )
    return {sc: scopes[sc] for sc in sorted(scopes, key=scope_order)}


def top_k_text(runs: Iterable[RunRecord]) -> str:
    """`top-3`, or `top-3/5` when runs differ in eval.top_k (the k of final accuracy and P>R's n)."""
    ks = sorted({r.cfg.metrics().k for r in runs})
    return "top-" + "/".join(map(str, ks)) if ks else "top-k"
