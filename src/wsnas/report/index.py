"""index.html: the report's one page, linking its tables (inline) and figures."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence

from wsnas.report.analysis import SpaceAnalysis
from wsnas.report.figures import FigureFile
from wsnas.report.runs import RunRecord
from wsnas.report.tables import Table

CSS = """body{font-family:sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse;
margin:.5em 0}td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px;text-align:right}
td:first-child,th:first-child,td:nth-child(2){text-align:left}figure{display:inline-block;margin:1em;
vertical-align:top}figure img{max-width:100%;border:1px solid #ddd}.note{color:#555;font-size:13px}
.files{font-size:12px}.warn{background:#fff3cd;border:1px solid #e0c060;padding:.3em 1em;margin:1em 0}"""


def index_html(
    runs: list[RunRecord],
    analyses: list[SpaceAnalysis],
    tables: list[Table],
    figures: list[FigureFile],
    sources: Sequence[str],
    skipped: list[str],
    notes: Sequence[str] = (),
) -> str:
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
        parts.append(
            f"<li>{esc(a.title)}: {len(a.settings)} settings, "
            f"{sum(len(s.runs) for s in a.settings)} runs; final searched model = {esc(a.top_k)}; "
            f"factors: {factors}</li>"
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
    parts += [t.html() for t in tables]
    parts.append("<h2>Figures</h2>")
    for f in figures:
        parts.append(
            f"<figure><img src='figures/{esc(f.name)}' alt='{esc(f.title)}'>"
            f"<figcaption><b>{esc(f.title)}</b><br><span class='note'>{esc(f.caption)}"
            "</span></figcaption></figure>"
        )
    parts.append("</body></html>\n")
    return "\n".join(parts)
