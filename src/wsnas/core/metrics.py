"""Ranking metrics that score a super-net against benchmark ground truth (GT).

Definitions: docs/background.md#metrics. GT accuracies are in percent. Every
function validates its inputs (1-D, equal length, at least 2 items, finite) and
raises :class:`MetricError` (a ``ValueError``) naming the bad argument, because a
silently broadcast or NaN-polluted correlation would look like a real result.

Correlations of a constant input are undefined; they return ``float('nan')``
(without letting scipy's warning leak): a super-net whose accuracies are all equal
has no ranking, and NaN says so in tables instead of a misleading 0.

Ties at the top-k boundary (final accuracy, P>R): when the k-th highest score is
shared by more architectures than slots are left, no pool order decides. Both
metrics are the expected value over every tie-consistent top-k choice, all equally
likely: the archs strictly above the k-th score are in, and the m remaining slots
take an m-subset of the tied group uniformly at random (`top_k_tie_split`). A
collapsed super-net (all scores equal) thus scores the pool's mean GT.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from wsnas.core.metric_definitions import (  # noqa: F401 - re-exported: the metrics' public names
    AUTHORS_THRESHOLD,
    AUTHORS_TOP_K,
    AUTHORS_TOP_K_OTHER,
    GT_TIE_RTOL,
    METRIC_DEFINITIONS,
    METRICS_VERSION,
    PAPER_THRESHOLD,
    PAPER_TOP_K,
    RANK_K_PERCENTS,
    RANKING_KEYS,
    MetricDefinition,
    MetricError,
    _as_int,
    _check_threshold,
    metric_definition,
)

__all__ = [
    "GT_TIE_RTOL",
    "METRICS_VERSION",
    "METRIC_DEFINITIONS",
    "RANKING_DEFINITIONS",
    "RANKING_KEYS",
    "RANK_K_PERCENTS",
    "MetricDefinition",
    "MetricError",
    "best_worst_rank",
    "final_accuracy",
    "kendall_tau",
    "merge_rounding_ties",
    "metric_definition",
    "ndcg",
    "pairwise_accuracy",
    "precision_at_top",
    "prob_beats_random",
    "ranking_metrics",
    "sparse_kendall_tau",
    "sparsify",
    "spearman",
    "summarize",
    "top_k",
    "top_k_tie_split",
]

# Decimals kept before flooring gt / threshold: enough to absorb float division
# error (94.3 / 0.1 == 942.9999999999999) yet far below any real GT difference.
_BIN_DECIMALS = 6

TIE_RULE = "a tie at the k-th score: expected value over all tie-consistent top-k choices"
"""How final accuracy and P>R treat a tie at the top-k boundary (module doc), as output files state it."""


def _as_1d(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """Convert to a finite 1-D float array with >= 2 items, or raise naming `name`."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MetricError(f"{name}: cannot convert to an array of numbers ({exc})") from None
    if arr.ndim != 1:
        raise MetricError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.size < 2:
        raise MetricError(f"{name}: need at least 2 items, got {arr.size}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise MetricError(
            f"{name}: contains {bad.size} non-finite value(s) (NaN/inf), first at index {i}: {arr[i]}"
        )
    return arr


def _pair(
    scores: ArrayLike, gt: ArrayLike, names: tuple[str, str] = ("scores", "gt")
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate two paired arrays; lengths must match because item i is one architecture."""
    a = _as_1d(scores, names[0])
    b = _as_1d(gt, names[1])
    if a.size != b.size:
        raise MetricError(f"{names[0]} and {names[1]} must have equal length, got {a.size} and {b.size}")
    return a, b


def _is_constant(x: NDArray[np.float64]) -> bool:
    return bool(x.max() == x.min())


def _tau_b(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    if _is_constant(x) or _is_constant(y):
        return float("nan")
    return float(stats.kendalltau(x, y, variant="b").statistic)


def merge_rounding_ties(gt: ArrayLike, rtol: float = GT_TIE_RTOL) -> NDArray[np.float64]:
    """GT with values equal up to float rounding made equal (each to the smallest of its group).

    Sorted neighbours closer than `rtol` relative to the larger magnitude join one group (chained);
    at 1e-14 only rounding of the same number merges, never two real accuracies (they differ by
    1e-4 or more)."""
    y = _as_1d(gt, "gt")
    order = np.argsort(y, kind="stable")
    s = y[order]
    close = np.diff(s) <= rtol * np.maximum(np.abs(s[1:]), np.abs(s[:-1]))
    starts = np.concatenate([[True], ~close])
    first = np.maximum.accumulate(np.where(starts, np.arange(s.size), 0))
    out = np.empty_like(y)
    out[order] = s[first]
    return out


def kendall_tau(scores: ArrayLike, gt: ArrayLike) -> float:
    """Kendall tau-b between super-net scores and GT (tau-b because both may have ties; GT values
    equal up to float rounding are ties, `merge_rounding_ties`).

    NaN if either input is constant.
    """
    x, y = _pair(scores, gt)
    return _tau_b(x, merge_rounding_ties(y))


def sparsify(gt: ArrayLike, threshold: float = 0.1) -> NDArray[np.int64]:
    """Bin GT accuracies: ``floor(round(gt / threshold, 6))``.

    Architectures closer than `threshold` points are not meaningfully different,
    so they share a bin (and a rank). The ``round(..., 6)`` guards float error:
    ``94.3 / 0.1`` is ``942.999...`` and would otherwise land in bin 942, not 943.
    """
    t = _check_threshold(threshold)
    y = _as_1d(gt, "gt")
    return np.floor(np.round(y / t, _BIN_DECIMALS)).astype(np.int64)


def sparse_kendall_tau(scores: ArrayLike, gt: ArrayLike, threshold: float = 0.1) -> float:
    """Tau-b between scores and ``sparsify(gt, threshold)``: s-KdT
    (docs/background.md#sparse-kendall-tau-s-kdt).

    Ignores GT differences below `threshold` points (default 0.1, the paper's 0.1%),
    which are within training noise. NaN if scores are constant or all GT share a bin.
    """
    x, y = _pair(scores, gt)
    return _tau_b(x, sparsify(y, threshold).astype(np.float64))


def spearman(scores: ArrayLike, gt: ArrayLike) -> float:
    """Spearman rho (Pearson on average ranks, so ties are handled; GT values equal up to float
    rounding are ties). NaN if constant."""
    x, y = _pair(scores, gt)
    y = merge_rounding_ties(y)
    if _is_constant(x) or _is_constant(y):
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def prob_beats_random(rank: int, total: int, n: int = 3) -> float:
    """P>R = ``(1 - rank / total) ** n``: chance the found architecture beats random search.

    `rank` is its GT rank in the whole benchmark (0 = best of `total`). This is the
    probability that all `n` uniformly drawn architectures rank worse. The paper
    prints ``1 - (1 - r/r_max)^n``, but its tables (higher is better, e.g. 0.865)
    and the authors' code use the form here, so we follow them (docs/background.md#pr).
    """
    r = _as_int(rank, "rank")
    t = _as_int(total, "total")
    k = _as_int(n, "n")
    if t < 1:
        raise MetricError(f"total: must be >= 1, got {t}")
    if not 0 <= r < t:
        raise MetricError(f"rank: must satisfy 0 <= rank < total ({t}), got {r}")
    if k < 1:
        raise MetricError(f"n: must be >= 1, got {k}")
    return float((1.0 - r / t) ** k)


def top_k(scores: ArrayLike, k: int = 3) -> NDArray[np.intp]:
    """Indices of the `k` highest scores, best first.

    Ties are broken by order of appearance (stable sort), so the result is
    deterministic; the metrics do not use this order on ties (`top_k_tie_split`).
    """
    x = _as_1d(scores, "scores")
    kk = _check_k(k, x.size)
    return np.argsort(-x, kind="stable")[:kk]


def _check_k(k: int, size: int) -> int:
    kk = _as_int(k, "k")
    if not 1 <= kk <= size:
        raise MetricError(f"k: must satisfy 1 <= k <= len(scores) ({size}), got {kk}")
    return kk


def top_k_tie_split(scores: ArrayLike, k: int = 3) -> tuple[NDArray[np.intp], NDArray[np.intp], int]:
    """(sure, tied, m): the top-`k` as the archs surely in and the tied group at the boundary.

    `sure` are the indices scoring strictly above the k-th highest score; `tied` the
    indices scoring exactly the k-th highest; `m = k - len(sure)` (1 <= m <= len(tied))
    slots go to tied archs. Every m-subset of `tied` is an equally valid top-k; the
    metrics average over them. `tied` is empty (and m = 0) when the top-k is unique,
    i.e. when the tied group fits entirely (then `sure` is the whole top-k, best first
    as in :func:`top_k`).
    """
    x = _as_1d(scores, "scores")
    kk = _check_k(k, x.size)
    order = np.argsort(-x, kind="stable")
    kth = x[order[kk - 1]]
    n_above = int(np.sum(x > kth))
    n_tied = int(np.sum(x == kth))
    if n_above + n_tied == kk:  # the boundary group fits: one top-k
        return order[:kk], order[:0], 0
    return order[:n_above], order[n_above : n_above + n_tied], kk - n_above


def final_accuracy(scores: ArrayLike, gt: ArrayLike, k: int = 3) -> float:
    """Mean GT of the top-`k` architectures by score (the 'final searched model' metric).

    A tie at the k-th score is resolved by expectation over all tie-consistent
    top-k choices: (sum of GT strictly above + m * mean GT of the tied group) / k,
    where m is the number of slots left for the tied group (`top_k_tie_split`).
    Independent of pool order; a fully collapsed pool scores its mean GT.
    """
    x, y = _pair(scores, gt)
    return _final_acc(*top_k_tie_split(x, k), y, k)


def _final_acc(
    sure: NDArray[np.intp], tied: NDArray[np.intp], m: int, y: NDArray[np.float64], k: int
) -> float:
    if m == 0:
        return float(y[sure].mean())  # no boundary tie: as computed before ties had a rule
    return float((y[sure].sum() + m * y[tied].mean()) / k)


def _expected_pbr(
    sure: NDArray[np.intp], tied: NDArray[np.intp], m: int, ranks: NDArray[np.float64], total: int, k: int
) -> tuple[float, float | int]:
    """(E[P>R], E[r]) over the uniformly drawn m-subsets of the tied group.

    r = min(best rank of `sure`, best rank of the subset). With the tied group's ranks
    sorted ascending, the subset's best is the j-th (0-based) with probability
    C(t-1-j, m-1) / C(t, m).
    """
    if m == 0:
        r = int(ranks[sure].min())
        return prob_beats_random(r, total, k), r
    sure_best = ranks[sure].min() if sure.size else math.inf
    tied_ranks = np.sort(ranks[tied])
    t = tied_ranks.size
    denom = math.comb(t, m)
    pbr = rank = 0.0
    for j in range(t - m + 1):
        p = math.comb(t - 1 - j, m - 1) / denom
        r = int(min(sure_best, tied_ranks[j]))
        pbr += p * prob_beats_random(r, total, k)
        rank += p * r
    return float(pbr), float(rank)


def _k_of(n: int, percent: float) -> int:
    """k = floor(n * K / 100), as Ning et al.'s `int(num_archs * ratio)` (a hair of slack for 0.1 * n)."""
    return int(math.floor(n * float(percent) / 100.0 + 1e-9))


def _inclusion(x: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """Each item's probability of being in the top-k of X, a tie at the k-th value by expectation."""
    sure, tied, m = top_k_tie_split(x, k)
    p = np.zeros(x.size)
    p[sure] = 1.0
    if m:
        p[tied] = m / tied.size
    return p


def _pool_ranks(y: NDArray[np.float64]) -> NDArray[np.float64]:
    """1-based GT rank within the pool (1 = best); ties share the better rank."""
    s = np.sort(y)
    return (y.size - np.searchsorted(s, y, side="right") + 1).astype(np.float64)


def _expected_min(sure: NDArray[np.float64], tied: NDArray[np.float64], m: int) -> float:
    """E[min(sure ∪ a uniform m-subset of tied)]: the j-th smallest of TIED is the subset's least with
    probability C(t-1-j, m-1) / C(t, m), taken as a running product (no huge binomials)."""
    best = float(sure.min()) if sure.size else math.inf
    if m == 0:
        return best
    t = np.sort(tied)
    n = t.size
    p, out = m / n, 0.0
    for j in range(n - m + 1):
        out += p * min(best, float(t[j]))
        if j < n - m:
            p *= (n - j - m) / (n - 1 - j)
    return out


def precision_at_top(scores: ArrayLike, gt: ArrayLike, percent: float = 5) -> float:
    """P@topK (Ning et al.): the expected share of the true top-k (by GT) among the top-k by score,
    k = floor(n * percent / 100); ties on either side by expectation. NaN where k < 1."""
    x, y = _pair(scores, gt)
    k = _k_of(x.size, percent)
    if k < 1:
        return float("nan")
    return float((_inclusion(x, k) * _inclusion(merge_rounding_ties(y), k)).sum() / k)


def best_worst_rank(scores: ArrayLike, gt: ArrayLike, percent: float = 5) -> tuple[float, float]:
    """(BR@K, WR@K) (Ning et al.): the best and the worst GT rank within the pool (1 = best, ties share
    the better rank) among the top-k by score, divided by n; lower is better; a tie at the k-th score
    by expectation. (NaN, NaN) where k < 1."""
    x, y = _pair(scores, gt)
    k = _k_of(x.size, percent)
    if k < 1:
        return float("nan"), float("nan")
    r = _pool_ranks(merge_rounding_ties(y))
    sure, tied, m = top_k_tie_split(x, k)
    best = _expected_min(r[sure], r[tied], m)
    worst = -_expected_min(-r[sure], -r[tied], m)
    return best / x.size, worst / x.size


def pairwise_accuracy(scores: ArrayLike, gt: ArrayLike) -> float:
    """The share of architecture pairs of different GT that the scores order as GT does, a pair tied
    in score counting 1/2 (the zero-cost authors' pairwise accuracy, which their `vote` reports).

    Equal to 1/2 + (C - D) / (2 P), P the pairs of different GT and C - D Kendall's concordant minus
    discordant pairs, recovered exactly (an integer) from tau-b in O(n log n). NaN when all GT tie."""
    x, y = _pair(scores, gt)
    y = merge_rounding_ties(y)
    n0 = x.size * (x.size - 1) // 2
    n1, n2 = _tied_pairs(x), _tied_pairs(y)
    p = n0 - n2
    if p == 0:
        return float("nan")
    if n1 == n0:
        return 0.5
    tau = float(stats.kendalltau(x, y, variant="b").statistic)
    c_minus_d = round(tau * math.sqrt(float(n0 - n1) * float(n0 - n2)))
    return 0.5 + c_minus_d / (2.0 * p)


def _tied_pairs(v: NDArray[np.float64]) -> int:
    _, counts = np.unique(v, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


NDCG_SCALE = 20.0
NDCG_FLOOR_QUANTILE = 0.2


def ndcg(scores: ArrayLike, gt: ArrayLike) -> float:
    """NDCG over the whole pool as AceNAS defines it for NAS rankers: relevance
    20 * clip((gt - q20) / (max - q20), 0, 1), gain 2^rel - 1, discount 1 / log2(position + 1)
    (position 1 = the top score), divided by the ideal order's. Archs tied in score share their
    positions' discounts (expectation over their orders). NaN where the GT above its 20% quantile
    is constant."""
    x, y = _pair(scores, gt)
    y = merge_rounding_ties(y)
    lo, hi = float(np.quantile(y, NDCG_FLOOR_QUANTILE)), float(y.max())
    if not hi > lo:
        return float("nan")
    gain = np.exp2(np.clip((y - lo) / (hi - lo), 0.0, 1.0) * NDCG_SCALE) - 1.0
    disc = 1.0 / np.log2(np.arange(x.size) + 2.0)
    ideal = float((np.sort(gain)[::-1] * disc).sum())
    order = np.argsort(-x, kind="stable")
    xs, gs = x[order], gain[order]
    group = np.concatenate([[0], np.cumsum(xs[1:] != xs[:-1])])
    mean_gain = np.bincount(group, weights=gs) / np.bincount(group)
    return float((mean_gain[group] * disc).sum() / ideal)


def ranking_metrics(
    scores: ArrayLike, gt: ArrayLike, percents: tuple[float, ...] = RANK_K_PERCENTS
) -> dict[str, float]:
    """P@topK, BR@K, WR@K for each K of PERCENTS (keys `ptop_5pct`, `br_5pct`, `wr_5pct`) and `ndcg`."""
    out: dict[str, float] = {}
    for pct in percents:
        tag = f"{pct:g}pct"
        out[f"ptop_{tag}"] = precision_at_top(scores, gt, pct)
        out[f"br_{tag}"], out[f"wr_{tag}"] = best_worst_rank(scores, gt, pct)
    out["ndcg"] = ndcg(scores, gt)
    return out


RANKING_DEFINITIONS: dict[str, str] = {
    "ptop_definition": "P@topK: share of the true top-k (GT) among the top-k by score, k = floor(n*K/100) "
    "(Ning et al. 2021); ties by expectation; NaN where k < 1",
    "br_wr_definition": "BR@K / WR@K: best / worst GT rank within the pool (1 = best) among the top-k "
    "by score, / n (Ning et al. 2021); lower is better; a tie at the k-th score by expectation",
    "ndcg_definition": "NDCG (AceNAS): rel = 20*clip((gt-q20)/(max-q20),0,1), gain 2^rel-1, "
    "discount 1/log2(pos+1), whole pool; score ties by expectation",
    "pairwise_acc_definition": "share of the pairs of different GT ordered as GT orders them, a score "
    "tie counting 1/2 (the zero-cost authors' pairwise accuracy)",
    "gt_ties_definition": f"GT values equal up to {GT_TIE_RTOL:g} relative are ties "
    f"(metrics_version {METRICS_VERSION})",
}
"""What each ranking metric of a summary means, as output files state it."""


def summarize(
    scores: ArrayLike,
    gt: ArrayLike,
    gt_rank: ArrayLike,
    total: int,
    threshold: float = 0.1,
    k: int = 3,
    definition: str = "paper",
    percents: tuple[float, ...] = RANK_K_PERCENTS,
) -> dict[str, float | int | str]:
    """All section-2 metrics for one evaluation, plus their definitions as strings.

    `gt_rank[i]` is architecture i's GT rank in the whole benchmark (0 = best of
    `total`). P>R uses r = the best (smallest) GT rank among the top-`k` by score
    and n = `k`. On a tie at the k-th score, `final_acc` and `pbr` are expected values
    over all tie-consistent top-k choices (module doc) and `pbr_rank` is the expected
    r (a float then). The std is the population std (ddof=0) over the pool, since the
    pool itself is what is described. Definitions go into output files so numbers
    computed with another threshold or form are never mixed up silently; `definition` names
    the `METRIC_DEFINITIONS` entry `threshold` and `k` come from. The ranking metrics of Ning et
    al. and NDCG (`ranking_metrics`, K of PERCENTS) and `metrics_version` come with them.
    """
    if definition not in METRIC_DEFINITIONS:
        raise MetricError(f"definition: expected one of {sorted(METRIC_DEFINITIONS)}, got {definition!r}")
    x, y = _pair(scores, gt)
    ranks_f = _as_1d(gt_rank, "gt_rank")
    if ranks_f.size != x.size:
        raise MetricError(f"scores and gt_rank must have equal length, got {x.size} and {ranks_f.size}")
    if np.any(ranks_f != np.round(ranks_f)):
        raise MetricError("gt_rank: ranks must be whole numbers")
    t = _as_int(total, "total")
    if t < 1:
        raise MetricError(f"total: must be >= 1, got {t}")
    if ranks_f.min() < 0 or ranks_f.max() >= t:
        raise MetricError(
            f"gt_rank: ranks must satisfy 0 <= rank < total ({t}), "
            f"got range [{ranks_f.min():g}, {ranks_f.max():g}]"
        )
    thr = _check_threshold(threshold)
    sure, tied, m = top_k_tie_split(x, k)
    kk = int(sure.size) + m
    pbr, r = _expected_pbr(sure, tied, m, ranks_f, t, kk)
    return {
        "supernet_acc_mean": float(x.mean()),
        "supernet_acc_std": float(x.std(ddof=0)),
        "kdt": _tau_b(x, merge_rounding_ties(y)),
        "skdt": _tau_b(x, sparsify(y, thr).astype(np.float64)),
        "spearman": spearman(x, y),
        **ranking_metrics(x, y, percents),
        "pairwise_acc": pairwise_accuracy(x, y),
        "final_acc": _final_acc(sure, tied, m, y, kk),
        "pbr": pbr,
        "pbr_rank": r,
        "pbr_total": t,
        "metric_definition": definition,
        "supernet_acc_std_definition": "population std (ddof=0) over the pool",
        "kdt_definition": "tau-b(scores, gt)",
        "skdt_definition": f"tau-b(scores, floor(gt/{thr:g}))",
        "spearman_definition": "spearman rho(scores, gt), average ranks for ties",
        "final_acc_definition": f"mean gt of top-{kk} by score; {TIE_RULE}",
        "pbr_definition": f"(1 - r/r_max)^n, r = best GT rank among top-{kk}, n = {kk}; {TIE_RULE}",
        **RANKING_DEFINITIONS,
        "metrics_version": METRICS_VERSION,
    }
