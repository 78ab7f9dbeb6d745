"""Pin the section-2 metric definitions with hand-computed cases.

tau_b = (C - D) / sqrt((n0 - n1)(n0 - n2)), n0 = n(n-1)/2 pairs, n1 / n2 = pairs
tied in scores / in gt; a pair tied in either counts as neither C nor D.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from wsnas.core.errors import WsnasError
from wsnas.core.metrics import (
    MetricError,
    final_accuracy,
    kendall_tau,
    prob_beats_random,
    sparse_kendall_tau,
    sparsify,
    spearman,
    summarize,
    top_k,
)

# ---------------------------------------------------------------- Kendall tau-b


def test_kendall_no_ties() -> None:
    # Only pair (1,2) is discordant: C=5, D=1, n0=6 -> (5-1)/6.
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)


def test_kendall_perfect_and_reversed() -> None:
    assert kendall_tau([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)


def test_kendall_ties_in_scores_and_gt() -> None:
    # scores [1,2,2,3], gt [1,2,3,3]: n0=6, n1=1 (idx 1,2), n2=1 (idx 2,3).
    # Pairs (0,1),(0,2),(0,3),(1,3) concordant; (1,2),(2,3) tied -> C=4, D=0.
    # tau_b = 4 / sqrt(5*5) = 0.8
    assert kendall_tau([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)


def test_kendall_ties_in_scores_only() -> None:
    # scores [1,1,2], gt [1,2,3]: n0=3, n1=1, n2=0; C=2 ((0,2),(1,2)), D=0.
    # tau_b = 2 / sqrt(2*3) = 0.8165
    assert kendall_tau([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))


# ---------------------------------------------------------------- sparse tau


def test_sparsify_bins() -> None:
    # floor(gt / 0.1): 93.05 -> 930, 93.01 -> 930, 93.12 -> 931, 93.19 -> 931
    assert sparsify([93.05, 93.01, 93.12, 93.19]).tolist() == [930, 930, 931, 931]
    # t = 1: 93.9 -> 93, 94.0 -> 94, 94.99 -> 94
    assert sparsify([93.9, 94.0, 94.99], 1.0).tolist() == [93, 94, 94]


def test_sparsify_threshold_edge_94_3() -> None:
    assert 94.3 / 0.1 < 943  # the float error being guarded against
    assert sparsify([94.3, 94.29, 94.31]).tolist() == [943, 942, 943]
    assert sparsify([94.3, 94.35], 0.05).tolist() == [1886, 1887]


@pytest.mark.parametrize("threshold, scale", [(0.1, 10), (0.01, 100), (0.05, 20), (1.0, 1)])
def test_sparsify_exact_multiples_land_in_their_bin(threshold: float, scale: int) -> None:
    # Every decimal value k * t (parsed as a CSV would give it) must fall in bin k.
    k = np.arange(8000, 10001)
    gt = np.array([float(f"{i / scale:.4f}") for i in k])
    assert np.array_equal(sparsify(gt, threshold), k)


def test_sparse_tau_ties_change_value() -> None:
    scores = [1, 2, 3, 4]
    gt = [93.05, 93.01, 93.12, 93.19]
    # Raw gt: only (0,1) discordant -> (5-1)/6 = 0.6667.
    assert kendall_tau(scores, gt) == pytest.approx(4 / 6)
    # Bins [930,930,931,931]: (0,1),(2,3) tied in gt, n2=2; other 4 pairs concordant.
    # tau_b = 4 / sqrt(6 * 4) = 0.8165: the noise-level discordance vanishes.
    assert sparse_kendall_tau(scores, gt) == pytest.approx(4 / math.sqrt(24))


def test_sparse_tau_threshold_edge() -> None:
    # gt [94.3, 94.35, 94.41] -> bins [943, 943, 944] (unguarded would be 942,943,944
    # and give -1). scores [3,2,1]: (0,1) tied in gt; (0,2),(1,2) discordant.
    # C=0, D=2, n0=3, n1=0, n2=1: tau_b = -2 / sqrt(3*2) = -0.8165
    assert sparse_kendall_tau([3, 2, 1], [94.3, 94.35, 94.41]) == pytest.approx(-2 / math.sqrt(6))


def test_sparse_tau_all_in_one_bin_is_nan() -> None:
    assert math.isnan(sparse_kendall_tau([1, 2, 3], [94.30, 94.33, 94.39]))


# ---------------------------------------------------------------- Spearman


def test_spearman_with_ties() -> None:
    # Average ranks: scores [1,2,2,3] -> [1,2.5,2.5,4]; gt [1,2,3,3] -> [1,2,3.5,3.5].
    # Deviations from 2.5: dx [-1.5,0,0,1.5], dy [-1.5,-0.5,1,1].
    # sum dx*dy = 2.25 + 1.5 = 3.75; sum dx^2 = 4.5; sum dy^2 = 4.5 -> rho = 0.8333
    assert spearman([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(3.75 / 4.5)


def test_spearman_no_ties() -> None:
    # d = [0,-1,1,0], sum d^2 = 2: rho = 1 - 6*2 / (4*15) = 0.8
    assert spearman([50, 60, 70, 40], [90, 92, 91, 89]) == pytest.approx(0.8)


def test_agreement_with_scipy_on_random_data() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(2, 60))
        # Rounded values so ties occur in both inputs.
        x = np.round(rng.normal(60, 5, n), 0)
        y = np.round(rng.normal(93, 1, n), 1)
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)
        assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)


# ---------------------------------------------------------------- constant input


@pytest.mark.parametrize("func", [kendall_tau, spearman, sparse_kendall_tau], ids=lambda f: f.__name__)
def test_constant_input_is_nan_without_warning(func) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(func([5, 5, 5], [90.0, 91.0, 92.0]))
        assert math.isnan(func([1, 2, 3], [90.0, 90.0, 90.0]))


# ---------------------------------------------------------------- P>R


def test_pbr_values() -> None:
    assert prob_beats_random(0, 100) == 1.0
    assert prob_beats_random(50, 100, n=3) == pytest.approx(0.125)  # 0.5^3
    assert prob_beats_random(99, 100, n=1) == pytest.approx(0.01)
    assert prob_beats_random(np.int64(10), 1000, 3) == pytest.approx(0.99**3)


@pytest.mark.parametrize(
    "args, match",
    [
        ((-1, 100, 3), "rank"),
        ((100, 100, 3), "rank"),
        ((0, 0, 3), "total"),
        ((0, 100, 0), "n"),
        ((1.5, 100, 3), "rank"),
        ((0, 100.0, 3), "total"),
        ((0, 100, True), "n"),
    ],
)
def test_pbr_errors(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        prob_beats_random(*args)


# ---------------------------------------------------------------- top-k / final


def test_top_k_ties_by_order_of_appearance() -> None:
    scores = [0.5, 0.9, 0.9, 0.9, 0.1]
    assert top_k(scores, 1).tolist() == [1]
    assert top_k(scores, 2).tolist() == [1, 2]
    assert top_k(scores, 5).tolist() == [1, 2, 3, 0, 4]


def test_final_accuracy_with_ties() -> None:
    """A tie at the k-th score: expected value over the tie-consistent choices, not pool order."""
    scores = [0.5, 0.9, 0.9, 0.9, 0.1]
    gt = [90, 91, 92, 93, 94]
    assert final_accuracy(scores, gt, k=1) == pytest.approx(92.0)  # mean of the tied 91, 92, 93
    assert final_accuracy(scores, gt, k=2) == pytest.approx(92.0)  # 2 slots x mean 92
    assert final_accuracy(scores, gt, k=3) == pytest.approx(92.0)  # idx 1, 2, 3: no choice left
    assert final_accuracy(scores, gt, k=4) == pytest.approx(91.5)  # + idx 0


@pytest.mark.parametrize("k", [0, 6, -1])
def test_top_k_bad_k(k: int) -> None:
    with pytest.raises(ValueError, match="k: must satisfy"):
        top_k([1, 2, 3, 4, 5], k)


# ---------------------------------------------------------------- summarize


def test_summarize_values_and_keys() -> None:
    scores = [50, 60, 70, 40]
    gt = [90, 92, 91, 89]
    gt_rank = [300, 10, 100, 500]
    out = summarize(scores, gt, gt_rank, total=1000, threshold=2, k=3)
    assert set(out) == {
        "supernet_acc_mean", "supernet_acc_std", "kdt", "skdt", "spearman", "final_acc",
        "pbr", "pbr_rank", "pbr_total", "supernet_acc_std_definition", "kdt_definition",
        "skdt_definition", "spearman_definition", "final_acc_definition", "pbr_definition",
        "metric_definition", "metrics_version", "ndcg", "ptop_definition", "br_wr_definition",
        "ndcg_definition", "gt_ties_definition", "pairwise_acc", "pairwise_acc_definition",
        *(f"{m}_{k}pct" for m in ("ptop", "br", "wr") for k in (1, 5, 10)),
    }  # fmt: skip
    assert out["metric_definition"] == "paper"
    assert out["supernet_acc_mean"] == pytest.approx(55.0)
    # deviations -5, 5, 15, -15: sqrt(500 / 4)
    assert out["supernet_acc_std"] == pytest.approx(math.sqrt(125))
    # by score: 40,50,60,70 -> gt 89,90,92,91: only (60,70) discordant -> 4/6
    assert out["kdt"] == pytest.approx(4 / 6)
    # floor(gt/2) = [45,46,45,44]: pair (idx0, idx2) tied in gt, (idx1, idx2) discordant,
    # other 4 concordant: C=4, D=1, n2=1 -> 3 / sqrt(6*5)
    assert out["skdt"] == pytest.approx(3 / math.sqrt(30))
    assert out["spearman"] == pytest.approx(0.8)
    # top-3 by score: idx 2, 1, 0 -> gt 91, 92, 90 -> 91; ranks 100, 10, 300 -> r = 10
    assert out["final_acc"] == pytest.approx(91.0)
    assert out["pbr_rank"] == 10
    assert out["pbr"] == pytest.approx(0.99**3)
    assert out["skdt_definition"] == "tau-b(scores, floor(gt/2))"
    assert out["pbr_definition"] == (
        "(1 - r/r_max)^n, r = best GT rank among top-3, n = 3; "
        "a tie at the k-th score: expected value over all tie-consistent top-k choices"
    )


def test_summarize_default_definitions() -> None:
    out = summarize([1, 2, 3], [90.0, 91.0, 92.0], [2, 1, 0], total=3)
    assert out["skdt_definition"] == "tau-b(scores, floor(gt/0.1))"
    assert out["pbr"] == 1.0  # best architecture of the benchmark is in the top-3


@pytest.mark.parametrize(
    "gt_rank, total, match",
    [
        ([0, 1], 5, "gt_rank and|equal length"),
        ([0, 1, 5], 5, "gt_rank: ranks must satisfy"),
        ([0, -1, 2], 5, "gt_rank: ranks must satisfy"),
        ([0, 1.5, 2], 5, "whole numbers"),
        ([0, 1, 2], 0, "total"),
    ],
)
def test_summarize_rank_errors(gt_rank: list, total: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        summarize([1, 2, 3], [90, 91, 92], gt_rank, total=total)


# ---------------------------------------------------------------- input errors


@pytest.mark.parametrize(
    "func", [kendall_tau, sparse_kendall_tau, spearman, final_accuracy],
    ids=lambda f: f.__name__,
)  # fmt: skip
@pytest.mark.parametrize(
    "scores, gt, match",
    [
        ([1, 2, 3], [1, 2], "equal length, got 3 and 2"),
        ([1, float("nan"), 3], [1, 2, 3], r"scores: contains 1 non-finite.*index 1"),
        ([1, 2, 3], [1, 2, float("inf")], r"gt: contains 1 non-finite.*index 2"),
        ([1], [1], "scores: need at least 2 items, got 1"),
        ([], [], "scores: need at least 2 items, got 0"),
        ([[1, 2], [3, 4]], [1, 2], r"scores: expected a 1-D array, got shape \(2, 2\)"),
        ([1, 2], [[1, 2]], "gt: expected a 1-D array"),
        (5.0, 5.0, "scores: expected a 1-D array"),
        (["a", "b"], [1, 2], "scores: cannot convert"),
    ],
)
def test_input_errors(func, scores, gt, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match) as info:
        func(scores, gt)
    assert isinstance(info.value, MetricError | WsnasError)


@pytest.mark.parametrize("threshold", [0, -0.1, float("nan"), float("inf"), "x"])
def test_bad_threshold(threshold: object) -> None:
    with pytest.raises(ValueError, match="threshold"):
        sparse_kendall_tau([1, 2, 3], [90, 91, 92], threshold=threshold)  # type: ignore[arg-type]
