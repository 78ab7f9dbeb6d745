"""The report's estimator section: `wsnas estimate` runs next to super-net settings on the same GT and pool.

A comparison is keyed by (space, ground truth: metric, schedule, content checksum, pool: the sorted
architecture strings' checksum). A super-net run's pool is its last evaluation CSV; an estimate run's
is its scores.csv (summary.json `archs.sha256`). Only keys that hold an estimate run get a table;
runs on another GT or pool never share one. Rows: super-net settings (mean ± std over their seeds)
and estimators (one row each per estimate run); columns: the paper's metrics, Spearman, and cost
(seconds per architecture and in total; a super-net's is its training and evaluation wall time,
divided by its pool). One figure per table: s-KdT and Spearman against cost per architecture, log x.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsnas.core.atomic import write_text_atomic
from wsnas.report.analysis import SpaceAnalysis
from wsnas.report.figures import FigureFile, _figure, _safe, _short, save_figure
from wsnas.report.pointlabels import label_points
from wsnas.report.runs import RunRecord
from wsnas.report.settings import Stat, space_title
from wsnas.report.tables import Table

ESTIMATE_CONFIG = "estimate.yaml"
METRICS = (("kdt", "KdT", 3), ("skdt", "s-KdT", 3), ("spearman", "Spearman", 3), ("final_acc", "final", 2),
           ("pbr", "P>R", 3), ("ptop_5pct", "P@top5%", 3), ("br_5pct", "BR@5%", 3), ("wr_5pct", "WR@5%", 3),
           ("ndcg", "NDCG", 3), ("pairwise_acc", "pair acc", 3))  # fmt: skip


def pool_sha(archs: Iterable[str]) -> str:
    """The pool's checksum as `wsnas estimate` writes it: sha256 of the sorted arch strings, 16 hex."""
    return hashlib.sha256("\n".join(sorted(archs)).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Key:
    space: str
    gt: str
    """metric, schedule and the first 12 hex digits of the GT checksum."""
    pool: str
    n: int

    @property
    def title(self) -> str:
        return f"{space_title(self.space)}, GT {self.gt}, pool {self.pool[:8]} ({self.n} archs)"


@dataclass
class Row:
    kind: str
    """'super-net' or 'estimator'."""
    label: str
    stats: dict[str, Stat]
    seconds_per_arch: float
    seconds_total: float
    note: str = ""
    ran: str = ""
    """What was run: a setting's shipped config and departures; an estimate run's network and batch."""


@dataclass
class Comparison:
    key: Key
    rows: list[Row] = field(default_factory=list)
    runs: int = 0
    """Estimate run dirs behind the estimator rows."""


@dataclass(frozen=True)
class EstimateCount:
    """The `wsnas estimate` runs a report read: run dirs, and estimators scored over all of them."""

    runs: int = 0
    estimators: int = 0


@dataclass
class EstimatorSection:
    tables: list[Table]
    figures: list[FigureFile]
    files: list[Path]
    count: EstimateCount = EstimateCount()


def _gt_text(gt: dict[str, Any]) -> str:
    sha = str(gt.get("sha256", "?")).removeprefix("table:")[:12]
    return f"{gt.get('metric')}@{gt.get('schedule')}:{sha}"


def find_estimate_dirs(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Folders under PATHS holding estimate.yaml and summary.json (`wsnas estimate` run dirs)."""
    found = []
    for p in map(Path, paths):
        for root, dirs, files in os.walk(p):
            if ESTIMATE_CONFIG in files and "summary.json" in files:
                found.append(Path(root))
                dirs[:] = []
    return sorted(set(found))


def _estimate_rows(path: Path) -> tuple[Key, list[Row]] | None:
    try:
        s = json.loads((path / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if s.get("kind") != "estimate" or not isinstance(s.get("estimators"), dict):
        return None
    key = Key(str(s["space"]), _gt_text(s.get("gt", {})), str(s["archs"]["sha256"]), int(s["archs"]["n"]))
    rows = []
    partial = "" if s.get("status") == "finished" else " (partial)"
    ran = _estimate_ran(s)
    for name, r in s["estimators"].items():
        stats = {
            m: Stat.of([float(r[m])] if isinstance(r.get(m), int | float) else []) for m, _, _ in METRICS
        }
        note = f"{r.get('n_nan', 0)} NaN" if r.get("n_nan") else ""
        rows.append(
            Row(
                "estimator",
                f"{name} [{path.name}]{partial}",
                stats,
                float(r["seconds_per_arch"]),
                float(r["seconds_total"]),
                note,
                ran,
            )  # fmt: skip
        )
    rows += _predictor_rows(path, s)
    return key, rows


def _estimate_ran(summary: dict[str, Any]) -> str:
    """`16 channels, 1 cell per stage, batch 64`: the network and minibatch an estimate run scored."""
    net, data = summary.get("network") or {}, summary.get("data") or {}
    parts = []
    if isinstance(net.get("channels"), int):
        parts.append(f"{net['channels']} channels")
    if isinstance(net.get("cells"), int):
        parts.append(f"{net['cells']} cell{'' if net['cells'] == 1 else 's'} per stage")
    if isinstance(data.get("batch"), int):
        parts.append(f"batch {data['batch']}")
    return ", ".join(parts)


def _predictor_rows(path: Path, summary: dict[str, Any]) -> list[Row]:
    """The run's learned predictor (`wsnas estimate --predictor`, predictor.json), one row per training
    size N beside its estimators: mean ± std over its splits, each scored on the archs it did not
    train on."""
    try:
        p = json.loads((path / "predictor.json").read_text())
    except (OSError, ValueError):
        return []
    made_from = p.get("identity", {}).get("sources", {}).get("estimate", {}).get("identity")
    if p.get("kind") != "predictor" or made_from != (summary.get("identity") or {}).get("hash"):
        return []  # not a predictor of this run's scores
    secs = float((summary.get("seconds") or {}).get("per_arch", math.nan))
    rows = []
    for r in p.get("results", []):
        reps = r.get("per_repeat", [])
        stats = {
            m: Stat.of(float(x[m]) for x in reps if isinstance(x.get(m), int | float)) for m, _, _ in METRICS
        }
        note = f"trained on {r['n_train']} GT-labelled archs, scored on the other {r['n_test']}"
        label = f"predictor N={r['n_train']} [{path.name}]"
        rows.append(Row("predictor", label, stats, secs, secs * int(p["n_pool"]), note))
    return rows


def _supernet_key(run: RunRecord) -> Key | None:
    ident = run.identity or {}
    files = sorted((run.path / "evals").glob("epoch_*.csv"))
    if not ident.get("gt") or not files:
        return None
    with open(files[-1], newline="") as f:
        archs = [r["arch"] for r in csv.DictReader(f)]
    return Key(run.space, _gt_text(ident["gt"]), pool_sha(archs), len(archs))


def _run_seconds(run: RunRecord) -> float:
    t = run.summary.get("timing", {})
    v = t.get("seconds") if isinstance(t, dict) else None
    return float(v) if isinstance(v, int | float) else math.nan


def comparisons(paths: Sequence[str | os.PathLike], analyses: list[SpaceAnalysis]) -> list[Comparison]:
    """One comparison per (space, GT, pool) that holds an estimate run, with its super-net settings."""
    by_key: dict[Key, Comparison] = {}
    for d in find_estimate_dirs(paths):
        got = _estimate_rows(d)
        if got is not None:
            c = by_key.setdefault(got[0], Comparison(got[0]))
            c.rows.extend(got[1])
            c.runs += 1
    if not by_key:
        return []
    for a in analyses:
        for s in a.settings:
            runs: dict[Key, list[RunRecord]] = {}
            for r in s.finished:
                k = _supernet_key(r)
                if k in by_key:
                    runs.setdefault(k, []).append(r)
            for k, rs in runs.items():
                stats = {m: Stat.of(r.metric(m) for r in rs) for m, _, _ in METRICS}
                secs = Stat.of(_run_seconds(r) for r in rs).mean
                by_key[k].rows.insert(
                    sum(1 for x in by_key[k].rows if x.kind == "super-net"),
                    Row("super-net", s.label, stats, secs / k.n, secs, f"{len(rs)} seed(s)", s.run_as.text()),
                )
    return [by_key[k] for k in sorted(by_key, key=lambda k: (k.space, k.gt, k.pool))]


def comparison_table(c: Comparison, index: int) -> Table:
    head = ["kind", "setting / estimator", "run as", *(t for _, t, _ in METRICS), "s/arch", "s total", "note"]
    csv_head = ["kind", "label"]
    for m, _, _ in METRICS:
        csv_head += [f"{m}_mean", f"{m}_std", f"{m}_n"]
    csv_head += ["seconds_per_arch", "seconds_total", "note", "run_as"]
    rows, csv_rows = [], []
    dirs = {r.label.split(" [", 1)[-1].split("]", 1)[0] for r in c.rows if r.kind == "estimator"}
    one = dirs.pop() if len(dirs) == 1 else None  # one estimate run: its dir named once, in the note
    for r in c.rows:
        cells = [r.stats[m].text(d) for m, _, d in METRICS]
        secs = [f"{r.seconds_per_arch:.3g}", f"{r.seconds_total:.3g}"]
        label = r.label.replace(f" [{one}]", "") if one and r.kind == "estimator" else r.label
        rows.append([r.kind, label, r.ran, *cells, *secs, r.note])
        cr: list[Any] = [r.kind, r.label]
        for m, _, _ in METRICS:
            cr += [r.stats[m].mean, r.stats[m].std, r.stats[m].n]
        csv_rows.append([*cr, r.seconds_per_arch, r.seconds_total, r.note, r.ran])
    return Table(
        f"estimators_{index}_{_safe(c.key.space)}",
        f"Super-nets and estimators: {c.key.title}",
        csv_head,
        csv_rows,
        head,
        rows,
        note="Same ground truth and pool for every row. Super-net cost: training + evaluation wall time "
        "(mean over seeds), per architecture = / pool size. Zero-cost proxies of one run share one pass "
        "(their cost is that pass). Metrics of an estimator leave out its NaN scores (counted in note). "
        "Run as: a super-net setting's shipped config and departures, an estimator's scored network and "
        "minibatch (docs/estimators.md)." + (f" Estimator rows: the run dir {one}." if one else ""),
        left=(0, 1, 2, len(head) - 1),
    )


def fig_cost(c: Comparison, index: int, out: Path) -> FigureFile | None:
    pts = [r for r in c.rows if math.isfinite(r.seconds_per_arch) and r.seconds_per_arch > 0]
    if not pts:
        return None
    runs = {r.label.split(" [", 1)[-1] for r in pts if r.kind == "estimator"}
    fig, axes = _figure(1, 2, 4.6, 3.6)
    labelled = []
    for ax, (m, title) in zip(axes.flat, (("skdt", "s-KdT"), ("spearman", "Spearman")), strict=True):
        shown = []
        for r in pts:
            y = r.stats[m].mean
            if not math.isfinite(y):
                continue
            marker = "s" if r.kind == "super-net" else "o"
            ax.scatter(
                [r.seconds_per_arch], [y], marker=marker, color="C1" if r.kind == "super-net" else "C0"
            )
            text = r.label.split(" [", 1)[0] if r.kind == "estimator" and len(runs) == 1 else r.label
            shown.append((r.seconds_per_arch, y, _short(text, 30)))
        ax.set_xscale("log")
        ax.margins(x=0.12, y=0.08)
        ax.set_xlabel("seconds per architecture (log)")
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
        labelled.append((ax, shown))
    fig.suptitle(_short(c.key.title, 90), fontsize=9)
    for ax, shown in labelled:  # after the layout is final: labels beside their points, apart
        label_points(fig, ax, shown)
    name = f"fig_estimators_cost_{index}_{_safe(c.key.space)}.png"
    save_figure(fig, out / name)
    return FigureFile(
        name,
        f"Ranking quality against cost: {c.key.title}",
        "s-KdT and Spearman of each super-net setting (squares) and estimator (dots) against its cost "
        "per architecture (log scale), on the same ground truth and pool.",
    )


def estimator_section(
    paths: Sequence[str | os.PathLike], analyses: list[SpaceAnalysis], out: Path
) -> EstimatorSection:
    """Write the comparison tables (OUT/tables) and figures (OUT/figures); nothing without estimate runs."""
    tables, figs, files = [], [], []
    found = comparisons(paths, analyses)
    count = EstimateCount(
        sum(c.runs for c in found), sum(r.kind == "estimator" for c in found for r in c.rows)
    )
    for i, c in enumerate(found, start=1):
        t = comparison_table(c, i)
        tables.append(t)
        for ext, text in (("csv", t.csv_text()), ("md", t.markdown())):
            path = out / "tables" / f"{t.name}.{ext}"
            write_text_atomic(path, text)
            files.append(path)
        f = fig_cost(c, i, out / "figures")
        if f is not None:
            figs.append(f)
    return EstimatorSection(tables, figs, files, count)
