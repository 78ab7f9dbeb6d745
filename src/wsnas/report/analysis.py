"""Settings and factors: each scope's settings, its factors found from the configs, its baseline.

A setting is the runs that differ only in their seed (`report.settings`), aggregated as
mean and sample std (ddof=1). Factor k's rows come from the settings that differ from
each other only in k (a one-at-a-time sweep's baseline and its variants; a sequential
stage); in a grid, where several such groups exist, the rows pool them (the factor's
marginal effect). The identity (ground truth, numerics, world size) is never a factor:
settings that differ in it are not compared, and a repeated seed's copies beyond the
first stay out of the factor rows.

A paper-mode sweep (`report.study`) knows two baselines: its sequential factors (the
hyper-parameters) are compared against the starting point, every other factor against
the tuned baseline, whose row is the paper's "Random NAS (ours)".
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

from wsnas.config import RunConfig
from wsnas.report.labels import assign_labels
from wsnas.report.runas import common_text
from wsnas.report.runs import IDENTITY_KEY, RunRecord, canon, flatten, show
from wsnas.report.settings import (
    PAPER_ORDER,
    Scope,
    Setting,
    Stat,
    group_settings,
    space_order,
    space_title,
    top_k_text,
)
from wsnas.report.study import PaperStudy
from wsnas.spaces.table1 import choices

__all__ = ["PAPER_ORDER", "Scope", "Setting", "Stat", "group_settings", "space_order", "space_title"]

PAIR_METRICS = (
    ("supernet_acc_mean", "super-net acc"),
    ("kdt", "KdT"),
    ("skdt", "s-KdT"),
    ("pbr", "P>R"),
    ("final_acc", "final acc"),
)
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


def sort_values(values: list[Any], key: str | None = None) -> list[Any]:
    """Numbers and bools in order; a field with declared choices (sampler, ops_on, ...) in their
    declared order (the paper's, not alphabetical); anything else by its label. A compound value
    sorts by its value of KEY."""

    def main(v: Any) -> Any:
        return v[key] if isinstance(v, dict) and key in v else v

    mains = [main(v) for v in values]
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in mains) or all(
        isinstance(v, bool) for v in mains
    ):
        return [v for _, _, v in sorted((m, show(v), v) for m, v in zip(mains, values, strict=True))]
    order = (choices(key) if key else None) or []

    def rank(v: Any) -> tuple[int, str]:
        m = show(main(v))
        return (order.index(m) if m in order else len(order), show(v) if m in order else m + show(v))

    return sorted(values, key=rank)


@dataclass
class SpaceAnalysis:
    """One scope (a space on a data set): its settings, factors and baseline."""

    space: str
    dataset: str
    settings: list[Setting]
    varying: list[str]
    factors: list[Factor]
    baseline: Setting
    start: Setting | None = None
    """paper study: the starting point (the baseline is then the tuned baseline)."""

    @property
    def scope(self) -> Scope:
        return Scope(self.space, self.dataset)

    @property
    def title(self) -> str:
        """`NASBench-201 (cifar10)`: the benchmark's name and the data set."""
        return self.scope.title

    @property
    def slug(self) -> str:
        return self.scope.slug

    @property
    def run_as(self) -> str:
        """`nb201-quick, 10 epochs`: the shipped config and departures all of the scope's settings
        share (`wsnas.report.runas`)."""
        return common_text([s.run_as for s in self.settings])

    @property
    def top_k(self) -> str:
        """`top-3`: the k of the final searched model (and P>R's n) in this scope's runs."""
        return top_k_text(r for s in self.settings for r in s.runs)


def analyse_space(scope: Scope | str, settings: list[Setting]) -> SpaceAnalysis:
    """Find the varying keys, each factor's comparable settings, the baseline and the labels."""
    if not isinstance(scope, Scope):  # a space name: its settings' data set
        scope = Scope(scope, settings[0].runs[0].cfg.data.name)
    keys = list(settings[0].experiment)
    for s in settings[1:]:
        keys += [k for k in s.experiment if k not in keys]
    varying = [k for k in keys if len({s.value(k) for s in settings}) > 1]
    firsts = [s for s in settings if s.copy <= 1]  # a repeated seed's later copies compare nothing

    groups: dict[str, list[list[Setting]]] = {}
    membership: Counter[str] = Counter()
    for k in varying:
        if k == IDENTITY_KEY:
            continue  # other ground truth / numerics: not a factor, never compared
        by_rest: dict[str, list[Setting]] = {}
        for s in firsts:
            rest = canon({x: v for x, v in s.experiment.items() if x != k})
            by_rest.setdefault(rest, []).append(s)
        fams = [f for f in by_rest.values() if len(f) > 1]
        if fams:
            top = max(len(f) for f in fams)
            groups[k] = [f for f in fams if len(f) == top]
            for fam in groups[k]:
                membership.update(s.key for s in fam)

    # a sweep names its baseline runs base-*; otherwise the setting the others vary around
    named = [s for s in firsts if all((r.cfg.name or "").startswith("base-") for r in s.runs)]
    defaults = flatten(RunConfig().to_dict())

    def at_defaults(s: Setting) -> int:
        return sum(s.value(k) == canon(defaults.get(k)) for k in varying)

    baseline = (
        named[0]
        if len(named) == 1
        else max(
            firsts, key=lambda s: (membership[s.key], at_defaults(s), len(s.finished), -settings.index(s))
        )
    )

    def reference(k: str) -> str:
        """The baseline's value when the baseline was compared on k, else the most held value."""
        if any(baseline in fam for fam in groups.get(k, [])):
            return baseline.value(k)
        counts = Counter(s.value(k) for s in firsts)
        best = max(counts.values())
        tied = [v for v, c in counts.items() if c == best]
        score = {v: max(membership[s.key] for s in firsts if s.value(k) == v) for v in tied}
        return max(tied, key=lambda v: score[v])  # first of equals: first seen

    refs = {k: reference(k) for k in groups}
    assign_labels(settings, baseline, varying)

    factors = []
    for k, fams in groups.items():
        members = [s for fam in fams for s in fam]
        values = sort_values(list({s.value(k): s.experiment.get(k) for s in members}.values()), k)
        runs = {canon(v): [r for s in members if s.value(k) == canon(v) for r in s.runs] for v in values}
        by_value = {canon(v): [s for s in members if s.value(k) == canon(v)] for v in values}
        ref = (
            refs[k]
            if refs[k] in runs
            else max(by_value, key=lambda v: max(membership[s.key] for s in by_value[v]))
        )
        factors.append(Factor(scope.space, k, values, runs, by_value, json.loads(ref), pooled=len(fams) > 1))
    return SpaceAnalysis(scope.space, scope.dataset, settings, varying, factors, baseline)


def analyse_paper(scope: Scope | str, settings: list[Setting], study: PaperStudy) -> SpaceAnalysis | None:
    """A paper study's factors: hyper-parameters vs the starting point, the rest vs the tuned baseline.

    None when the settings lack the study's starting point or tuned baseline (then the
    structural analysis applies).
    """

    def holding(names: set[str]) -> Setting | None:
        return next((s for s in settings if s.copy <= 1 and any(r.path.name in names for r in s.runs)), None)

    start, tuned = holding(study.start_runs), holding(study.tuned_runs)
    if start is None or tuned is None:
        return None
    plain = analyse_space(scope, settings)
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
        values = sort_values([v for v, _ in by_value.values()], key)
        members = {canon(v): by_value[canon(v)][1] for v in values}
        runs = {c: [r for s in ss for r in s.runs] for c, ss in members.items()}
        factors.append(Factor(plain.space, key, values, runs, members, ref, pooled=False, against=TUNED))
    assign_labels(settings, tuned, plain.varying)
    tuned.label = f"{TUNED_LABEL} [{tuned.label}]"
    if start is not tuned:
        start.label = f"{START_LABEL} [{start.label}]"
    return SpaceAnalysis(plain.space, plain.dataset, settings, plain.varying, factors, tuned, start)


def spearman_pairs(runs: list[RunRecord]) -> list[tuple[str, str, float, int]]:
    """(metric a, metric b, Spearman rho across finished runs, n) for every pair of PAIR_METRICS."""
    from scipy.stats import spearmanr

    out = []
    names = [m for m, _ in PAIR_METRICS]
    for i, ma in enumerate(names):
        for mb in names[i + 1 :]:
            pts = [(r.metric(ma), r.metric(mb)) for r in runs if r.finished]
            pts = [(x, y) for x, y in pts if math.isfinite(x) and math.isfinite(y)]
            rho = math.nan
            if len(pts) >= 3:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # constant input: rho is undefined -> NaN
                    rho = float(spearmanr([p[0] for p in pts], [p[1] for p in pts]).statistic)
            out.append((ma, mb, rho, len(pts)))
    return out
