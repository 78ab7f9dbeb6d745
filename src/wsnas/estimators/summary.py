"""summary.json of a `wsnas estimate` run: per estimator the super-net metrics over the scored
rows (KdT, s-KdT, Spearman, final searched model, P>R, and the ranking metrics P@topK, BR@K,
WR@K, NDCG), NaN counts and reasons, and cost."""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.core.metrics import (
    METRICS_VERSION,
    RANKING_DEFINITIONS,
    RANKING_KEYS,
    merge_rounding_ties,
    summarize,
)
from wsnas.engine.identity import gt_fingerprint
from wsnas.engine.rundir import RunDir
from wsnas.estimators.gt_columns import GTColumn, gt_columns
from wsnas.estimators.plan import SCORES_FILE, Plan, load_plan
from wsnas.estimators.registry import VOTE_OF, Estimator
from wsnas.estimators.scores_file import read_scores

NAN_RULE = (
    "metrics of an estimator use the architectures it scored (finite values); NaN scores are left out "
    "and counted in n_nan (reasons in nan_reasons); ties enter KdT/s-KdT/Spearman as tau-b / average "
    "ranks, and top-k (final_acc, P>R) as the expectation over tie-consistent choices"
)


def current_summary(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The summary of the rows an estimate run dir holds now (status 'partial' until all are scored);
    reads only, so it works while a run writes."""
    plan = load_plan(run_dir)
    plan.run = RunDir(run_dir)
    return build_summary(plan, read_scores(Path(run_dir) / SCORES_FILE, plan.columns))


def vote_scores(columns: dict[str, np.ndarray]) -> tuple[np.ndarray, int]:
    """Copeland score of the majority vote of VOTE_OF: for each arch, the archs it beats on at least 2
    of the 3 proxies. Archs with a NaN among the three get NaN; (scores, archs left out)."""
    scores, left, _ = _vote_pass(columns, [])
    return scores, left


def vote_pairwise_accuracy(columns: dict[str, np.ndarray], gt: np.ndarray) -> float:
    """The zero-cost authors' `vote` number: over the pairs of different GT among the archs with all
    three VOTE_OF scores, the share the majority orders as GT does. For an ordered pair their notebook
    (`nasbench201_correlations.ipynb`, `vote`) predicts "the first is better" when at least 2 of the 3
    score differences are > 0, else "worse"; so a pair with no strict majority of 2 either way
    (score ties) is right in one order and wrong in the other: 1/2 here, over unordered pairs."""
    return _vote_pass(columns, [gt])[2][0]


def _vote_pass(columns: dict[str, np.ndarray], gts: list[np.ndarray]) -> tuple[np.ndarray, int, list[float]]:
    """(Copeland scores, archs left out, the majority's pairwise accuracy against each of GTS) in one
    pass over the pairs i < j, a block of rows at a time (15,625 archs stay within memory); an arch
    without a GT value (NaN) leaves that GT's pairs."""
    s = np.stack([columns[n] for n in VOTE_OF], axis=1)
    ok = np.isfinite(s).all(axis=1)
    out = np.full(len(s), np.nan)
    v, n = s[ok], int(ok.sum())
    ys = [_merged(g[ok]) for g in gts]
    wins = np.zeros(n)
    right, pairs = np.zeros(len(gts)), np.zeros(len(gts))
    for a in range(0, n, 512):
        b = min(a + 512, n)
        up = np.zeros((b - a, n - a), np.uint8)
        down = np.zeros_like(up)
        for c in range(s.shape[1]):
            x, w = v[a:b, c, None], v[None, a:, c]
            up += x > w
            down += x < w
        later = np.arange(a, n)[None, :] > np.arange(a, b)[:, None]  # each unordered pair once
        beats, beaten = (up >= 2) & later, (down >= 2) & later
        wins[a:b] += beats.sum(axis=1)
        wins[a:] += beaten.sum(axis=0)
        for g, y in enumerate(ys):
            known = np.isfinite(y[a:b, None]) & np.isfinite(y[None, a:])
            with np.errstate(invalid="ignore"):
                dy = y[a:b, None] - y[None, a:]
            differ = later & known & (dy != 0)
            right[g] += float((differ & beats & (dy > 0)).sum() + (differ & beaten & (dy < 0)).sum())
            right[g] += 0.5 * float((differ & ~beats & ~beaten).sum())
            pairs[g] += float(differ.sum())
    out[ok] = wins
    accs = [float(r / p) if p else math.nan for r, p in zip(right, pairs, strict=True)]
    return out, int((~ok).sum()), accs


def _merged(gt: np.ndarray) -> np.ndarray:
    """GT with rounding ties merged (`core.metrics.merge_rounding_ties`) where known; NaN stays."""
    y = np.array(gt, dtype=np.float64)
    known = np.isfinite(y)
    if known.sum() >= 2:
        y[known] = merge_rounding_ties(y[known])
    return y


def metrics_of(
    scores: np.ndarray, plan: Plan, gt: np.ndarray, ranks: np.ndarray, total: int | None = None
) -> dict[str, Any]:
    """The metrics of SCORES against GT (rank in a benchmark of TOTAL rows, default the run's) over the
    archs with a finite score and a GT value."""
    ok = np.isfinite(scores) & np.isfinite(gt)
    n = int(ok.sum())
    cfg = plan.cfg.eval
    out: dict[str, Any] = {"n_scored": n, "n_nan": int((~np.isfinite(scores)).sum())}
    if n < 2:
        return {**out, **dict.fromkeys(KEPT, math.nan), "distinct_scores": int(np.unique(scores[ok]).size)}
    m = summarize(
        scores[ok],
        gt[ok],
        ranks[ok],
        total or plan.pool.total,
        threshold=cfg.sparse_threshold,
        k=min(cfg.top_k, n),
    )
    return {**out, **{k: m[k] for k in KEPT}, "distinct_scores": int(np.unique(scores[ok]).size)}


BY_GT = ("kdt", "skdt", "spearman", *RANKING_KEYS, "pairwise_acc", "final_acc", "pbr", "n_scored")
"""What an estimator's `by_gt` records per ground-truth column."""


def _columns(plan: Plan) -> tuple[list[GTColumn], dict[str, str]]:
    """The plan's GT columns, opened once per plan (a summary is written at a stop and at the end)."""
    if plan.gt_columns is None:
        plan.gt_columns = gt_columns(plan)
    return plan.gt_columns


KEPT = ("kdt", "skdt", "spearman", "final_acc", "pbr", "pbr_rank", *RANKING_KEYS, "pairwise_acc")
"""The `summarize` metrics an estimator's record keeps."""


def build_summary(plan: Plan, rows: list[dict[str, str]]) -> dict[str, Any]:
    """summary.json: metrics per estimator over the rows, with counts, cost and the identity."""
    gt = np.array([float(r["gt_acc"]) for r in rows])
    ranks = np.array([int(r["gt_rank"]) for r in rows])
    cols = {c: np.array([float(r[c]) for r in rows]) for c in plan.columns}
    secs = np.array([float(r["seconds"]) for r in rows])
    secs_zc = np.array([float(r["seconds_zero_cost"]) for r in rows])
    reasons: dict[str, Counter] = {c: Counter() for c in plan.columns}
    for r in rows:
        for part in filter(None, r["reason"].split("; ")):
            name = part.split(":", 1)[0]
            if name in reasons:
                reasons[name][part.split(": ", 1)[-1]] += 1
    pos = np.array([int(r["pos"]) for r in rows], dtype=np.int64)
    columns, missing = _columns(plan)
    per: dict[str, Any] = {}
    for est in plan.estimators:
        name = est.name
        if name == "vote":
            scores, left, vote_accs = _vote_pass(cols, [gt, *(c.acc[pos] for c in columns)])
            why = {"a proxy of the vote is NaN": left} if left else {}
        elif est.kind == "pool" and est.aggregate is not None:
            scores = np.asarray(est.aggregate({c: cols[c] for c in est.components}), dtype=np.float64)
            left = int(np.isnan(scores).sum())
            why = {f"a component ({', '.join(est.components)}) is NaN": left} if left else {}
        else:
            scores, why = cols[name], dict(reasons[name])
        rec = metrics_of(scores, plan, gt, ranks)
        if name == "vote":  # two numbers: the Copeland score's ranking and the authors' pairwise vote
            rec["score"] = "copeland"
            rec["pairwise_acc"] = vote_accs[0]
        by_gt = {}
        for k, c in enumerate(columns):
            m = metrics_of(scores, plan, c.acc[pos], c.rank[pos], c.total)
            if name == "vote":
                m["pairwise_acc"] = vote_accs[k + 1]
            by_gt[c.label] = {key: m[key] for key in BY_GT}
        rec["by_gt"] = by_gt
        rec["nan_reasons"] = why
        rec["kind"] = est.kind
        rec["seconds_per_arch"], rec["cost_note"] = _cost(est, secs, secs_zc)
        rec["seconds_total"] = rec["seconds_per_arch"] * len(rows)
        per[name] = rec
    ev = plan.cfg.eval
    pool_sha = hashlib.sha256("\n".join(sorted(r["arch"] for r in rows)).encode()).hexdigest()[:16]
    return {
        "status": "finished" if len(rows) == len(plan.pool) else "partial",
        "kind": "estimate",
        "run_dir": str(plan.run.path) if plan.run else None,
        "space": plan.space.name,
        "archs": {"mode": plan.opts.archs, "n": len(rows), "pool_seed": ev.pool_seed, "sha256": pool_sha},
        "gt": gt_fingerprint(plan.bench),
        "gt_columns": [
            {"label": c.label, **c.fingerprint, "n": int(np.isfinite(c.acc[pos]).sum())} for c in columns
        ],
        "gt_columns_missing": missing,
        "data": {
            "name": plan.cfg.data.name,
            "batch": plan.opts.batch,
            "seed": plan.cfg.seed,
            "augment": plan.cfg.data.augment,
        },
        "network": {"channels": plan.channels, "cells": plan.cells},
        "device": str(plan.device),
        "identity": plan.identity,
        "seconds": {"total": float(secs.sum()), "per_arch": float(secs.mean()) if len(secs) else math.nan},
        "estimators": per,
        "nan_rule": NAN_RULE,
        "definitions": {
            "kdt": "tau-b(score, gt)",
            "skdt": f"tau-b(score, floor(gt/{ev.sparse_threshold:g}))",
            "spearman": "spearman rho(score, gt), average ranks for ties",
            "final_acc": f"mean gt of the top-{ev.top_k} archs by score (ties: expectation)",
            "pbr": f"(1 - r/r_max)^n, r = best GT rank among the top-{ev.top_k}, n = {ev.top_k}",
            "seconds_per_arch": "wall seconds on `device` per architecture (see cost_note)",
            **RANKING_DEFINITIONS,
            "vote": "the metrics of `vote` rank its Copeland score (the archs each beats on at least 2 of "
            "synflow, jacob_cov, snip); its pairwise_acc is the zero-cost authors' vote: the pairs of "
            "different GT that the 2-of-3 majority orders right (no majority: 1/2)",
        },
        "metrics_version": METRICS_VERSION,
    }


def _cost(est: Estimator, secs: np.ndarray, secs_zc: np.ndarray) -> tuple[float, str]:
    """Mean wall seconds per arch of what computes EST, and what that number covers."""
    if secs.size == 0:
        return math.nan, ""
    if est.kind in ("zero_cost", "vote", "pool"):
        return float(
            secs_zc.mean()
        ), "one shared pass computes all the run's zero-cost proxies: its time per arch"
    note = "arch_facts" if est.kind == "baseline" else "a table look-up; the benchmark paid the training"
    return float((secs - secs_zc).mean()), f"{note} (with the run's other non-proxy columns)"
