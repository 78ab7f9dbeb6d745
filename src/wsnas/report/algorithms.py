"""The report's search-algorithm section: every setting of a space side by side, whatever trained it.

A setting trained with a search algorithm (`algorithm.name`) is scored twice: the super-net's
one-shot ranking of the pool (as for Random-NAS) and its learnt distribution's ranking; its final
searched model is the architecture it derives at the last epoch. A setting trained by a sampler
alone has no derived architecture: its final searched model is the paper's (mean GT of the pool's
top k by one-shot accuracy), labelled so. Mean ± std over seeds; runs of different identities are
different settings (`report.settings`), so nothing here averages two of them. One figure per
space: the derived architecture's GT and the parameter-free share of the derived cell per epoch,
one line per algorithm setting (mean, band = min..max over seeds), named as Table 5 names it
(`DARTS-V2, tuned`; `report.table5`). The section also writes Table 5 (`report.table5.table5`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.core.atomic import write_text_atomic
from wsnas.report.analysis import SpaceAnalysis, space_title
from wsnas.report.figures import FigureFile, _figure
from wsnas.report.settings import Setting, Stat
from wsnas.report.table5 import row_name, table5, tuned_setting
from wsnas.report.tables import Table

HEADER = [
    "space",
    "setting",
    "algorithm",
    "final searched model GT",
    "what it is",
    "one-shot s-KdT",
    "distribution s-KdT",
    "parameter-free share",
    "s/epoch",
    "runs",
]


def _algo(s: Setting) -> str:
    return str(s.runs[0].cfg.algorithm.name) if s.runs else "none"


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan


def _final(run: Any, key: str) -> float:
    return _num((run.summary.get("final") or {}).get(key))


def _algorithm(run: Any) -> dict[str, Any]:
    a = run.summary.get("algorithm")
    return a if isinstance(a, dict) else {}


def _row(a: SpaceAnalysis, s: Setting) -> tuple[list[Any], list[str]]:
    runs = s.finished
    algo = _algo(s)
    if algo == "none":
        gt = Stat.of(_final(r, "final_acc") for r in runs)
        what = f"{a.top_k} by one-shot accuracy (mean GT)"
        dist = Stat(math.nan, math.nan, 0)
        free = Stat(math.nan, math.nan, 0)
        secs = Stat.of(_epoch_seconds(r) for r in runs)
    else:
        gt = Stat.of(_num(_algorithm(r).get("final_searched_gt")) for r in runs)
        what = "derived architecture (GT)"
        dist = Stat.of(_final(r, "dist_skdt") for r in runs)
        free = Stat.of(_final(r, "derived_param_free_share") for r in runs)
        secs = Stat.of(_num(_algorithm(r).get("seconds_per_epoch")) for r in runs)
    skdt = Stat.of(_final(r, "skdt") for r in runs)
    label = s.label or s.key
    csv = [a.space, label, algo, gt.mean, what, skdt.mean, dist.mean, free.mean, secs.mean, len(runs)]
    html = [
        space_title(a.space),
        label,
        algo,
        gt.text(2),
        what,
        skdt.text(3),
        dist.text(3),
        free.text(2),
        secs.text(1),
        str(len(runs)),
    ]
    return csv, html


def _epoch_seconds(run: Any) -> float:
    """Median seconds of the run's training epochs (log.jsonl), the measure an algorithm run's
    summary gives (`algorithm.seconds_per_epoch`): evaluations are not in it."""
    try:
        lines = (run.path / "log.jsonl").read_text().splitlines()
        secs = [r["seconds"] for r in map(json.loads, lines) if r.get("type") == "epoch"]
    except (OSError, ValueError, KeyError, TypeError):
        return math.nan
    return float(np.median(secs)) if secs else math.nan


def algorithm_table(analyses: list[SpaceAnalysis]) -> Table | None:
    """One row per setting of every space that holds at least one algorithm run; None without any."""
    csv_rows: list[list[Any]] = []
    rows: list[list[str]] = []
    for a in analyses:
        if not any(_algo(s) != "none" for s in a.settings):
            continue
        for s in sorted(a.settings, key=lambda s: (_algo(s) != "none", _algo(s), s.label or s.key)):
            c, h = _row(a, s)
            csv_rows.append(c)
            rows.append(h)
    if not rows:
        return None
    return Table(
        "search_algorithms",
        "Search algorithms next to sampler-trained super-nets",
        HEADER,
        csv_rows,
        HEADER,
        rows,
        "Measured by wsnas on one protocol per row (its config; the setting label names what departs "
        "from the shipped config). Final searched model: an algorithm's derived architecture at the "
        "last epoch (DARTS/GDAS/DrNAS: per-edge argmax; SETN, ENAS: their own choice); a sampler's: the "
        "paper's mean GT of the top k of the pool by one-shot accuracy. One-shot s-KdT: the pool ranked "
        "by super-net accuracy; distribution s-KdT: ranked by the algorithm's log-probability. s/epoch: "
        "median wall seconds of a training epoch on the run's device (evaluations not included). "
        "Mean ± std over seeds. docs/search.md says what each algorithm follows.",
        left=(0, 1, 2, 4),
    )


def _trajectory(run: Any, key: str) -> dict[int, float]:
    traj = _algorithm(run).get("trajectory") or []
    return {int(t["epoch"]): _num(t.get(key)) for t in traj if isinstance(t, dict) and "epoch" in t}


def fig_derived(a: SpaceAnalysis, out: Path) -> FigureFile | None:
    """Derived architecture GT and parameter-free share vs epoch, one line per algorithm setting."""
    settings = [s for s in a.settings if _algo(s) != "none" and s.finished]
    if not settings:
        return None
    tuned = tuned_setting(a)
    names = {s.key: row_name(s, tuned) for s in settings}
    repeated = {n for n in names.values() if list(names.values()).count(n) > 1}
    fig, axes = _figure(1, 2, 4.6, 3.4)
    for s in sorted(settings, key=lambda s: (names[s.key], s.label or s.key)):
        name = names[s.key] + (f" [{s.label or s.key}]" if names[s.key] in repeated else "")
        for ax, key in ((axes[0, 0], "derived_gt"), (axes[0, 1], "derived_param_free_share")):
            trajs = [_trajectory(r, key) for r in s.finished]
            epochs = sorted(set.intersection(*(set(t) for t in trajs))) if trajs else []
            if not epochs:
                continue
            stack = np.array([[t[e] for e in epochs] for t in trajs])
            (line,) = ax.plot(
                epochs,
                np.nanmean(stack, axis=0),
                marker="o",
                ms=3,
                label=f"{name} (n={len(trajs)})",
            )
            ax.fill_between(
                epochs, np.nanmin(stack, axis=0), np.nanmax(stack, axis=0), color=line.get_color(), alpha=0.2
            )
    axes[0, 0].set_ylabel("GT accuracy of the derived architecture (%)")
    axes[0, 1].set_ylabel("parameter-free share of the derived cell")
    axes[0, 1].set_ylim(-0.05, 1.05)
    for ax in axes[0]:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{space_title(a.space)}: what each search algorithm derives, per epoch", fontsize=9)
    name = f"search_algorithms_{''.join(c if c.isalnum() else '_' for c in a.slug)}.png"
    fig.savefig(out / name, dpi=90, bbox_inches="tight", pad_inches=0.05)
    return FigureFile(
        name,
        f"{space_title(a.space)}: derived architecture per epoch",
        "Left: the ground truth of the architecture each algorithm derives at every evaluation epoch; "
        "right: the share of its edges holding none, skip or pooling (the collapse reported for DARTS "
        "on NB201). One line per setting (tuned: the tuned Random-NAS protocol; own settings: its "
        "reference's, Table 5). Mean over seeds, band = min..max.",
    )


@dataclass
class AlgorithmSection:
    tables: list[Table]
    figures: list[FigureFile]
    files: list[Path]


def algorithm_section(analyses: list[SpaceAnalysis], out: Path) -> AlgorithmSection:
    """Write the algorithm table and Table 5 (OUT/tables) and one figure per space with algorithm
    runs (OUT/figures); nothing when no scope holds an algorithm run or a Table 5 study."""
    tables = [t for t in (algorithm_table(analyses), table5(analyses)) if t is not None]
    files = []
    for table in tables:
        for ext, text in (("csv", table.csv_text()), ("md", table.markdown())):
            path = out / "tables" / f"{table.name}.{ext}"
            write_text_atomic(path, text)
            files.append(path)
    figs = [fig_derived(a, out / "figures") for a in analyses]
    return AlgorithmSection(tables, [f for f in figs if f is not None], files)
