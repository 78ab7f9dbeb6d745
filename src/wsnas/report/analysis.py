"""Settings and factors: runs grouped into settings, each space's factors found from the configs.

A setting is the runs that differ only in their seed, aggregated as mean and sample std
(ddof=1). Factor k's rows come from the settings that differ from each other only in k
(a one-at-a-time sweep's baseline and its variants; a sequential stage); in a grid, where
several such groups exist, the rows pool them (the factor's marginal effect).

A paper-mode sweep (`report.study`) knows two baselines: its sequential factors (the
hyper-parameters) are compared against the starting point, every other factor against
the tuned baseline, whose row is the paper's "Random NAS (ours)".
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wsnas.config import RunConfig
from wsnas.report.runs import RunRecord, canon, flatten, show
from wsnas.report.study import PaperStudy
from wsnas.spaces import SPACES

PAPER_ORDER = ("nb101", "nb201", "darts_nds")
"""Spaces in the order of the paper's tables; any other registered space follows, by name."""
PAIR_METRICS = (("supernet_acc_mean", "super-net acc"), ("kdt", "KdT"), ("skdt", "s-KdT"),
                ("pbr", "P>R"), ("final_acc", "final acc"))
"""Metrics whose pairwise Spearman correlations across runs make the paper's Fig. 11."""
START = "starting point"
TUNED = "tuned baseline"
TUNED_LABEL = "Random NAS (ours): tuned baseline"
START_LABEL = "starting point (stand-alone hyper-parameters)"


def show_value(key: str, v: Any) -> str:
    """A factor value as a row shows it; a compound value as `true (+ mapping.ops_on=nodes)`."""
    if isinstance(v, dict) and key in v:
        rest = ", ".join(f"{k}={show(x)}" for k, x in v.items() if k != key)
        return f"{show(v[key])} (+ {rest})"
    return show(v)


def space_title(space: str) -> str:
    """The benchmark's own name (`SearchSpace.title`); an unregistered space keeps its config name.
    A section of one data set among several (`nb201:cifar100`, see `group_settings`) adds it."""
    name, _, data = space.partition(DATA_SEP)
    title = SPACES.get(name).title if name in SPACES else name
    return f"{title} ({data})" if data else title


def space_order(space: str) -> tuple[int, str]:
    name = space.partition(DATA_SEP)[0]
    return (PAPER_ORDER.index(name) if name in PAPER_ORDER else len(PAPER_ORDER), space)


DATA_SEP = ":"
"""Joins space and data set in the key of a report section holding one data set of several."""


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
    """Runs that differ only in their seed."""

    key: str
    space: str
    experiment: dict[str, Any]
    runs: list[RunRecord] = field(default_factory=list)
    label: str = ""

    @property
    def finished(self) -> list[RunRecord]:
        return [r for r in self.runs if r.finished]

    def stat(self, metric: str) -> Stat:
        return Stat.of(r.metric(metric) for r in self.runs)

    def value(self, key: str) -> str:
        return canon(self.experiment.get(key))


@dataclass
class Factor:
    """One factor of one space: its values, the runs behind each, and its reference value."""

    space: str
    key: str
    values: list[Any]
    runs: dict[str, list[RunRecord]]
    """value (canonical JSON) -> runs of the compared settings with that value."""
    settings: dict[str, list[Setting]]
    reference: Any
    pooled: bool
    """True when several groups of settings were pooled (a grid)."""
    against: str = "reference"
    """What the reference value is: `reference`, or in a paper study START or TUNED."""

    def text(self, value: Any) -> str:
        return show_value(self.key, value)

    def stat(self, value: Any, metric: str) -> Stat:
        return Stat.of(r.metric(metric) for r in self.runs[canon(value)])


def sort_values(values: list[Any]) -> list[Any]:
    """Numbers and bools in order, anything else by its label."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return sorted(values)
    if all(isinstance(v, bool) for v in values):
        return sorted(values)
    return sorted(values, key=show)


@dataclass
class SpaceAnalysis:
    space: str
    settings: list[Setting]
    varying: list[str]
    factors: list[Factor]
    baseline: Setting
    start: Setting | None = None
    """paper study: the starting point (the baseline is then the tuned baseline)."""


def analyse_space(space: str, settings: list[Setting]) -> SpaceAnalysis:
    """Find the varying keys, each factor's comparable settings, the baseline and the labels."""
    keys = list(settings[0].experiment)
    for s in settings[1:]:
        keys += [k for k in s.experiment if k not in keys]
    varying = [k for k in keys if len({s.value(k) for s in settings}) > 1]

    groups: dict[str, list[list[Setting]]] = {}
    membership: Counter[str] = Counter()
    for k in varying:
        by_rest: dict[str, list[Setting]] = {}
        for s in settings:
            rest = canon({x: v for x, v in s.experiment.items() if x != k})
            by_rest.setdefault(rest, []).append(s)
        fams = [f for f in by_rest.values() if len(f) > 1]
        if fams:
            top = max(len(f) for f in fams)
            groups[k] = [f for f in fams if len(f) == top]
            for fam in groups[k]:
                membership.update(s.key for s in fam)

    # a sweep names its baseline runs base-*; otherwise the setting the others vary around
    named = [s for s in settings if all((r.cfg.name or "").startswith("base-") for r in s.runs)]
    defaults = flatten(RunConfig().to_dict())

    def at_defaults(s: Setting) -> int:
        return sum(s.value(k) == canon(defaults.get(k)) for k in varying)

    baseline = named[0] if len(named) == 1 else max(
        settings, key=lambda s: (membership[s.key], at_defaults(s), len(s.finished), -settings.index(s)))

    def reference(k: str) -> str:
        """The baseline's value when the baseline was compared on k, else the most held value."""
        if any(baseline in fam for fam in groups.get(k, [])):
            return baseline.value(k)
        counts = Counter(s.value(k) for s in settings)
        best = max(counts.values())
        tied = [v for v, c in counts.items() if c == best]
        score = {v: max(membership[s.key] for s in settings if s.value(k) == v) for v in tied}
        return max(tied, key=lambda v: score[v])  # first of equals: first seen

    refs = {k: reference(k) for k in varying}
    for s in settings:
        diff = [f"{k}={show(s.experiment.get(k))}" for k in varying if s.value(k) != baseline.value(k)]
        s.label = ", ".join(diff) or "base"

    factors = []
    for k, fams in groups.items():
        members = [s for fam in fams for s in fam]
        values = sort_values(list({s.value(k): s.experiment.get(k) for s in members}.values()))
        runs = {canon(v): [r for s in members if s.value(k) == canon(v) for r in s.runs] for v in values}
        by_value = {canon(v): [s for s in members if s.value(k) == canon(v)] for v in values}
        ref = refs[k] if refs[k] in runs else max(by_value, key=lambda v: max(
            membership[s.key] for s in by_value[v]))
        factors.append(Factor(space, k, values, runs, by_value, json.loads(ref), pooled=len(fams) > 1))
    return SpaceAnalysis(space, settings, varying, factors, baseline)


def analyse_paper(space: str, settings: list[Setting], study: PaperStudy) -> SpaceAnalysis | None:
    """A paper study's factors: hyper-parameters vs the starting point, the rest vs the tuned baseline.

    None when the settings lack the study's starting point or tuned baseline (then the
    structural analysis applies).
    """
    def holding(names: set[str]) -> Setting | None:
        return next((s for s in settings if any(r.path.name in names for r in s.runs)), None)

    start, tuned = holding(study.start_runs), holding(study.tuned_runs)
    if start is None or tuned is None:
        return None
    plain = analyse_space(space, settings)
    factors = []
    for f in plain.factors:  # the sequential stages: groups that differ in one hyper-parameter
        if f.key in study.sequential:
            f.reference, f.against = json.loads(start.value(f.key)), START
            if canon(f.reference) in f.runs:
                factors.append(f)
    for key in study.one_at_a_time:
        by_value: dict[str, tuple[Any, list[Setting]]] = {}
        for row in study.rows:
            s = holding(row.runs) if row.factor == key else None
            if s is not None:
                by_value.setdefault(canon(row.value), (row.value, []))[1].append(s)
        ref = tuned.experiment.get(key)
        by_value.setdefault(canon(ref), (ref, []))
        if tuned not in by_value[canon(ref)][1]:
            by_value[canon(ref)][1].append(tuned)
        if len(by_value) < 2:
            continue
        values = sort_values([v for v, _ in by_value.values()])
        members = {canon(v): by_value[canon(v)][1] for v in values}
        runs = {c: [r for s in ss for r in s.runs] for c, ss in members.items()}
        factors.append(Factor(space, key, values, runs, members, ref, pooled=False, against=TUNED))
    for s in settings:
        diff = [f"{k}={show(s.experiment.get(k))}" for k in plain.varying if s.value(k) != tuned.value(k)]
        s.label = ", ".join(diff) or "base"
    tuned.label = TUNED_LABEL
    if start is not tuned:
        start.label = START_LABEL
    return SpaceAnalysis(space, settings, plain.varying, factors, tuned, start)


def group_settings(runs: list[RunRecord]) -> dict[str, list[Setting]]:
    """Section -> its settings (runs grouped by experiment config without the seed).

    A section is one space on one data set: runs on different data sets (NB201 on cifar10 and
    cifar100) are never pooled into one factor row or one table column. A space with runs on
    one data set keeps its name as the key; with several, each gets `space:data`.
    """
    by_key: dict[str, Setting] = {}
    for r in sorted(runs, key=lambda r: (str(r.path))):
        s = by_key.setdefault(r.setting, Setting(r.setting, r.space, r.experiment))
        s.runs.append(r)
    data_of = {s.key: str(s.runs[0].cfg.data.name) for s in by_key.values()}
    data_sets: dict[str, set[str]] = {}
    for s in by_key.values():
        data_sets.setdefault(s.space, set()).add(data_of[s.key])
    spaces: dict[str, list[Setting]] = {}
    for s in by_key.values():
        s.runs.sort(key=lambda r: r.seed)
        if len(data_sets[s.space]) > 1:
            s.space = f"{s.space}{DATA_SEP}{data_of[s.key]}"
        spaces.setdefault(s.space, []).append(s)
    return {sp: spaces[sp] for sp in sorted(spaces, key=space_order)}


def spearman_pairs(runs: list[RunRecord]) -> list[tuple[str, str, float, int]]:
    """(metric a, metric b, Spearman rho across finished runs, n) for every pair of PAIR_METRICS."""
    from scipy.stats import spearmanr

    out = []
    names = [m for m, _ in PAIR_METRICS]
    for i, ma in enumerate(names):
        for mb in names[i + 1:]:
            pts = [(r.metric(ma), r.metric(mb)) for r in runs if r.finished]
            pts = [(x, y) for x, y in pts if math.isfinite(x) and math.isfinite(y)]
            rho = math.nan
            if len(pts) >= 3:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # constant input: rho is undefined -> NaN
                    rho = float(spearmanr([p[0] for p in pts], [p[1] for p in pts]).statistic)
            out.append((ma, mb, rho, len(pts)))
    return out

