"""The report's search section: regret-vs-evaluations curves and the found architectures' GT.

Reads every RUN_DIR/search/*/ (`wsnas search`) of the report's runs. Searches are grouped by
the run's setting, the algorithm (with its options), the budget and how fitness was measured
(validation images, eval batch, numerics, checkpoint epoch), so searches that would not be
comparable never share a curve; within a group the spread is over search seeds and runs.
Next to each group the table shows the setting's final searched model (the paper's metric:
mean GT of the top 3 of the evaluation pool by super-net accuracy).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.core.atomic import write_text_atomic
from wsnas.core.errors import WsnasError
from wsnas.report.analysis import SpaceAnalysis, Stat, space_title
from wsnas.report.figures import FigureFile, _figure, save_figure
from wsnas.report.tables import Table
from wsnas.search.oracle import Row
from wsnas.search.run import SEARCH_DIR
from wsnas.search.trajectory import read_trajectory

FITNESS_KEYS = (
    "split",
    "valid_images",
    "valid_held_out_from_training",
    "gt_disjoint_from_valid",
    "eval_batch_size",
    "numerics",
    "checkpoint_epoch",
)
"""What of a search's fitness must agree for two searches to share a curve."""
LINESTYLES = ("-", "--", "-.", ":")
"""Searches often share their start (evolution's first population is random search's first draws)."""


@dataclass
class SearchGroup:
    space: str
    setting: str
    """The run setting's label in the report."""
    algo: str
    budget: int
    fitness: dict[str, Any]
    final_acc: Stat
    """The setting's final searched model (mean GT of the pool's top 3), over its runs."""
    summaries: list[dict[str, Any]] = field(default_factory=list)
    curves: list[np.ndarray] = field(default_factory=list)
    """Regret after 1..n evaluations, one array per search."""

    @property
    def label(self) -> str:
        return f"{self.algo}, budget {self.budget}"


def regret_curve(rows: list[Row], best_gt: float) -> np.ndarray:
    """Regret after 1, 2, ..., n evaluations (NaN where the found archs' GT is unknown); ties: mean."""
    if not rows:
        return np.zeros(0)
    out = np.full(rows[-1].evals, math.nan)
    best, tied = -math.inf, []
    for i, r in enumerate(rows):
        if r.fitness > best:
            best, tied = r.fitness, [r]
        elif r.fitness == best:
            tied.append(r)
        if i + 1 < len(rows) and rows[i + 1].evals == r.evals:
            continue  # the next row is free: it belongs to the same evaluation count
        known = [t.gt_acc for t in tied if t.gt_acc is not None]
        regret = best_gt - float(np.mean(known)) if len(known) == len(tied) else math.nan
        out[r.evals - 1 :] = regret
    return out


def _algo_label(s: dict[str, Any]) -> str:
    if s.get("algo") == "evolution":
        return f"evolution (population {s.get('population')}, sample {s.get('sample_size')})"
    return str(s.get("algo"))


def load_searches(analyses: list[SpaceAnalysis]) -> list[SearchGroup]:
    """Every search of the analysed runs, grouped (see the module doc)."""
    groups: dict[tuple[Any, ...], SearchGroup] = {}
    for a in analyses:
        for setting in a.settings:
            label = setting.label or setting.key
            for run in setting.runs:
                for cut in sorted((run.path / SEARCH_DIR).glob("*/trajectory.csv")):
                    if not (cut.parent / "summary.json").exists():
                        print(
                            f"wsnas report: skipped search {cut.parent} (no summary.json: running or "
                            "killed; run the same `wsnas search` again to finish it)",
                            file=sys.stderr,
                        )
                for path in sorted((run.path / SEARCH_DIR).glob("*/summary.json")):
                    try:
                        s = json.loads(path.read_text())
                        budget, best = int(s["budget"]), float(s["benchmark_best"]["gt_acc"])
                        rows = read_trajectory(path.parent / "trajectory.csv")
                        fitness = {k: s["fitness"].get(k) for k in FITNESS_KEYS}
                    except (OSError, ValueError, KeyError, TypeError, AttributeError, WsnasError) as e:
                        print(f"wsnas report: skipped search {path.parent} ({e!r})", file=sys.stderr)
                        continue
                    key = (
                        a.space,
                        setting.key,
                        _algo_label(s),
                        budget,
                        hashlib.sha256(json.dumps(fitness, sort_keys=True).encode()).hexdigest(),
                    )
                    g = groups.setdefault(
                        key,
                        SearchGroup(
                            a.space, label, _algo_label(s), budget, fitness, setting.stat("final_acc")
                        ),
                    )
                    g.summaries.append(s)
                    g.curves.append(regret_curve(rows, best))
    return list(groups.values())


def _fmt(st: Stat, digits: int) -> str:
    return st.text(digits)


def search_table(groups: list[SearchGroup]) -> Table:
    header = [
        "Space",
        "Setting",
        "Search",
        "n",
        "Found GT acc",
        "GT rank",
        "Regret @20",
        "Regret (end)",
        "P>R (n = evals)",
        "Final searched model",
        "Fitness split",
    ]
    csv_header = [
        "space",
        "setting",
        "algo",
        "budget",
        "n",
        "found_gt_mean",
        "found_gt_std",
        "gt_rank_mean",
        "regret20_mean",
        "regret20_std",
        "regret_mean",
        "regret_std",
        "pbr_mean",
        "final_acc_mean",
        "final_acc_std",
        "valid_images",
        "valid_held_out",
        "restricted",
    ]
    rows, csv_rows = [], []
    for g in groups:
        found = [s["found"] for s in g.summaries]
        gt = Stat.of(_num(f.get("gt_acc")) for f in found)
        rank = Stat.of(_num(f.get("gt_rank")) for f in found)
        reg = Stat.of(_num(f.get("regret")) for f in found)
        pbr = Stat.of(_num(f.get("pbr")) for f in found)
        r20 = Stat.of(float(c[19]) if len(c) >= 20 else math.nan for c in g.curves)
        restricted = any(s.get("moves", {}).get("restricted_to_benchmark") for s in g.summaries)
        held = g.fitness.get("valid_held_out_from_training")
        split = f"valid, {g.fitness.get('valid_images')} images" + ("" if held else " (seen in training)")
        if g.fitness.get("gt_disjoint_from_valid") is False:
            split += " (GT not a test accuracy: may overlap)"
        search = g.label + (" [benchmark archs only]" if restricted else "")
        rows.append(
            [
                space_title(g.space),
                g.setting,
                search,
                str(len(g.summaries)),
                _fmt(gt, 2),
                _fmt(rank, 1),
                _fmt(r20, 2),
                _fmt(reg, 2),
                _fmt(pbr, 3),
                _fmt(g.final_acc, 2),
                split,
            ]
        )
        csv_rows.append(
            [
                g.space,
                g.setting,
                g.algo,
                g.budget,
                len(g.summaries),
                gt.mean,
                gt.std,
                rank.mean,
                r20.mean,
                r20.std,
                reg.mean,
                reg.std,
                pbr.mean,
                g.final_acc.mean,
                g.final_acc.std,
                g.fitness.get("valid_images"),
                held,
                restricted,
            ]
        )
    note = (
        "`wsnas search` results, mean ± std over searches (search seeds and runs of the setting). "
        "Fitness: super-net accuracy on validation images, never the test split; GT = the benchmark's "
        "accuracy. Regret = best GT of the benchmark - found GT (ties at the best fitness: their mean). "
        "Final searched model: the paper's metric of the same runs (top 3 of the evaluation pool)."
    )
    title = "Search: found architectures' ground truth"
    return Table("search", title, csv_header, csv_rows, header, rows, note, left=(0, 1, 2, len(header) - 1))


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) else math.nan


def fig_regret(space: str, groups: list[SearchGroup], out: Path) -> FigureFile | None:
    """Regret vs evaluations, one line per group: mean over searches, band = min..max."""
    mine = [g for g in groups if g.space == space and g.curves]
    if not mine:
        return None
    fig, axes = _figure(1, 1, 5.5, 3.6)
    ax = axes[0, 0]
    settings = {g.setting for g in mine}
    for k, g in enumerate(mine):
        n = min(len(c) for c in g.curves)
        if n == 0:
            continue
        stack = np.vstack([c[:n] for c in g.curves])
        x = np.arange(1, n + 1)
        label = g.label if len(settings) == 1 else f"{g.setting}: {g.label}"
        (line,) = ax.plot(
            x,
            np.nanmean(stack, axis=0),
            LINESTYLES[k % len(LINESTYLES)],
            label=f"{label} (n={len(g.curves)})",
        )
        ax.fill_between(
            x, np.nanmin(stack, axis=0), np.nanmax(stack, axis=0), color=line.get_color(), alpha=0.2
        )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # evaluations are counts
    ax.set_xlabel("super-net evaluations")
    ax.set_ylabel("regret (GT accuracy points)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"{space_title(space)}: search regret")
    name = f"search_regret_{''.join(c if c.isalnum() else '_' for c in space)}.png"
    save_figure(fig, out / name)
    return FigureFile(
        name,
        f"{space_title(space)}: regret vs evaluations per search algorithm",
        "From each search's trajectory.csv (`wsnas search`): mean over searches "
        "(seeds), band = min..max; fitness on validation images; regret against the "
        "benchmark's best GT.",
    )


@dataclass
class SearchSection:
    tables: list[Table]
    figures: list[FigureFile]
    files: list[Path]
    """The table files written (CSV, Markdown)."""


def search_section(analyses: list[SpaceAnalysis], out: Path) -> SearchSection:
    """Write the search table (OUT/tables) and one regret figure per space (OUT/figures); nothing
    when no run has searches."""
    groups = load_searches(analyses)
    if not groups:
        return SearchSection([], [], [])
    table = search_table(groups)
    files = []
    for ext, text in (("csv", table.csv_text()), ("md", table.markdown())):
        path = out / "tables" / f"{table.name}.{ext}"
        write_text_atomic(path, text)
        files.append(path)
    figs = [fig_regret(a.space, groups, out / "figures") for a in analyses]
    return SearchSection([table], [f for f in figs if f is not None], files)
