"""The report's figures (PNG, matplotlib's object API): the paper's Figs. 4-11 forms.

Each fig_* function draws one figure into a folder and returns its FigureFile (name,
title, caption), or None when the runs give it nothing to show. Every figure of a scope
is titled with the benchmark's name and the data set, and its file is named by both.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.report.analysis import PAIR_METRICS, Factor, Setting, SpaceAnalysis, Stat, spearman_pairs
from wsnas.report.labels import SHORT_WIDTH, short_label
from wsnas.report.runs import RunRecord, canon, show
from wsnas.report.settings import scope_of, scope_order
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


def save_figure(fig: Any, path: Path) -> None:
    """Save FIG with everything it draws inside the image (labels beside the axes, footnotes)."""
    fig.savefig(path, dpi=90, bbox_inches="tight", pad_inches=0.05)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def _short(label: str, width: int = SHORT_WIDTH, notes: list[str] | None = None) -> str:
    """`short_label`; a shortened label gets a `[n]` mark and its full text in NOTES (the footnote)."""
    short = short_label(label, width)
    if short == label or notes is None:
        return short
    if label not in notes:
        notes.append(label)
    return f"{short} [{notes.index(label) + 1}]"


def _footnote(fig: Any, notes: list[str]) -> None:
    """The full labels of the shortened ones, under the figure."""
    if notes:
        text = "\n".join(f"[{i}] {full}" for i, full in enumerate(notes, start=1))
        fig.text(0.005, 0.0, text, fontsize=6, va="top", ha="left", wrap=True)


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
    notes: list[str] = []
    for ax, (s, per_seed) in zip(axes.flat, data, strict=False):
        ax.hist(
            [x for _, x in per_seed], bins=bins, stacked=True, label=[f"seed {seed}" for seed, _ in per_seed]
        )
        ax.set_title(_short(s.label, notes=notes), fontsize=9)
        ax.set_xlabel("super-net accuracy (%)")
    for ax in list(axes.flat)[len(data) :]:
        ax.set_visible(False)
    axes.flat[0].set_ylabel("architectures")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{a.title}: super-net accuracy of the pool (last evaluation)")
    _footnote(fig, notes)
    name = f"fig4_hist_{_safe(a.slug)}.png"
    save_figure(fig, out / name)
    return FigureFile(
        name,
        f"{a.title}: super-net accuracy histograms (Fig. 4)",
        "Per setting, the pool architectures' super-net accuracy at the last evaluation; seeds stacked.",
    )


def fig_factor(a: SpaceAnalysis, f: Factor, out: Path) -> FigureFile:
    """Figs. 5-7, 9: each table metric against the factor's values, mean ± std over seeds."""
    fig, axes = _figure(1, len(TABLE_METRICS), 3.0, 2.8)
    xs = np.arange(len(f.values))
    for ax, (metric, title, _) in zip(axes.flat, TABLE_METRICS, strict=True):
        stats = [f.stat(v, metric) for v in f.values]
        means = np.array([s.mean for s in stats])
        stds = np.array([s.std if math.isfinite(s.std) else 0.0 for s in stats])
        ax.errorbar(xs, means, yerr=stds, fmt="o-", capsize=4)
        ax.set_xticks(
            xs, [_short(f.text(v), 14) for v in f.values], rotation=30 if len(xs) > 3 else 0, fontsize=8
        )
        ax.set_title(f"{title} ({a.top_k})" if metric == "final_acc" else title)
        ax.grid(alpha=0.3)
    pooled = " (pooled over the other factors)" if f.pooled else ""
    against = f" (around the {f.against})" if f.against != "reference" else ""
    fig.suptitle(f"{a.title}: {f.key}{pooled}{against}")
    name = f"fig_factor_{_safe(a.slug)}_{_safe(f.key)}.png"
    save_figure(fig, out / name)
    return FigureFile(
        name,
        f"{a.title}: metrics vs {f.key} (Figs. 5-7, 9)",
        "Mean ± sample std over seeds at each value of the factor.",
    )


def sampler_family(a: SpaceAnalysis) -> list[Setting]:
    """The settings Fig. 8c compares: one setting's runs with each sampler, nothing else varied.

    With a sampler factor, the settings that differ from each other only in the sampler (the
    group holding the baseline, else the largest; a grid's other groups are never pooled in);
    without one, the baseline alone."""
    f = next((f for f in a.factors if f.key == "sampler.name"), None)
    if f is None:
        return [a.baseline]
    members = list({s.key: s for ss in f.settings.values() for s in ss}.values())
    groups: dict[str, list[Setting]] = {}
    for s in members:
        rest = canon({k: v for k, v in s.experiment.items() if k != f.key})
        groups.setdefault(rest, []).append(s)
    with_base = [g for g in groups.values() if a.baseline in g]
    family = with_base[0] if with_base else max(groups.values(), key=len)
    order = [canon(v) for v in f.values]
    return sorted(
        family, key=lambda s: order.index(s.value(f.key)) if s.value(f.key) in order else len(order)
    )


def fig_skdt_epochs(a: SpaceAnalysis, out: Path) -> FigureFile | None:
    """Fig. 8c: s-KdT over training epochs, one line per sampler, all within one setting."""
    family = sampler_family(a)
    fig, axes = _figure(1, 1, 5.0, 3.4)
    ax, drawn = axes[0, 0], False
    for s in family:
        by_epoch: dict[int, list[float]] = {}
        for r in s.runs:
            for e in r.eval_log():
                v = e.get("skdt")
                if isinstance(v, int | float):
                    by_epoch.setdefault(int(e["epoch"]), []).append(float(v))
        if not by_epoch:
            continue
        epochs = sorted(by_epoch)
        stats = [Stat.of(by_epoch[e]) for e in epochs]
        ax.errorbar(
            epochs,
            [st.mean for st in stats],
            yerr=[st.std if math.isfinite(st.std) else 0.0 for st in stats],
            fmt="o-",
            capsize=3,
            label=f"{show(s.experiment.get('sampler.name'))} (n={len(s.runs)})",
        )
        drawn = True
    if not drawn:
        return None
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("s-KdT")
    ax.grid(alpha=0.3)
    ax.legend(title="sampler")
    held = a.baseline.label if len(family) == 1 else _common_label(a, family)
    notes: list[str] = []
    ax.set_title(f"{a.title}: s-KdT during training\n{_short(held, 60, notes)}", fontsize=10)
    _footnote(fig, notes)
    name = f"fig8_skdt_epochs_{_safe(a.slug)}.png"
    save_figure(fig, out / name)
    return FigureFile(
        name,
        f"{a.title}: s-KdT over epochs per sampler (Fig. 8c)",
        "One line per sampler, all other config values equal (" + held + "); from each run's "
        "evaluation records (log.jsonl), mean ± sample std over the setting's seeds. Settings "
        "that differ in anything but the sampler are never pooled into a line.",
    )


def _common_label(a: SpaceAnalysis, family: list[Setting]) -> str:
    """What the settings of FAMILY share, in words: the setting around which the sampler varies."""
    base = next((s for s in family if s is a.baseline), None)
    if base is not None:
        return f"around {base.label}"
    return "settings " + ", ".join(s.label for s in family)


EFFECT_METRICS = (
    ("supernet_acc_mean", "super-net acc (points)"),
    ("skdt", "s-KdT"),
    ("final_acc", "final acc (points)"),
)
"""Fig. 10's panels: each factor value's effect on these metrics."""


def fig_effects(a: SpaceAnalysis, out: Path) -> FigureFile | None:
    """Fig. 10: each factor value minus the factor's reference value, on super-net accuracy, s-KdT
    and final accuracy (one panel each, the same bars)."""
    bars: list[tuple[str, Factor, Any]] = []
    for f in a.factors:
        for v in f.values:
            if (
                canon(v) != canon(f.reference)
                and f.stat(v, "final_acc").n
                and f.stat(f.reference, "final_acc").n
            ):
                vs = f" (vs {f.against})" if f.against != "reference" else ""
                bars.append((f"{f.key}={f.text(v)}{vs}", f, v))
    if not bars:
        return None
    fig, axes = _figure(1, len(EFFECT_METRICS), 4.2, 1.2 + 0.35 * len(bars))
    ys = np.arange(len(bars))
    notes: list[str] = []
    for i, (ax, (metric, title)) in enumerate(zip(axes.flat, EFFECT_METRICS, strict=True)):
        deltas, errs = [], []
        for _, f, v in bars:
            st, ref = f.stat(v, metric), f.stat(f.reference, metric)
            deltas.append(st.mean - ref.mean if st.n and ref.n else math.nan)
            errs.append(math.sqrt(sum(x**2 for x in (st.std, ref.std) if math.isfinite(x))))
        ax.barh(
            ys,
            np.nan_to_num(deltas),
            xerr=errs,
            capsize=3,
            color=["tab:green" if d >= 0 else "tab:red" for d in np.nan_to_num(deltas)],
        )
        ax.set_yticks(ys, [_short(b[0], 60, notes) for b in bars] if i == 0 else [], fontsize=8)
        ax.axvline(0.0, color="black", lw=0.8)
        ax.invert_yaxis()
        ax.set_xlabel(f"Δ {title}")
        ax.set_title(title.split(" (")[0] + (f" ({a.top_k})" if metric == "final_acc" else ""), fontsize=10)
    fig.suptitle(f"{a.title}: effect of each factor vs its reference value")
    _footnote(fig, notes)
    name = f"fig10_effects_{_safe(a.slug)}.png"
    save_figure(fig, out / name)
    return FigureFile(
        name,
        f"{a.title}: per-factor effect on super-net accuracy, s-KdT and final accuracy (Fig. 10)",
        "Mean at each value minus the mean at the factor's reference value (marked (ref) in "
        "the factor table; in the paper's protocol the hyper-parameters against the starting "
        "point, every other factor against the tuned baseline, as each bar says), for "
        "super-net accuracy, s-KdT and final accuracy; error bars combine both stds.",
    )


def fig_pairs(runs: list[RunRecord], out: Path) -> FigureFile | None:
    """Fig. 11: each pair of metrics across all runs, with their Spearman correlation."""
    finished = [r for r in runs if r.finished]
    if not finished:
        return None
    pairs = spearman_pairs(runs)
    titles = dict(PAIR_METRICS)
    ncols = 5
    fig, axes = _figure(math.ceil(len(pairs) / ncols), ncols, 2.8, 2.6)
    scopes = sorted({scope_of(r) for r in finished}, key=scope_order)
    for ax, (ma, mb, rho, n) in zip(axes.flat, pairs, strict=False):
        for sc in scopes:
            rs = [r for r in finished if scope_of(r) == sc]
            ax.scatter([r.metric(ma) for r in rs], [r.metric(mb) for r in rs], s=14, label=sc.title)
        ax.set_xlabel(titles[ma], fontsize=8)
        ax.set_ylabel(titles[mb], fontsize=8)
        ax.set_title(f"ρ = {rho:.2f} (n={n})" if math.isfinite(rho) else f"ρ undefined (n={n})", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(pairs) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("Pairwise metrics across runs, Spearman ρ")
    name = "fig11_metric_pairs.png"
    save_figure(fig, out / name)
    return FigureFile(
        name,
        "Metric pairs across runs (Fig. 11)",
        "Every finished run is a point (colour = space and data set); ρ is Spearman's rank "
        "correlation "
        "over all runs (undefined with fewer than 3 runs or a constant metric).",
    )
