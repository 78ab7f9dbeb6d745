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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsnas.report.analysis import START, TUNED, SpaceAnalysis, Stat, show_value, sort_values, space_title
from wsnas.report.runs import METRICS, canon
from wsnas.report.settings import top_k_text
from wsnas.spaces.table1 import BEYOND_PAPER, table1_rank

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

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in self.rows
        )
        note = f"<p class='note'>{html.escape(self.note)}</p>" if self.note else ""
        links = (
            f"<p class='files'><a href='tables/{self.name}.csv'>CSV</a> · "
            f"<a href='tables/{self.name}.md'>Markdown</a></p>"
        )
        return (
            f"<h3>{html.escape(self.title)}</h3>{note}<table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>{links}"
        )


def _metric_header(a: SpaceAnalysis, title: str) -> str:
    return f"{title} ({a.top_k})" if title == "final acc" else title


def factor_table(analyses: list[SpaceAnalysis]) -> Table:
    """Paper Tables 3 and 4: rows = factor values (Table 1's order), columns = scope x the metrics."""
    slugs = [a.slug for a in analyses]
    header = ["Factor", "Value"] + [
        f"{a.title} {_metric_header(a, m[1])}" for a in analyses for m in TABLE_METRICS
    ]
    csv_header = (
        ["factor", "value"]
        + [f"{sl}_{m[0]}_{x}" for sl in slugs for m in TABLE_METRICS for x in ("mean", "std", "n")]
        + [f"{sl}_reference" for sl in slugs]
    )
    order = sorted({f.key for a in analyses for f in a.factors}, key=table1_rank)
    rows, csv_rows = [], []
    for key in order:
        per_scope = {a.slug: next((f for f in a.factors if f.key == key), None) for a in analyses}
        values: dict[str, Any] = {}
        for f in per_scope.values():
            if f is not None:
                values.update((canon(v), v) for v in f.values)
        for v in sort_values(list(values.values()), key):
            cells, nums, refs = [], [], []
            for sl in slugs:
                f = per_scope[sl]
                has = f is not None and canon(v) in f.runs
                refs.append(bool(has and canon(v) == canon(f.reference)))
                for metric, _, digits in TABLE_METRICS:
                    st = f.stat(v, metric) if has else Stat(math.nan, math.nan, 0)
                    cells.append(st.text(digits))
                    nums += [st.mean, st.std, st.n]
            studied = [
                a for a in analyses if per_scope[a.slug] is not None and canon(v) in per_scope[a.slug].runs
            ]
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
            rows.append([key + (" (beyond the paper)" if key in BEYOND_PAPER else ""), text + mark, *cells])
            csv_rows.append([key, text, *nums, *refs])
    note = (
        "Mean ± sample std over seeds of the final evaluation. Rows of a factor compare settings "
        "that differ only in that factor, in the order of the paper's Table 1 (rows marked beyond the "
        "paper: heuristics published after it); (ref) marks the "
        "reference value (the value the factor is held at while others vary). " + METRIC_NOTE
    )
    if any(f.against != "reference" for a in analyses for f in a.factors):
        note += (
            f" In the paper's protocol the hyper-parameters are compared against the {START} "
            f"(marked ({START}): the stand-alone hyper-parameters, validated sequentially) and every "
            f"other factor against the {TUNED} (marked ({TUNED}): the hyper-parameters' winners); "
            "a value with (+ key=value) changes those keys too."
        )
    return Table(
        "table_factors", "Factors (paper Tables 3 and 4 form)", csv_header, csv_rows, header, rows, note
    )


def final_table(analyses: list[SpaceAnalysis]) -> Table:
    """Paper Table 5: the final searched model's accuracy, rows = settings, columns = scopes."""
    labels: list[str] = []
    for a in analyses:
        ordered = sorted(a.settings, key=lambda s: (s is not a.baseline, s is not a.start))
        labels += [s.label for s in ordered if s.label not in labels]
    header = ["Setting"] + [f"{a.title}, {a.top_k}" for a in analyses]
    csv_header = ["setting"] + [f"{a.slug}_final_acc_{x}" for a in analyses for x in ("mean", "std", "n")]
    rows, csv_rows = [], []
    for label in labels:
        cells, nums = [], []
        for a in analyses:
            s = next((s for s in a.settings if s.label == label), None)
            st = s.stat("final_acc") if s is not None else Stat(math.nan, math.nan, 0)
            ref = " (ref)" if s is not None and s is a.baseline and a.start is None else ""
            cells.append(st.text(2) + (f" (n={st.n})" if st.n else "") + ref)
            nums += [st.mean, st.std, st.n]
        rows.append([label, *cells])
        csv_rows.append([label, *nums])
    note = (
        "Final searched model: mean GT accuracy of the top-k pool architectures by super-net accuracy "
        "(k as each column says); mean ± sample std over seeds. A setting is named as the CLI named "
        "its runs (LABEL-sSEED); (ref) marks each column's reference setting, listed first; in the "
        "paper's protocol the first row, Random NAS (ours), is the tuned baseline."
    )
    return Table(
        "table_final", "Final searched model (paper Table 5 form)", csv_header, csv_rows, header, rows, note
    )


def settings_table(analyses: list[SpaceAnalysis]) -> Table:
    header = (
        ["Space", "Data", "Setting", "Seeds", "Diverged"]
        + [m[1] if m[0] != "final_acc" else "final acc (top-k)" for m in TABLE_METRICS]
        + ["k"]
    )
    csv_header = [
        "space",
        "data",
        "setting",
        "setting_hash",
        "seeds",
        "runs",
        "finished",
        "diverged",
        "top_k",
    ] + [f"{m}_{x}" for m in METRICS for x in ("mean", "std", "n")]
    rows, csv_rows = [], []
    for a in analyses:
        for s in a.settings:
            seeds = " ".join(str(r.seed) for r in s.runs)
            div = sum(1 for r in s.runs if r.status == "diverged")
            k = top_k_text(s.runs).removeprefix("top-")
            cells = [s.stat(m).text(d) for m, _, d in TABLE_METRICS]
            rows.append([space_title(a.space), a.dataset, s.label, seeds, str(div), *cells, k])
            nums = [x for m in METRICS for st in [s.stat(m)] for x in (st.mean, st.std, st.n)]
            csv_rows.append(
                [a.space, a.dataset, s.label, s.key, seeds, len(s.runs), len(s.finished), div, k, *nums]
            )
    return Table(
        "settings",
        "All settings",
        csv_header,
        csv_rows,
        header,
        rows,
        "One row per setting (runs that differ only in their seed, each seed once). " + METRIC_NOTE,
    )


def runs_table(analyses: list[SpaceAnalysis], root: Path) -> Table:
    header = ["Space", "Data", "Setting", "Seed", "Status"] + [m[1] for m in TABLE_METRICS] + ["Run dir"]
    csv_header = ["space", "data", "setting", "seed", "status", *METRICS, "run_dir"]
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
                    ]
                )
    return Table("runs", "All runs", csv_header, csv_rows, header, rows)
