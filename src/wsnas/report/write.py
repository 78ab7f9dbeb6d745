"""write_report: run dirs in, tables, figures and index.html out."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wsnas.core.atomic import write_text_atomic
from wsnas.core.errors import WsnasError
from wsnas.report.algorithms import algorithm_section
from wsnas.report.analysis import analyse_paper, analyse_space, group_settings
from wsnas.report.definitions import clear_cache
from wsnas.report.estimators import estimator_section, find_estimate_dirs
from wsnas.report.figures import (
    FigureFile,
    fig_effects,
    fig_factor,
    fig_histograms,
    fig_pairs,
    fig_skdt_epochs,
)
from wsnas.report.index import index_html
from wsnas.report.runs import load_runs
from wsnas.report.search import search_section
from wsnas.report.study import load_studies
from wsnas.report.tables import factor_table, final_table, runs_table, settings_table
from wsnas.sweep.noise import sequential_notes


@dataclass
class Report:
    """A written report: its folder, index.html, the tables and figures, what was skipped or warned."""

    out: Path
    index: Path
    num_runs: int
    num_settings: int
    tables: list[Path]
    figures: list[Path]
    skipped: list[str]
    warnings: list[str]
    """What the reader must know about the grouping (repeated seeds, several identities of a config)."""
    num_estimate_runs: int = 0
    """`wsnas estimate` run dirs shown (estimators next to the super-nets)."""


def write_report(paths: Sequence[str | os.PathLike], out: str | os.PathLike) -> Report:
    """Read the run dirs under `paths` and write tables, figures and index.html to `out`."""
    clear_cache()
    runs, skipped = load_runs(paths)
    for line in skipped:
        print(f"wsnas report: skipped {line}", file=sys.stderr)
    if not runs and not find_estimate_dirs(paths):
        raise WsnasError(
            "no run dirs (a folder with config.yaml and summary.json) under "
            + ", ".join(str(p) for p in paths)
        )
    out = Path(out)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    studies = load_studies(runs)
    notes: list[str] = []
    analyses = []
    for scope, ss in group_settings(runs, notes).items():
        paper = analyse_paper(scope, ss, studies[scope.space]) if scope.space in studies else None
        analyses.append(paper or analyse_space(scope, ss))
    notes += sequential_notes(sorted({r.path.parent.parent for r in runs}))  # stages won within noise
    for note in notes:
        warnings.warn(f"wsnas report: {note}", stacklevel=2)

    tables = [
        factor_table(analyses),
        final_table(analyses),
        settings_table(analyses),
        runs_table(analyses, out),
    ]
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
    search = search_section(analyses, out)  # the runs' `wsnas search` dirs (wsnas.report.search)
    tables, made, table_files = tables + search.tables, made + search.figures, table_files + search.files
    est = estimator_section(paths, analyses, out)  # `wsnas estimate` runs on the same GT and pool
    tables, made, table_files = tables + est.tables, made + est.figures, table_files + est.files
    algo = algorithm_section(analyses, out)  # search algorithms beside samplers, and Table 5
    tables, made, table_files = tables + algo.tables, made + algo.figures, table_files + algo.files

    index = out / "index.html"
    page = index_html(runs, analyses, tables, made, [str(p) for p in paths], skipped, notes, out, est.count)
    write_text_atomic(index, page)
    return Report(
        out,
        index,
        len(runs),
        sum(len(a.settings) for a in analyses),
        table_files,
        [fig_dir / f.name for f in made],
        skipped,
        notes,
        est.count.runs,
    )
