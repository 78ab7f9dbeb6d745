"""The report's figures (PNG, matplotlib's object API): the paper's Figs. 4-11 forms.

Each fig_* function draws one figure into a folder and returns its FigureFile (name,
title, caption), or None when the runs give it nothing to show.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.report.analysis import (
    PAIR_METRICS,
    Factor,
    SpaceAnalysis,
    Stat,
    space_order,
    space_title,
    spearman_pairs,
)
from wsnas.report.runs import RunRecord, canon, show
from wsnas.report.tables import TABLE_METRICS


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
        ax.set_xticks(xs, [_short(f.text(v), 14) for v in f.values], rotation=30 if len(xs) > 3 else 0,
                       fontsize=8)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    pooled = " (pooled over the other factors)" if f.pooled else ""
    against = f" (around the {f.against})" if f.against != "reference" else ""
    fig.suptitle(f"{space_title(a.space)}: {f.key}{pooled}{against}")
    name = f"fig_factor_{_safe(a.space)}_{_safe(f.key)}.png"
    fig.savefig(out / name, dpi=90)
    return FigureFile(name, f"{space_title(a.space)}: metrics vs {f.key} (Figs. 5-7, 9)",
                      "Mean ± sample std over seeds at each value of the factor.")


def fig_skdt_epochs(a: SpaceAnalysis, out: Path) -> FigureFile | None:
    """Fig. 8c: s-KdT over training epochs, one line per sampler."""
    f = next((f for f in a.factors if f.key == "sampler.name"), None)
    if f is not None:
        groups = {show(v): f.runs[canon(v)] for v in f.values}
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
            if canon(v) == canon(f.reference):
                continue
            st = f.stat(v, "final_acc")
            if st.n and ref.n:
                err = math.sqrt(sum(x**2 for x in (st.std, ref.std) if math.isfinite(x)))
                vs = f" (vs {f.against})" if f.against != "reference" else ""
                bars.append((f"{f.key}={f.text(v)}{vs}", st.mean - ref.mean, err))
    if not bars:
        return None
    fig, axes = _figure(1, 1, 7.0, 1.2 + 0.35 * len(bars))
    ax = axes[0, 0]
    ys = np.arange(len(bars))
    deltas = [b[1] for b in bars]
    ax.barh(ys, deltas, xerr=[b[2] for b in bars], capsize=3,
            color=["tab:green" if d >= 0 else "tab:red" for d in deltas])
    ax.set_yticks(ys, [_short(b[0], 60) for b in bars], fontsize=8)
    ax.axvline(0.0, color="black", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("Δ final acc (points) vs the factor's reference value")
    ax.set_title(f"{space_title(a.space)}: effect of each factor")
    name = f"fig10_effects_{_safe(a.space)}.png"
    fig.savefig(out / name, dpi=90)
    return FigureFile(name, f"{space_title(a.space)}: per-factor effect on final accuracy (Fig. 10)",
                      "Mean final accuracy at each value minus the mean at the factor's reference value "
                      "(marked (ref) in the factor table; in the paper's protocol the hyper-parameters "
                      "against the starting point, every other factor against the tuned baseline, as "
                      "each bar says); error bars combine both stds.")


def fig_pairs(runs: list[RunRecord], out: Path) -> FigureFile | None:
    """Fig. 11: each pair of metrics across all runs, with their Spearman correlation."""
    finished = [r for r in runs if r.finished]
    if not finished:
        return None
    pairs = spearman_pairs(runs)
    titles = dict(PAIR_METRICS)
    ncols = 5
    fig, axes = _figure(math.ceil(len(pairs) / ncols), ncols, 2.8, 2.6)
    spaces = sorted({r.space for r in finished}, key=space_order)
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

