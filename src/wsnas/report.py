"""Run dirs -> the paper's tables and figures, aggregated over seeds, with an index.html.

Only run dirs are read (config.yaml + summary.json, plus log.jsonl and the eval CSVs
for the figures), so a report can combine sweeps, single runs and copies from other
machines. Runs are grouped into *settings* (the experiment config without the seed,
paths, runtime and logging) and each setting is aggregated over its seeds: mean and
sample std (ddof=1). Factors are found from the configs alone: factor k's rows come
from the settings that differ from each other only in k (a one-at-a-time sweep's
baseline and its variants; a sequential stage); in a grid, where several such groups
exist, the rows pool them (the factor's marginal effect).
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import math
import os
import re
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.config import RunConfig, load_config, write_text_atomic
from wsnas.errors import WsnasError

METRICS = ("supernet_acc_mean", "kdt", "skdt", "spearman", "final_acc", "pbr")
TABLE_METRICS = (("supernet_acc_mean", "SN acc", 2), ("skdt", "s-KdT", 3), ("final_acc", "final acc", 2),
                 ("pbr", "P>R", 3))
"""The four columns of the paper's Tables 3 and 4, with their display precision."""
PAIR_METRICS = (("supernet_acc_mean", "super-net acc"), ("kdt", "KdT"), ("skdt", "s-KdT"),
                ("pbr", "P>R"), ("final_acc", "final acc"))
"""Metrics whose pairwise Spearman correlations across runs make the paper's Fig. 11."""
SPACE_TITLES = {"nb101": "NASBench-101", "nb201": "NASBench-201", "darts_nds": "DARTS-NDS"}
NOT_EXPERIMENT = ("seed", "out_dir", "name", "runtime", "logging", "data.root", "bench.cache_dir",
                  "bench.source")
"""Config keys that do not define a setting: seeds are aggregated, the rest is where/how it ran."""


# ---- reading run dirs --------------------------------------------------------------------------
def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config dict -> {dotted.key: leaf value}, in field order."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _jv(v: Any) -> str:
    """Canonical text of a config value, for grouping and equality."""
    return json.dumps(v, sort_keys=True)


def show(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


@dataclass
class RunRecord:
    """One run dir as the report sees it."""

    path: Path
    cfg: RunConfig
    summary: dict[str, Any]

    def __post_init__(self) -> None:
        flat = flatten(self.cfg.to_dict())
        self.experiment = {
            k: v for k, v in flat.items() if not any(k == x or k.startswith(x + ".") for x in NOT_EXPERIMENT)
        }
        self.setting = hashlib.sha256(
            json.dumps(self.experiment, sort_keys=True).encode()
        ).hexdigest()[:12]

    @property
    def space(self) -> str:
        return self.cfg.space.name

    @property
    def seed(self) -> int:
        return self.cfg.seed

    @property
    def status(self) -> str:
        return str(self.summary.get("status"))

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    def metric(self, name: str) -> float:
        v = self.summary.get("final", {}).get(name) if self.finished else None
        return float(v) if isinstance(v, int | float) else math.nan

    def eval_log(self) -> list[dict[str, Any]]:
        """The run's evaluation records (log.jsonl), in epoch order."""
        log = self.path / "log.jsonl"
        if not log.exists():
            return []
        out = []
        for line in log.read_text().splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill
            if r.get("type") == "eval":
                out.append(r)
        return sorted(out, key=lambda r: r["epoch"])

    def final_supernet_accs(self) -> np.ndarray:
        """Per-architecture super-net accuracies of the last evaluation (evals/epoch_NNNN.csv)."""
        files = sorted((self.path / "evals").glob("epoch_*.csv"))
        if not files:
            return np.zeros(0)
        with files[-1].open() as f:
            return np.array([float(r["supernet_acc"]) for r in csv.DictReader(f)])


def find_run_dirs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Every folder under `paths` holding config.yaml and summary.json (not looked into further)."""
    found: dict[Path, None] = {}
    for top in paths:
        top = Path(top)
        if not top.is_dir():
            raise WsnasError(f"{top}: not a folder")
        for dirpath, dirnames, filenames in os.walk(top):
            if "config.yaml" in filenames and "summary.json" in filenames:
                found[Path(dirpath).resolve()] = None
                dirnames.clear()
            else:
                dirnames.sort()
    return list(found)


def load_runs(paths: Iterable[str | os.PathLike]) -> tuple[list[RunRecord], list[str]]:
    """Run records under `paths`, and one line per run dir that could not be read."""
    runs, skipped = [], []
    for p in find_run_dirs(paths):
        try:
            summary = json.loads((p / "summary.json").read_text())
            if summary.get("kind") == "standalone":
                skipped.append(f"{p}: a stand-alone run (ground truth, not a super-net result)")
                continue
            cfg = load_config(p / "config.yaml")
        except (OSError, ValueError, WsnasError) as e:
            skipped.append(f"{p}: {e}")
            continue
        if summary.get("status") not in ("finished", "diverged"):
            skipped.append(f"{p}: summary status {summary.get('status')!r}")
            continue
        runs.append(RunRecord(p, cfg, summary))
    return runs, skipped


# ---- aggregation --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stat:
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
        return _jv(self.experiment.get(key))


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

    def stat(self, value: Any, metric: str) -> Stat:
        return Stat.of(r.metric(metric) for r in self.runs[_jv(value)])


def _sort_values(values: list[Any]) -> list[Any]:
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
            rest = _jv({x: v for x, v in s.experiment.items() if x != k})
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
        return sum(s.value(k) == _jv(defaults.get(k)) for k in varying)

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
        values = _sort_values(list({s.value(k): s.experiment.get(k) for s in members}.values()))
        runs = {_jv(v): [r for s in members if s.value(k) == _jv(v) for r in s.runs] for v in values}
        by_value = {_jv(v): [s for s in members if s.value(k) == _jv(v)] for v in values}
        ref = refs[k] if refs[k] in runs else max(by_value, key=lambda v: max(
            membership[s.key] for s in by_value[v]))
        factors.append(Factor(space, k, values, runs, by_value, json.loads(ref), pooled=len(fams) > 1))
    return SpaceAnalysis(space, settings, varying, factors, baseline)


def _space_order(space: str) -> tuple[int, str]:
    order = list(SPACE_TITLES)
    return (order.index(space) if space in order else len(order), space)


def group_settings(runs: list[RunRecord]) -> dict[str, list[Setting]]:
    """Space -> its settings (runs grouped by experiment config without the seed)."""
    by_key: dict[str, Setting] = {}
    for r in sorted(runs, key=lambda r: (str(r.path))):
        s = by_key.setdefault(r.setting, Setting(r.setting, r.space, r.experiment))
        s.runs.append(r)
    spaces: dict[str, list[Setting]] = {}
    for s in by_key.values():
        s.runs.sort(key=lambda r: r.seed)
        spaces.setdefault(s.space, []).append(s)
    return {sp: spaces[sp] for sp in sorted(spaces, key=_space_order)}


def space_title(space: str) -> str:
    return SPACE_TITLES.get(space, space)


# ---- tables -------------------------------------------------------------------------------------
@dataclass
class Table:
    """One table in three forms: CSV (numbers), Markdown and HTML (mean ± std)."""

    name: str
    title: str
    csv_header: list[str]
    csv_rows: list[list[Any]]
    header: list[str]
    rows: list[list[str]]
    note: str = ""

    def markdown(self) -> str:
        def esc(c: str) -> str:
            return str(c).replace("|", "\\|")

        lines = [f"# {self.title}", ""]
        if self.note:
            lines += [self.note, ""]
        lines += ["| " + " | ".join(esc(h) for h in self.header) + " |",
                  "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.csv_header)
        w.writerows([["" if isinstance(c, float) and math.isnan(c) else c for c in row]
                     for row in self.csv_rows])
        return buf.getvalue()

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                       for row in self.rows)
        note = f"<p class='note'>{html.escape(self.note)}</p>" if self.note else ""
        links = (f"<p class='files'><a href='tables/{self.name}.csv'>CSV</a> · "
                 f"<a href='tables/{self.name}.md'>Markdown</a></p>")
        return (f"<h3>{html.escape(self.title)}</h3>{note}<table><thead><tr>{head}</tr></thead>"
                f"<tbody>{body}</tbody></table>{links}")


def factor_table(analyses: list[SpaceAnalysis]) -> Table:
    """Paper Tables 3 and 4: rows = factor values, columns = space x (SN acc, s-KdT, final acc, P>R)."""
    spaces = [a.space for a in analyses]
    header = ["Factor", "Value"] + [f"{space_title(sp)} {m[1]}" for sp in spaces for m in TABLE_METRICS]
    csv_header = ["factor", "value"] + [f"{sp}_{m[0]}_{x}" for sp in spaces for m in TABLE_METRICS
                                        for x in ("mean", "std", "n")] + [f"{sp}_reference" for sp in spaces]
    fields = list(flatten(RunConfig().to_dict()))
    order = sorted({f.key for a in analyses for f in a.factors},
                   key=lambda k: (fields.index(k) if k in fields else len(fields), k))
    rows, csv_rows = [], []
    for key in order:
        per_space = {a.space: next((f for f in a.factors if f.key == key), None) for a in analyses}
        values: dict[str, Any] = {}
        for f in per_space.values():
            if f is not None:
                values.update((_jv(v), v) for v in f.values)
        for v in _sort_values(list(values.values())):
            cells, nums, refs = [], [], []
            for sp in spaces:
                f = per_space[sp]
                has = f is not None and _jv(v) in f.runs
                refs.append(bool(has and _jv(v) == _jv(f.reference)))
                for metric, _, digits in TABLE_METRICS:
                    st = f.stat(v, metric) if has else Stat(math.nan, math.nan, 0)
                    cells.append(st.text(digits))
                    nums += [st.mean, st.std, st.n]
            studied = [sp for sp in spaces if per_space[sp] is not None and _jv(v) in per_space[sp].runs]
            marked = [sp for sp, ref in zip(spaces, refs, strict=True) if ref]
            mark = "" if not marked else " (ref)" if marked == studied else (
                " (ref: " + ", ".join(space_title(sp) for sp in marked) + ")")
            rows.append([key, show(v) + mark, *cells])
            csv_rows.append([key, show(v), *nums, *refs])
    note = ("Mean ± sample std over seeds of the final evaluation. Rows of a factor compare settings "
            "that differ only in that factor; (ref) marks the reference value (the value the factor is "
            "held at while others vary).")
    return Table("table_factors", "Factors (paper Tables 3 and 4 form)", csv_header, csv_rows, header,
                 rows, note)


def final_table(analyses: list[SpaceAnalysis]) -> Table:
    """Paper Table 5: the final searched model's accuracy, rows = settings, columns = spaces."""
    spaces = [a.space for a in analyses]
    labels: list[str] = []
    for a in analyses:
        ordered = sorted(a.settings, key=lambda s: s.label != "base")
        labels += [s.label for s in ordered if s.label not in labels]
    header = ["Setting"] + [space_title(sp) for sp in spaces]
    csv_header = ["setting"] + [f"{sp}_final_acc_{x}" for sp in spaces for x in ("mean", "std", "n")]
    rows, csv_rows = [], []
    for label in labels:
        cells, nums = [], []
        for a in analyses:
            s = next((s for s in a.settings if s.label == label), None)
            st = s.stat("final_acc") if s is not None else Stat(math.nan, math.nan, 0)
            cells.append(st.text(2) + (f" (n={st.n})" if st.n else ""))
            nums += [st.mean, st.std, st.n]
        rows.append([label, *cells])
        csv_rows.append([label, *nums])
    note = ("Final searched model: mean GT accuracy of the top-k pool architectures by super-net accuracy; "
            "mean ± sample std over seeds. 'base' is each space's reference setting.")
    return Table("table_final", "Final searched model (paper Table 5 form)", csv_header, csv_rows, header,
                 rows, note)


def settings_table(analyses: list[SpaceAnalysis]) -> Table:
    header = ["Space", "Setting", "Seeds", "Diverged"] + [m[1] for m in TABLE_METRICS] + ["KdT"]
    csv_header = ["space", "setting", "setting_hash", "seeds", "runs", "finished", "diverged"] + [
        f"{m}_{x}" for m in METRICS for x in ("mean", "std", "n")]
    rows, csv_rows = [], []
    for a in analyses:
        for s in a.settings:
            seeds = " ".join(str(r.seed) for r in s.runs)
            div = sum(1 for r in s.runs if r.status == "diverged")
            cells = [s.stat(m).text(d) for m, _, d in TABLE_METRICS] + [s.stat("kdt").text(3)]
            rows.append([space_title(a.space), s.label, seeds, str(div), *cells])
            nums = [x for m in METRICS for st in [s.stat(m)] for x in (st.mean, st.std, st.n)]
            csv_rows.append([a.space, s.label, s.key, seeds, len(s.runs), len(s.finished), div, *nums])
    return Table("settings", "All settings", csv_header, csv_rows, header, rows,
                 "One row per setting (runs that differ only in their seed).")


def runs_table(analyses: list[SpaceAnalysis], root: Path) -> Table:
    header = ["Space", "Setting", "Seed", "Status"] + [m[1] for m in TABLE_METRICS] + ["Run dir"]
    csv_header = ["space", "setting", "seed", "status", *METRICS, "run_dir"]
    rows, csv_rows = [], []
    for a in analyses:
        for s in a.settings:
            for r in s.runs:
                rel = os.path.relpath(r.path, root)
                rows.append([space_title(a.space), s.label, str(r.seed), r.status,
                             *[Stat.of([r.metric(m)]).text(d) for m, _, d in TABLE_METRICS], rel])
                csv_rows.append([a.space, s.label, r.seed, r.status, *[r.metric(m) for m in METRICS],
                                 str(r.path)])
    return Table("runs", "All runs", csv_header, csv_rows, header, rows)


# ---- figures ------------------------------------------------------------------------------------
@dataclass
class FigureFile:
    name: str
    title: str
    caption: str


def _figure(nrows: int = 1, ncols: int = 1, w: float = 4.0, h: float = 3.2) -> tuple[Any, Any]:
    from matplotlib.figure import Figure  # the OO API: no pyplot state, no display backend

    fig = Figure(figsize=(w * ncols, h * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _short(label: str, width: int = 38) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def fig_histograms(a: SpaceAnalysis, out: Path) -> FigureFile | None:
    """Fig. 4: distribution of the pool's super-net accuracies, one panel per setting."""
    data = []
    for s in a.settings:
        per_seed = [(r.seed, r.final_supernet_accs()) for r in s.finished]
        per_seed = [(seed, x) for seed, x in per_seed if x.size]
        if per_seed:
            data.append((s, per_seed))
    if not data:
        return None
    ncols = min(4, len(data))
    nrows = math.ceil(len(data) / ncols)
    fig, axes = _figure(nrows, ncols, 3.6, 2.8)
    lo = min(float(x.min()) for _, ps in data for _, x in ps)
    hi = max(float(x.max()) for _, ps in data for _, x in ps)
    bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 21)
    for ax, (s, per_seed) in zip(axes.flat, data, strict=False):
        ax.hist([x for _, x in per_seed], bins=bins, stacked=True,
                label=[f"seed {seed}" for seed, _ in per_seed])
        ax.set_title(_short(s.label), fontsize=9)
        ax.set_xlabel("super-net accuracy (%)")
    for ax in list(axes.flat)[len(data):]:
        ax.set_visible(False)
    axes.flat[0].set_ylabel("architectures")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{space_title(a.space)}: super-net accuracy of the pool (last evaluation)")
    name = f"fig4_hist_{_safe(a.space)}.png"
    fig.savefig(out / name, dpi=90)
    return FigureFile(name, f"{space_title(a.space)}: super-net accuracy histograms (Fig. 4)",
                      "Per setting, the pool architectures' super-net accuracy at the last evaluation; "
                      "seeds stacked.")


def fig_factor(a: SpaceAnalysis, f: Factor, out: Path) -> FigureFile:
    """Figs. 5-7, 9: each table metric against the factor's values, mean ± std over seeds."""
    fig, axes = _figure(1, len(TABLE_METRICS), 3.0, 2.8)
    xs = np.arange(len(f.values))
    for ax, (metric, title, _) in zip(axes.flat, TABLE_METRICS, strict=True):
        stats = [f.stat(v, metric) for v in f.values]
        means = np.array([s.mean for s in stats])
        stds = np.array([s.std if math.isfinite(s.std) else 0.0 for s in stats])
        ax.errorbar(xs, means, yerr=stds, fmt="o-", capsize=4)
        ax.set_xticks(xs, [_short(show(v), 14) for v in f.values], rotation=30 if len(xs) > 3 else 0,
                       fontsize=8)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    pooled = " (pooled over the other factors)" if f.pooled else ""
    fig.suptitle(f"{space_title(a.space)}: {f.key}{pooled}")
    name = f"fig_factor_{_safe(a.space)}_{_safe(f.key)}.png"
    fig.savefig(out / name, dpi=90)
    return FigureFile(name, f"{space_title(a.space)}: metrics vs {f.key} (Figs. 5-7, 9)",
                      "Mean ± sample std over seeds at each value of the factor.")


def fig_skdt_epochs(a: SpaceAnalysis, out: Path) -> FigureFile | None:
    """Fig. 8c: s-KdT over training epochs, one line per sampler."""
    f = next((f for f in a.factors if f.key == "sampler.name"), None)
    if f is not None:
        groups = {show(v): f.runs[_jv(v)] for v in f.values}
    else:
        groups = {}
        for s in a.settings:
            groups.setdefault(show(s.experiment.get("sampler.name")), []).extend(s.runs)
    fig, axes = _figure(1, 1, 5.0, 3.4)
    ax, drawn = axes[0, 0], False
    for sampler, runs in groups.items():
        by_epoch: dict[int, list[float]] = {}
        for r in runs:
            for e in r.eval_log():
                v = e.get("skdt")
                if isinstance(v, int | float):
                    by_epoch.setdefault(int(e["epoch"]), []).append(float(v))
        if not by_epoch:
            continue
        epochs = sorted(by_epoch)
        stats = [Stat.of(by_epoch[e]) for e in epochs]
        ax.errorbar(epochs, [s.mean for s in stats],
                    yerr=[s.std if math.isfinite(s.std) else 0.0 for s in stats],
                    fmt="o-", capsize=3, label=sampler)
        drawn = True
    if not drawn:
        return None
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("s-KdT")
    ax.grid(alpha=0.3)
    ax.legend(title="sampler")
    ax.set_title(f"{space_title(a.space)}: s-KdT during training")
    name = f"fig8_skdt_epochs_{_safe(a.space)}.png"
    fig.savefig(out / name, dpi=90)
    return FigureFile(name, f"{space_title(a.space)}: s-KdT over epochs per sampler (Fig. 8c)",
                      "From each run's evaluation records (log.jsonl); mean ± sample std over runs.")


def fig_effects(a: SpaceAnalysis, out: Path) -> FigureFile | None:
    """Fig. 10: final accuracy of each factor value minus that of the factor's reference value."""
    bars: list[tuple[str, float, float]] = []
    for f in a.factors:
        ref = f.stat(f.reference, "final_acc")
        for v in f.values:
            if _jv(v) == _jv(f.reference):
                continue
            st = f.stat(v, "final_acc")
            if st.n and ref.n:
                err = math.sqrt(sum(x**2 for x in (st.std, ref.std) if math.isfinite(x)))
                bars.append((f"{f.key}={show(v)}", st.mean - ref.mean, err))
    if not bars:
        return None
    fig, axes = _figure(1, 1, 7.0, 1.2 + 0.35 * len(bars))
    ax = axes[0, 0]
    ys = np.arange(len(bars))
    deltas = [b[1] for b in bars]
    ax.barh(ys, deltas, xerr=[b[2] for b in bars], capsize=3,
            color=["tab:green" if d >= 0 else "tab:red" for d in deltas])
    ax.set_yticks(ys, [_short(b[0], 44) for b in bars], fontsize=8)
    ax.axvline(0.0, color="black", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("Δ final acc (points) vs the factor's reference value")
    ax.set_title(f"{space_title(a.space)}: effect of each factor")
    name = f"fig10_effects_{_safe(a.space)}.png"
    fig.savefig(out / name, dpi=90)
    return FigureFile(name, f"{space_title(a.space)}: per-factor effect on final accuracy (Fig. 10)",
                      "Mean final accuracy at each value minus the mean at the factor's reference value "
                      "(marked (ref) in the factor table); error bars combine both stds.")


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


def fig_pairs(runs: list[RunRecord], out: Path) -> FigureFile | None:
    """Fig. 11: each pair of metrics across all runs, with their Spearman correlation."""
    finished = [r for r in runs if r.finished]
    if not finished:
        return None
    pairs = spearman_pairs(runs)
    titles = dict(PAIR_METRICS)
    ncols = 5
    fig, axes = _figure(math.ceil(len(pairs) / ncols), ncols, 2.8, 2.6)
    spaces = sorted({r.space for r in finished}, key=_space_order)
    for ax, (ma, mb, rho, n) in zip(axes.flat, pairs, strict=False):
        for sp in spaces:
            rs = [r for r in finished if r.space == sp]
            ax.scatter([r.metric(ma) for r in rs], [r.metric(mb) for r in rs], s=14, label=space_title(sp))
        ax.set_xlabel(titles[ma], fontsize=8)
        ax.set_ylabel(titles[mb], fontsize=8)
        ax.set_title(f"ρ = {rho:.2f} (n={n})" if math.isfinite(rho) else f"ρ undefined (n={n})", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(pairs):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Pairwise metrics across runs, Spearman ρ")
    name = "fig11_metric_pairs.png"
    fig.savefig(out / name, dpi=90)
    return FigureFile(name, "Metric pairs across runs (Fig. 11)",
                      "Every finished run is a point (colour = space); ρ is Spearman's rank correlation "
                      "over all runs (undefined with fewer than 3 runs or a constant metric).")


# ---- the report ---------------------------------------------------------------------------------
@dataclass
class Report:
    out: Path
    index: Path
    num_runs: int
    num_settings: int
    tables: list[Path]
    figures: list[Path]
    skipped: list[str]


CSS = """body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;
margin:.5em 0}td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px;text-align:right}
td:first-child,th:first-child,td:nth-child(2){text-align:left}figure{display:inline-block;margin:1em;
vertical-align:top}figure img{max-width:100%;border:1px solid #ddd}.note{color:#555;font-size:13px}
.files{font-size:12px}"""


def _html(runs: list[RunRecord], analyses: list[SpaceAnalysis], tables: list[Table],
          figures: list[FigureFile], sources: Sequence[str], skipped: list[str]) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>wsnas report</title>",
        f"<style>{CSS}</style></head><body><h1>wsnas report</h1>",
        f"<p>{len(runs)} runs in {sum(len(a.settings) for a in analyses)} settings, read from "
        + ", ".join(f"<code>{esc(s)}</code>" for s in sources)
        + f"; generated {esc(time.strftime('%Y-%m-%d %H:%M:%S'))}.</p><ul>",
    ]
    for a in analyses:
        factors = ", ".join(f"<code>{esc(f.key)}</code>" for f in a.factors) or "none"
        parts.append(f"<li>{esc(space_title(a.space))}: {len(a.settings)} settings, "
                     f"{sum(len(s.runs) for s in a.settings)} runs; factors: {factors}</li>")
    parts.append("</ul>")
    if skipped:
        parts.append("<p class='note'>Skipped run dirs:</p><ul>"
                     + "".join(f"<li><code>{esc(s)}</code></li>" for s in skipped) + "</ul>")
    parts.append("<h2>Tables</h2>")
    parts += [t.html() for t in tables]
    parts.append("<h2>Figures</h2>")
    for f in figures:
        parts.append(f"<figure><img src='figures/{esc(f.name)}' alt='{esc(f.title)}'>"
                     f"<figcaption><b>{esc(f.title)}</b><br><span class='note'>{esc(f.caption)}"
                     "</span></figcaption></figure>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(paths: Sequence[str | os.PathLike], out: str | os.PathLike) -> Report:
    """Read the run dirs under `paths` and write tables, figures and index.html to `out`."""
    runs, skipped = load_runs(paths)
    for line in skipped:
        print(f"wsnas report: skipped {line}", file=sys.stderr)
    if not runs:
        raise WsnasError(
            "no run dirs (a folder with config.yaml and summary.json) under "
            + ", ".join(str(p) for p in paths)
        )
    out = Path(out)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    analyses = [analyse_space(sp, ss) for sp, ss in group_settings(runs).items()]

    tables = [factor_table(analyses), final_table(analyses), settings_table(analyses),
              runs_table(analyses, out)]
    table_files = []
    for t in tables:
        for ext, text in (("csv", t.csv_text()), ("md", t.markdown())):
            path = out / "tables" / f"{t.name}.{ext}"
            write_text_atomic(path, text)
            table_files.append(path)

    fig_dir = out / "figures"
    for old in fig_dir.glob("*.png"):
        old.unlink()  # a rerun over other runs must not show stale figures
    figures: list[FigureFile | None] = []
    for a in analyses:
        figures.append(fig_histograms(a, fig_dir))
        figures += [fig_factor(a, f, fig_dir) for f in a.factors]
        figures.append(fig_skdt_epochs(a, fig_dir))
        figures.append(fig_effects(a, fig_dir))
    figures.append(fig_pairs(runs, fig_dir))
    made = [f for f in figures if f is not None]

    index = out / "index.html"
    write_text_atomic(index, _html(runs, analyses, tables, made, [str(p) for p in paths], skipped))
    return Report(out, index, len(runs), sum(len(a.settings) for a in analyses), table_files,
                  [fig_dir / f.name for f in made], skipped)
