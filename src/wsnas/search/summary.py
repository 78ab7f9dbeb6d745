"""What a search found, scored against the ground truth: summary.json's numbers.

After n evaluations the found architecture is the fittest row so far; rows tied at the
best fitness count as the expectation over them (the project's tie rule: a search that
cannot tell them apart picks one at random). Regret = the benchmark's best GT minus the
found GT. P>R at a budget of n evaluations = (1 - r / r_max)^n, the chance that n
architectures drawn uniformly all rank below the found one (docs/background.md#pr; the paper's
n is 3, the top-3 of its final searched model, given as `pbr_top_k`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wsnas.core.metrics import prob_beats_random
from wsnas.search.oracle import Row

CHECKPOINTS = (10, 20, 50)
"""Evaluation counts of the regret curve: these, then 100, 200, 500, 1000, ... up to the budget."""


def checkpoints(budget: int) -> list[int]:
    out = [c for c in CHECKPOINTS if c <= budget]
    scale = 100
    while scale <= budget:
        out += [c * scale for c in (1, 2, 5) if c * scale <= budget]
        scale *= 10
    return sorted(set(out) | {budget})


def found_after(rows: list[Row], evals: int) -> list[Row]:
    """The rows tied at the best fitness among those asked within EVALS evaluations."""
    seen = [r for r in rows if r.evals <= evals]
    if not seen:
        return []
    best = max(r.fitness for r in seen)
    return [r for r in seen if r.fitness == best]


def score(found: list[Row], best_gt: float, total: int, n: int, top_k: int) -> dict[str, Any]:
    """GT, rank, regret and P>R of FOUND (tied rows: their means); None where a GT is unknown."""
    if not found or any(r.gt_acc is None or r.gt_rank is None for r in found):
        unknown = dict.fromkeys(("gt_acc", "gt_rank", "regret", "pbr", "pbr_top_k"))
        return {**unknown, "tied": len(found)}
    gt = float(np.mean([r.gt_acc for r in found]))
    ranks = [int(r.gt_rank) for r in found]  # type: ignore[arg-type]
    return {
        "gt_acc": gt,
        "gt_rank": ranks[0] if len(set(ranks)) == 1 else float(np.mean(ranks)),  # an integer unless tied
        "regret": best_gt - gt,
        "pbr": float(np.mean([prob_beats_random(r, total, max(n, 1)) for r in ranks])),
        "pbr_top_k": float(np.mean([prob_beats_random(r, total, top_k) for r in ranks])),
        "tied": len(found),
    }


def summarize_search(rows: list[Row], budget: int, bench: Any, top_k: int) -> dict[str, Any]:
    """The found architecture at the end and the regret curve at `checkpoints(budget)`."""
    best = bench.best()
    evals = rows[-1].evals if rows else 0
    found = found_after(rows, evals)
    final = score(found, best["acc"], bench.size, evals, top_k)
    curve = [
        {"evals": c, **score(found_after(rows, c), best["acc"], bench.size, c, top_k)}
        for c in checkpoints(budget)
        if c <= evals
    ]
    return {
        "evals": evals,
        "rows": len(rows),
        "found": {
            "arch": found[0].arch if found else None,
            "canonical": found[0].canonical if found else None,
            "fitness": found[0].fitness if found else None,
            "tied_archs": [r.arch for r in found],
            **final,
        },
        "benchmark_best": {"arch": best["arch"], "gt_acc": best["acc"], "size": bench.size},
        "regret_after": curve,
        "definitions": {
            "evals": "super-net evaluations (an encoding whose path was evaluated before is free)",
            "found": "the fittest architecture so far; ties at the best fitness count as their mean",
            "regret": "benchmark's best GT accuracy minus the found architecture's GT accuracy (points)",
            "gt_rank": "architectures of the benchmark with higher GT (0 = best; printed for people + 1)",
            "pbr": "(1 - gt_rank / benchmark size)^evals: P>R against uniform search of the same budget",
            "pbr_top_k": f"(1 - gt_rank / benchmark size)^{top_k}: P>R, n = the run's top-k "
            "(its eval.metric_definition)",
            "wall_time_s": "the search's time over all attempts (trajectory.csv `seconds`), without loading",
        },
    }
