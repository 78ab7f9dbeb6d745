"""The report's tables: the paper's Tables 3-5 forms plus all settings and all runs.

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

from wsnas.config import RunConfig
from wsnas.report.analysis import START, TUNED, SpaceAnalysis, Stat, show_value, sort_values, space_title
from wsnas.report.runs import METRICS, canon, flatten

TABLE_METRICS = (("supernet_acc_mean", "SN acc", 2), ("skdt", "s-KdT", 3), ("final_acc", "final acc", 2),
                 ("pbr", "P>R", 3))
"""The four columns of the paper's Tables 3 and 4, with their display precision."""


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
                values.update((canon(v), v) for v in f.values)
        for v in sort_values(list(values.values())):
            cells, nums, refs = [], [], []
            for sp in spaces:
                f = per_space[sp]
                has = f is not None and canon(v) in f.runs
                refs.append(bool(has and canon(v) == canon(f.reference)))
                for metric, _, digits in TABLE_METRICS:
                    st = f.stat(v, metric) if has else Stat(math.nan, math.nan, 0)
                    cells.append(st.text(digits))
                    nums += [st.mean, st.std, st.n]
            studied = [sp for sp in spaces if per_space[sp] is not None and canon(v) in per_space[sp].runs]
            marked = [sp for sp, ref in zip(spaces, refs, strict=True) if ref]
            against = {f.against for sp in marked for f in [per_space[sp]] if f is not None}
            word = against.pop() if len(against) == 1 and "reference" not in against else "ref"
            mark = "" if not marked else f" ({word})" if marked == studied else (
                f" ({word}: " + ", ".join(space_title(sp) for sp in marked) + ")")
            text = show_value(key, v)
            rows.append([key, text + mark, *cells])
            csv_rows.append([key, text, *nums, *refs])
    note = ("Mean ± sample std over seeds of the final evaluation. Rows of a factor compare settings "
            "that differ only in that factor; (ref) marks the reference value (the value the factor is "
            "held at while others vary).")
    if any(f.against != "reference" for a in analyses for f in a.factors):
        note += (f" In the paper's protocol the hyper-parameters are compared against the {START} "
                 f"(marked ({START}): the stand-alone hyper-parameters, validated sequentially) and every "
                 f"other factor against the {TUNED} (marked ({TUNED}): the hyper-parameters' winners); "
                 "a value with (+ key=value) changes those keys too.")
    return Table("table_factors", "Factors (paper Tables 3 and 4 form)", csv_header, csv_rows, header,
                 rows, note)


def final_table(analyses: list[SpaceAnalysis]) -> Table:
    """Paper Table 5: the final searched model's accuracy, rows = settings, columns = spaces."""
    spaces = [a.space for a in analyses]
    labels: list[str] = []
    for a in analyses:
        ordered = sorted(a.settings, key=lambda s: (s is not a.baseline, s is not a.start))
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
            "mean ± sample std over seeds. 'base' is each space's reference setting; in the paper's "
            "protocol the first row, Random NAS (ours), is the tuned baseline.")
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

