"""The report's tables: the paper's Tables 3-5 forms plus all settings and all runs.

Every column and row names its scope: the benchmark's name (SearchSpace.title) and the data set.

Each Table holds its numbers (for CSV) and its mean ± std text (for Markdown and HTML).
"""

from __future__ import annotations

import csv
import html
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsnas.report.analysis import START, TUNED, SpaceAnalysis, Stat, show_value, sort_values, space_title
from wsnas.report.definitions import (
    AUTHORS_METRICS,
    AVG_TAG,
    authors_definition,
    authors_metrics,
    authors_stat,
    definitions_note,
)
from wsnas.report.runs import METRICS, RunRecord, canon
from wsnas.report.settings import top_k_text
from wsnas.spaces.table1 import beyond_paper, table1_rank

TABLE_METRICS = (
    ("supernet_acc_mean", "SN acc", 2),
    ("kdt", "KdT", 3),
    ("skdt", "s-KdT", 3),
    ("final_acc", "final acc", 2),
    ("pbr", "P>R", 3),
)
"""The columns of the paper's Tables 3 and 4 (plus KdT, next to s-KdT), with their display precision."""
METRIC_NOTE = (
    "SN acc: mean super-net accuracy of the pool (%); KdT and s-KdT: Kendall-Tau and sparse "
    "Kendall-Tau between super-net and ground-truth accuracies; final acc: mean ground-truth "
    "accuracy (%) of the top-k pool architectures by super-net accuracy (k as each column "
    "says: eval.top_k); P>R = (1 - r/r_max)^k, r the best ground-truth rank among those k."
)


@dataclass
class Group:
    """A header cell over SPAN columns of the HTML table (a scope: its title, and what was run)."""

    title: str
    span: int
    subtitle: str = ""


@dataclass
class Table:
    """One table in three forms: CSV (numbers), Markdown and HTML (mean ± std).

    Markdown and CSV name every column whole (a column read alone still says its scope); HTML
    writes each scope once, as a header cell over its columns (GROUPS after the LEAD columns),
    over the columns' SHORT names. A table without rows says why (EMPTY) instead of a bare header.
    DEFINITIONS (the paper's vs the authors' metric definitions) ends the Markdown note; the page
    explains them once, before the first table that shows both (`wsnas.report.index`).
    """

    name: str
    title: str
    csv_header: list[str]
    csv_rows: list[list[Any]]
    header: list[str]
    rows: list[list[str]]
    note: str = ""
    lead: int = 0
    groups: list[Group] = field(default_factory=list)
    short: list[str] = field(default_factory=list)
    empty: str = ""
    definitions: str = ""
    left: tuple[int, ...] = (0, 1)
    """The columns of text (labels, names, paths), left-aligned on the page; numbers align right."""

    def markdown(self) -> str:
        def esc(c: str) -> str:
            return str(c).replace("|", "\\|")

        lines = [f"# {self.title}", ""]
        note = " ".join(x for x in (self.note, self.definitions) if x)
        if note:
            lines += [note, ""]
        if not self.rows and self.empty:
            return "\n".join([*lines, self.empty]) + "\n"
        lines += ["| " + " | ".join(esc(h) for h in self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def csv_text(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.csv_header)
        w.writerows(
            [["" if isinstance(c, float) and math.isnan(c) else c for c in row] for row in self.csv_rows]
        )
        return buf.getvalue()

    def _cls(self, column: int) -> str:
        return " class='l'" if column in self.left else ""

    def _thead(self) -> str:
        esc = html.escape
        heads = [f"{self._cls(i)}>{esc(h)}</th>" for i, h in enumerate(self.header)]
        if not self.groups:
            return "<tr>" + "".join(f"<th{h}" for h in heads) + "</tr>"
        top = "".join(f"<th rowspan='2'{h}" for h in heads[: self.lead])
        for g in self.groups:
            sub = f"<br><span class='runas'>{esc(g.subtitle)}</span>" if g.subtitle else ""
            top += f"<th colspan='{g.span}' class='scope'>{esc(g.title)}{sub}</th>"
        return f"<tr>{top}</tr><tr>" + "".join(f"<th>{esc(h)}</th>" for h in self.short) + "</tr>"

    def html(self) -> str:
        note = f"<p class='note'>{html.escape(self.note)}</p>" if self.note else ""
        if not self.rows and self.empty:
            return f"<h3>{html.escape(self.title)}</h3><p class='empty'>{html.escape(self.empty)}</p>"
        esc = html.escape
        body = "".join(
            "<tr>" + "".join(f"<td{self._cls(i)}>{esc(str(c))}</td>" for i, c in enumerate(r)) + "</tr>"
            for r in self.rows
        )
        links = (
            f"<p class='files'><a href='tables/{self.name}.csv'>CSV</a> · "
            f"<a href='tables/{self.name}.md'>Markdown</a></p>"
        )
        return (
            f"<h3>{html.escape(self.title)}</h3>{note}<table><thead>{self._thead()}</thead>"
            f"<tbody>{body}</tbody></table>{links}"
        )


def _metric_header(a: SpaceAnalysis, title: str) -> str:
    return f"{title} ({a.top_k})" if title == "final acc" else title


DEFINED = {m for m, _, _ in AUTHORS_METRICS}
"""The metrics whose numbers depend on the metric definition (their headers carry its tag)."""


def _own_tag(a: SpaceAnalysis) -> str:
    """`[paper]`: the definition of the runs' own numbers (`[authors, per seed]` if they used that)."""
    names = sorted({r.cfg.eval.metric_definition for s in a.settings for r in s.runs}) or ["paper"]
    return "[" + "/".join(n if n == "paper" else f"{n}, per seed" for n in names) + "]"


def _authors_tag(a: SpaceAnalysis) -> str:
    return f"[authors, {AVG_TAG}]"


def _scope_columns(a: SpaceAnalysis) -> list[tuple[str, str, int, bool]]:
    """(metric, header without the scope, digits, seed-averaged authors' number?) for one scope:
    each metric whose definition matters is followed by its authors' seed-averaged form, side by side."""
    cols = []
    for metric, title, digits in TABLE_METRICS:
        if metric not in DEFINED:
            cols.append((metric, title, digits, False))
            continue
        cols.append((metric, f"{_metric_header(a, title)} {_own_tag(a)}", digits, False))
        k = authors_definition(a.space).k
        shown = f"{title} (top-{k})" if metric == "final_acc" else title
        cols.append((metric, f"{shown} {_authors_tag(a)}", digits, True))
    return cols


def scope_group(a: SpaceAnalysis, span: int) -> Group:
    """The HTML header cell of scope A over its SPAN columns: its title and what its runs ran."""
    return Group(a.title, span, f"run as: {a.run_as}" if a.run_as else "")


def no_factor_reason(analyses: list[SpaceAnalysis]) -> str:
    """Why the factor table is empty, in the terms of the runs read."""
    if not analyses:
        return "No super-net runs were read, so there is no factor to compare."
    if all(len(a.settings) == 1 for a in analyses):
        return (
            "No factor varies in these runs: each space holds one setting (runs that differ only in "
            "their seed), so there is no other value to compare it with."
        )
    return (
        "No factor varies in these runs: no two settings of a space differ in exactly one config "
        "value, so no value can be compared with another on its own."
    )


RUN_AS_NOTE = (
    "Run as: the shipped config each setting's config is nearest to (wsnas list configs; defaults: "
    "no config file) and every value that departs from it, so a shortened run is not read as the "
    "paper's protocol (docs/report.md#what-was-run)."
)
NO_RUNS = "No super-net runs were read (only estimator runs, in the tables below)."


def factor_table(analyses: list[SpaceAnalysis]) -> Table:
    """Paper Tables 3 and 4: rows = factor values (Table 1's order), columns = scope x the metrics."""
    slugs = [a.slug for a in analyses]
    header = ["Factor", "Value"] + [f"{a.title} {c[1]}" for a in analyses for c in _scope_columns(a)]
    groups = [scope_group(a, len(_scope_columns(a))) for a in analyses]
    short = [c[1] for a in analyses for c in _scope_columns(a)]
    csv_header = (
        ["factor", "value"]
        + [f"{sl}_{m[0]}_{x}" for sl in slugs for m in TABLE_METRICS for x in ("mean", "std", "n")]
        + [f"{sl}_reference" for sl in slugs]
        + [f"{sl}_authors_{m[0]}_{x}" for sl in slugs for m in AUTHORS_METRICS for x in ("mean", "std", "n")]
        + [f"{sl}_beyond_paper" for sl in slugs]
    )
    reasons: dict[str, None] = {}
    order = sorted({f.key for a in analyses for f in a.factors}, key=table1_rank)
    rows, csv_rows = [], []
    for key in order:
        per_scope = {a.slug: next((f for f in a.factors if f.key == key), None) for a in analyses}
        values: dict[str, Any] = {}
        for f in per_scope.values():
            if f is not None:
                values.update((canon(v), v) for v in f.values)
        for v in sort_values(list(values.values()), key):
            cells: list[str] = []
            nums: list[float] = []
            authors: list[float] = []
            refs: list[bool] = []
            for a in analyses:
                f = per_scope[a.slug]
                here = f if f is not None and canon(v) in f.runs else None
                refs.append(here is not None and canon(v) == canon(here.reference))
                for metric, _, digits, averaged in _scope_columns(a):
                    st = Stat(math.nan, math.nan, 0)
                    if here is not None and averaged:
                        st = authors_stat([s.runs for s in here.settings[canon(v)]], metric)
                    elif here is not None:
                        st = here.stat(v, metric)
                    cells.append(st.text(digits))
                    (authors if averaged else nums).extend([st.mean, st.std, st.n])
            studied = [a for a in analyses if (g := per_scope[a.slug]) is not None and canon(v) in g.runs]
            marked = [a for a, ref in zip(analyses, refs, strict=True) if ref]
            against = {f.against for a in marked for f in [per_scope[a.slug]] if f is not None}
            word = against.pop() if len(against) == 1 and "reference" not in against else "ref"
            mark = (
                ""
                if not marked
                else f" ({word})"
                if marked == studied
                else (f" ({word}: " + ", ".join(a.title for a in marked) + ")")
            )
            text = show_value(key, v)
            beyond = []
            for a, ref in zip(analyses, refs, strict=True):
                why = beyond_paper(key, a.space) if any(a is x for x in studied) and not ref else None
                beyond.append(why is not None)
                if why is not None:
                    reasons[why] = None
            if any(beyond):
                named = [a.title for a, b in zip(analyses, beyond, strict=True) if b]
                mark += (
                    " [beyond the paper"
                    + ("" if len(named) == len(studied) else ": " + ", ".join(named))
                    + "]"
                )
            rows.append([key, text + mark, *cells])
            csv_rows.append([key, text, *nums, *refs, *authors, *beyond])
    note = (
        "Mean ± sample std over seeds of the final evaluation. Rows of a factor compare settings "
        "that differ only in that factor, in the order of the paper's Table 1 (rows marked beyond the "
        "paper: heuristics published after it); (ref) marks the "
        "reference value (the value the factor is held at while others vary). " + METRIC_NOTE
    )
    if reasons:
        note += " [beyond the paper] marks a row the paper does not report: " + "; ".join(reasons) + "."
    if any(f.against != "reference" for a in analyses for f in a.factors):
        note += (
            f" In the paper's protocol the hyper-parameters are compared against the {START} "
            f"(marked ({START}): the stand-alone hyper-parameters, validated sequentially) and every "
            f"other factor against the {TUNED} (marked ({TUNED}): the hyper-parameters' winners); "
            "a value with (+ key=value) changes those keys too."
        )
    return Table(
        "table_factors",
        "Factors (paper Tables 3 and 4 form)",
        csv_header,
        csv_rows,
        header,
        rows,
        note,
        lead=2,
        groups=groups,
        short=short,
        empty=no_factor_reason(analyses),
        definitions=definitions_note(a.space for a in analyses),
    )


def final_table(analyses: list[SpaceAnalysis]) -> Table:
    """Paper Table 5: the final searched model's accuracy, rows = settings, columns = scopes."""
    labels: list[str] = []
    for a in analyses:
        ordered = sorted(a.settings, key=lambda s: (s is not a.baseline, s is not a.start))
        labels += [s.label for s in ordered if s.label not in labels]
    short = [
        h
        for a in analyses
        for h in (
            f"final acc ({a.top_k}) {_own_tag(a)}",
            f"final acc (top-{authors_definition(a.space).k}) {_authors_tag(a)}",
        )
    ]
    header = ["Setting", "Run as"] + [
        h
        for a in analyses
        for h in (
            f"{a.title}, {a.top_k} {_own_tag(a)}",
            f"{a.title}, top-{authors_definition(a.space).k} {_authors_tag(a)}",
        )
    ]
    csv_header = (
        ["setting"]
        + [f"{a.slug}_final_acc_{x}" for a in analyses for x in ("mean", "std", "n")]
        + [f"{a.slug}_authors_final_acc_{x}" for a in analyses for x in ("mean", "std", "n")]
        + ["run_as"]
    )
    rows, csv_rows = [], []
    for label in labels:
        cells, nums, authors = [], [], []
        here = [(a, s) for a in analyses for s in a.settings if s.label == label]
        texts = {a.title: s.run_as.text() for a, s in here}
        ran = (
            texts.popitem()[1]
            if len(set(texts.values())) == 1
            else "; ".join(f"{t}: {x}" for t, x in texts.items())
        )
        for a in analyses:
            s = next((s for s in a.settings if s.label == label), None)
            st = s.stat("final_acc") if s is not None else Stat(math.nan, math.nan, 0)
            ref = " (ref)" if s is not None and s is a.baseline and a.start is None else ""
            cells.append(st.text(2) + (f" (n={st.n})" if st.n else "") + ref)
            nums += [st.mean, st.std, st.n]
            avg = authors_metrics(s.runs) if s is not None else None
            seeds = f" ({avg['seeds']} seeds)" if avg is not None else ""
            value = float(avg["final_acc"]) if avg is not None else math.nan
            cells.append(Stat.of([value]).text(2) + seeds)
            authors += [value, math.nan, 1 if avg is not None else 0]
        rows.append([label, ran, *cells])
        csv_rows.append([label, *nums, *authors, ran])
    note = (
        "Final searched model: mean GT accuracy of the top-k pool architectures by super-net accuracy "
        "(k as each column says); mean ± sample std over seeds. A setting is named as the CLI named "
        "its runs (LABEL-sSEED); (ref) marks each column's reference setting, listed first; in the "
        "paper's protocol the first row, Random NAS (ours), is the tuned baseline. " + RUN_AS_NOTE
    )
    return Table(
        "table_final",
        "Final searched model (paper Table 5 form)",
        csv_header,
        csv_rows,
        header,
        rows,
        note,
        lead=2,
        groups=[scope_group(a, 2) for a in analyses],
        short=short,
        empty=NO_RUNS,
        definitions=definitions_note(a.space for a in analyses),
    )


def settings_table(analyses: list[SpaceAnalysis]) -> Table:
    header = (
        ["Space", "Data", "Setting", "Run as", "Seeds", "Diverged"]
        + [m[1] if m[0] != "final_acc" else "final acc (top-k)" for m in TABLE_METRICS]
        + ["k"]
    )
    csv_header = (
        [
            "space",
            "data",
            "setting",
            "setting_hash",
            "seeds",
            "runs",
            "finished",
            "diverged",
            "top_k",
        ]
        + [f"{m}_{x}" for m in METRICS for x in ("mean", "std", "n")]
        + ["run_as"]
    )
    rows, csv_rows = [], []
    for a in analyses:
        for s in a.settings:
            seeds = " ".join(str(r.seed) for r in s.runs)
            div = sum(1 for r in s.runs if r.status == "diverged")
            k = top_k_text(s.runs).removeprefix("top-")
            cells = [s.stat(m).text(d) for m, _, d in TABLE_METRICS]
            ran = s.run_as.text()
            rows.append([space_title(a.space), a.dataset, s.label, ran, seeds, str(div), *cells, k])
            nums = [x for m in METRICS for st in [s.stat(m)] for x in (st.mean, st.std, st.n)]
            full = s.run_as.text(limit=None)
            csv_rows.append(
                [a.space, a.dataset, s.label, s.key, seeds, len(s.runs), len(s.finished), div, k, *nums, full]
            )
    return Table(
        "settings",
        "All settings",
        csv_header,
        csv_rows,
        header,
        rows,
        "One row per setting (runs that differ only in their seed, each seed once). "
        + METRIC_NOTE
        + " "
        + RUN_AS_NOTE,
        empty=NO_RUNS,
        left=(0, 1, 2, 3),
    )


def gt_file_text(r: RunRecord) -> str:
    """The ground-truth file a run scored against (`DARTS.json (mixed)`), as its summary records it;
    `?` for a run from before wsnas recorded it."""
    bench = r.summary.get("benchmark") or {}
    name = bench.get("file") or "?"
    return f"{name} ({bench['macro']})" if bench.get("macro") else str(name)


def runs_table(analyses: list[SpaceAnalysis], root: Path) -> Table:
    header = (
        ["Space", "Data", "Setting", "Seed", "Status"]
        + [m[1] for m in TABLE_METRICS]
        + ["GT file", "Run dir"]
    )
    csv_header = ["space", "data", "setting", "seed", "status", *METRICS, "run_dir", "gt_file"]
    rows, csv_rows = [], []
    for a in analyses:
        for s in a.settings:
            for r in s.runs:
                rel = os.path.relpath(r.path, root)
                rows.append(
                    [
                        space_title(a.space),
                        a.dataset,
                        s.label,
                        str(r.seed),
                        r.status,
                        *[Stat.of([r.metric(m)]).text(d) for m, _, d in TABLE_METRICS],
                        gt_file_text(r),
                        rel,
                    ]
                )
                csv_rows.append(
                    [
                        a.space,
                        a.dataset,
                        s.label,
                        r.seed,
                        r.status,
                        *[r.metric(m) for m in METRICS],
                        str(r.path),
                        gt_file_text(r),
                    ]
                )
    note = (
        "GT file: the ground-truth file each run scored against (for DARTS-NDS with its network sizes: "
        "mixed for NDS's DARTS.json, the authors' file, or one wWdD for DARTS_fix-w-d.json)."
    )
    text = (0, 1, 2, 4, len(header) - 2, len(header) - 1)
    return Table("runs", "All runs", csv_header, csv_rows, header, rows, note, empty=NO_RUNS, left=text)
