"""index.html: the report's one page, linking its tables (inline) and figures.

The page is read at a glance: the header counts every run read (super-net and estimator runs)
and says, per scope, what was run (`wsnas.report.runas`); each table writes its scope once over
its columns; the paper's and the authors' metric definitions are explained in one sentence
where they first appear; a section with nothing to show says why; doc references are links to
the docs of the source checkout when there is one (`doc_links`).
"""

from __future__ import annotations

import html
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

from wsnas.report.analysis import SpaceAnalysis
from wsnas.report.definitions import definitions_sentence
from wsnas.report.estimators import EstimateCount
from wsnas.report.figures import FigureFile
from wsnas.report.runs import RunRecord
from wsnas.report.tables import Table

CSS = """body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;
margin:.5em 0}td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px;text-align:right}
td{white-space:nowrap}td.l,th.l{text-align:left;white-space:normal}th.scope{text-align:center;background:#f2f2f2}
.runas{font-weight:normal;font-size:12px;color:#555}figure{display:inline-block;margin:1em;
vertical-align:top}figure img{max-width:100%;border:1px solid #ddd}.note{color:#555;font-size:13px}
.defs{font-size:14px;border-left:3px solid #88a;padding-left:.6em}.empty{font-style:italic;color:#555}
.files{font-size:12px}.warn{background:#fff3cd;border:1px solid #e0c060;padding:.3em 1em;margin:1em 0}"""
DOCS = Path(__file__).resolve().parents[3] / "docs"
"""The docs of a source checkout (`pip install -e .`); an installed wheel has none."""
NO_ESTIMATES = EstimateCount()
DOC_REF = re.compile(r"(?<![\w/.])docs/([\w-]+\.md)(#[\w-]+)?")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def counts_text(runs: list[RunRecord], analyses: list[SpaceAnalysis], estimates: EstimateCount) -> str:
    """`6 super-net runs in 2 settings and 1 estimator run (7 estimators)`: every run read."""
    settings = sum(len(a.settings) for a in analyses)
    text = f"{_plural(len(runs), 'super-net run')} in {_plural(settings, 'setting')}"
    if estimates.runs:
        text += (
            f" and {_plural(estimates.runs, 'estimator run')} "
            f"({_plural(estimates.estimators, 'estimator')} scored)"
        )
    return text


def doc_links(page: str, out: Path, docs: Path = DOCS) -> str:
    """PAGE with each reference to a docs page in its text (with its anchor, if any) made a link to
    that file of DOCS, relative to the report folder OUT (so a report written in a checkout opens
    its docs); a page DOCS lacks stays text."""

    def link(m: re.Match[str]) -> str:
        target = docs / m.group(1)
        if not target.is_file():
            return m.group(0)
        href = Path(os.path.relpath(target, out)).as_posix() + (m.group(2) or "")
        return f"<a href='{html.escape(href)}'>{m.group(0)}</a>"

    parts = re.split(r"(<[^>]*>)", page)  # text between tags only: never inside an attribute
    inside_a = False
    for i, part in enumerate(parts):
        if part.startswith("<"):
            inside_a = (inside_a or part.lower().startswith("<a ")) and not part.lower().startswith("</a")
        elif not inside_a:
            parts[i] = DOC_REF.sub(link, part)
    return "".join(parts)


def index_html(
    runs: list[RunRecord],
    analyses: list[SpaceAnalysis],
    tables: list[Table],
    figures: list[FigureFile],
    sources: Sequence[str],
    skipped: list[str],
    notes: Sequence[str] = (),
    out: Path | None = None,
    estimates: EstimateCount = NO_ESTIMATES,
) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>wsnas report</title>",
        f"<style>{CSS}</style></head><body><h1>wsnas report</h1>",
        f"<p>{esc(counts_text(runs, analyses, estimates))}, read from "
        + ", ".join(f"<code>{esc(s)}</code>" for s in sources)
        + f"; generated {esc(time.strftime('%Y-%m-%d %H:%M:%S'))}. How to read it: docs/report.md.</p><ul>",
    ]
    for a in analyses:
        factors = ", ".join(f"<code>{esc(f.key)}</code>" for f in a.factors) or "none"
        parts.append(
            f"<li>{esc(a.title)}: run as <b>{esc(a.run_as)}</b>; {_plural(len(a.settings), 'setting')}, "
            f"{_plural(sum(len(s.runs) for s in a.settings), 'run')}; final searched model = "
            f"{esc(a.top_k)}; factors: {factors}</li>"
        )
    parts.append("</ul>")
    if notes:
        parts.append(
            "<div class='warn'><b>Warnings</b><ul>"
            + "".join(f"<li>{esc(n)}</li>" for n in notes)
            + "</ul></div>"
        )
    if skipped:
        parts.append(
            "<p class='note'>Skipped run dirs:</p><ul>"
            + "".join(f"<li><code>{esc(s)}</code></li>" for s in skipped)
            + "</ul>"
        )
    parts.append("<h2>Tables</h2>")
    explained = False
    for t in tables:
        if t.definitions and t.rows and not explained:  # where [paper] and [authors] first appear
            parts.append(f"<p class='defs'>{esc(definitions_sentence(a.space for a in analyses))}</p>")
            explained = True
        parts.append(t.html())
    parts.append("<h2>Figures</h2>")
    if not figures:
        parts.append(f"<p class='empty'>{esc(no_figures_reason(runs))}</p>")
    for f in figures:
        parts.append(
            f"<figure><img src='figures/{esc(f.name)}' alt='{esc(f.title)}'>"
            f"<figcaption><b>{esc(f.title)}</b><br><span class='note'>{esc(f.caption)}"
            "</span></figcaption></figure>"
        )
    parts.append("</body></html>\n")
    page = "\n".join(parts)
    return doc_links(page, out) if out is not None else page


def no_figures_reason(runs: list[RunRecord]) -> str:
    """Why the page has no figure, in the terms of the runs read."""
    if not runs:
        return "No figures: no super-net runs were read, and the estimator runs record no cost to plot."
    if not any(r.finished for r in runs):
        return "No figures: no super-net run finished (diverged runs have no final evaluation to plot)."
    return "No figures: the runs hold no evaluation records to plot."
