"""P@topK, BR@K, WR@K (Ning et al. 2021), NDCG (AceNAS) and GT ties up to float rounding, each
against a plain computation: the formulas of the authors' scripts on tie-free data, and an
enumeration of every tie-consistent order where scores or GT tie."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from wsnas.core.metrics import (
    METRICS_VERSION,
    best_worst_rank,
    kendall_tau,
    merge_rounding_ties,
    ndcg,
    pairwise_accuracy,
    precision_at_top,
    ranking_metrics,
    spearman,
    summarize,
)


def _orders(values: np.ndarray) -> list[tuple[int, ...]]:
    """Every order of the indices, best first, consistent with VALUES (ties in any order)."""
    return [
        p
        for p in itertools.permutations(range(values.size))
        if all(values[p[i]] >= values[p[i + 1]] for i in range(values.size - 1))
    ]


def _pool_rank(y: np.ndarray) -> np.ndarray:
    return np.array([1 + int((y > v).sum()) for v in y], float)


def _acenas_gain(y: np.ndarray) -> np.ndarray:
    lo, hi = np.quantile(y, 0.2), y.max()
    return 2.0 ** (np.clip((y - lo) / (hi - lo), 0, 1) * 20.0) - 1.0


def _dcg(gain_in_order: np.ndarray) -> float:
    return float(sum(g / math.log2(i + 2) for i, g in enumerate(gain_in_order)))


# ---- tie-free data: the authors' scripts' formulas ------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_tie_free_values_follow_the_authors_formulas(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    gt = rng.uniform(85, 95, n)
    scores = gt + rng.normal(0, 3, n)
    pred_order = np.argsort(scores)[::-1]
    true_rank = np.zeros(n)
    true_rank[np.argsort(gt)] = np.arange(n)[::-1]  # 0 = best, as their scripts
    for pct in (1, 5, 10):
        k = int(n * pct / 100)
        top = pred_order[:k]
        want_p = len(np.where(true_rank[top] < k)[0]) / k
        assert precision_at_top(scores, gt, pct) == pytest.approx(want_p)
        br, wr = best_worst_rank(scores, gt, pct)
        assert br == pytest.approx((true_rank[top].min() + 1) / n)
        assert wr == pytest.approx((true_rank[top].max() + 1) / n)
    gain = _acenas_gain(gt)
    want = _dcg(gain[pred_order]) / _dcg(np.sort(gain)[::-1])
    assert ndcg(scores, gt) == pytest.approx(want)


def test_perfect_and_reversed_rankings() -> None:
    gt = np.linspace(90, 94, 40)
    m = ranking_metrics(gt, gt)
    assert m["ptop_5pct"] == 1.0 and m["br_5pct"] == pytest.approx(1 / 40) and m["ndcg"] == pytest.approx(1)
    assert m["wr_5pct"] == pytest.approx(2 / 40)
    m = ranking_metrics(-gt, gt)
    assert m["ptop_5pct"] == 0.0 and m["br_5pct"] == pytest.approx(39 / 40) and m["wr_5pct"] == 1.0
    assert m["ndcg"] < 0.3  # the best arch last still earns its gain at discount 1/log2(41)
    assert math.isnan(m["ptop_1pct"]) and math.isnan(m["br_1pct"])  # 1% of 40 is no architecture


# ---- ties: expectation over every tie-consistent order --------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_ties_count_by_expectation_over_every_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 7
    scores = rng.integers(0, 3, n).astype(float)
    gt = rng.choice([91.0, 92.0, 93.0, 94.0], n)
    pct = 30  # k = 2
    k = 2
    s_orders, g_orders = _orders(scores), _orders(gt)
    p = np.mean([len(set(a[:k]) & set(b[:k])) / k for a in s_orders for b in g_orders])
    assert precision_at_top(scores, gt, pct) == pytest.approx(p)
    r = _pool_rank(gt)
    br = np.mean([r[list(a[:k])].min() for a in s_orders]) / n
    wr = np.mean([r[list(a[:k])].max() for a in s_orders]) / n
    assert best_worst_rank(scores, gt, pct) == pytest.approx((br, wr))
    gain = _acenas_gain(gt)
    ideal = _dcg(np.sort(gain)[::-1])
    want = np.mean([_dcg(gain[list(a)]) for a in s_orders]) / ideal
    assert ndcg(scores, gt) == pytest.approx(want)


def test_pool_order_does_not_change_them() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, 60).astype(float)
    gt = rng.uniform(80, 95, 60)
    base = ranking_metrics(scores, gt)
    p = rng.permutation(60)
    assert ranking_metrics(scores[p], gt[p]) == pytest.approx(base, nan_ok=True)


def test_a_large_collapsed_pool_is_fast_and_exact() -> None:
    """All scores tied: BR is the expected best pool rank of a uniform k-subset, without huge binomials."""
    n = 15625
    gt = np.arange(n, dtype=float)
    br, wr = best_worst_rank(np.zeros(n), gt, 5)
    k = n * 5 // 100
    assert br == pytest.approx((n + 1) / (k + 1) / n, rel=1e-9)  # E[min of a k-subset of 1..n]
    assert wr == pytest.approx((n - (n + 1) / (k + 1) + 1) / n, rel=1e-9)
    assert precision_at_top(np.zeros(n), gt, 5) == pytest.approx(k / n)


# ---- GT equal up to float rounding --------------------------------------------------------------


def test_gt_equal_up_to_rounding_are_ties() -> None:
    a = 98.21925431
    near = np.nextafter(a, 100)  # the same mean over seeds summed in another order
    gt = np.array([97.0, a, near, 99.0, 99.5])
    merged = merge_rounding_ties(gt)
    assert merged[1] == merged[2] and np.unique(merged).size == 4
    assert merged.tolist()[0] == 97.0 and merged.tolist()[3:] == [99.0, 99.5]
    scores = np.array([1.0, 3.0, 2.0, 4.0, 5.0])
    rounded = np.array([97.0, a, a, 99.0, 99.5])
    assert kendall_tau(scores, gt) == pytest.approx(stats.kendalltau(scores, rounded).statistic)
    assert kendall_tau(scores, gt) != pytest.approx(stats.kendalltau(scores, gt).statistic)
    assert spearman(scores, gt) == pytest.approx(stats.spearmanr(scores, rounded).statistic)
    assert np.array_equal(merge_rounding_ties([90.0, 90.0001]), [90.0, 90.0001])  # real differences stay


def test_shipped_mini_table_has_25_distinct_accuracies_not_31() -> None:
    from wsnas.groundtruth import open_benchmark
    from wsnas.spaces import get_space

    acc = np.asarray(open_benchmark(get_space("nb201_mini")).acc)
    assert np.unique(acc).size == 31
    assert np.unique(merge_rounding_ties(acc)).size == 25


def test_summarize_has_the_ranking_metrics_and_the_meaning_version() -> None:
    rng = np.random.default_rng(0)
    gt = rng.uniform(85, 95, 100)
    scores = gt + rng.normal(0, 2, 100)
    out = summarize(scores, gt, np.arange(100), total=100)
    for key, value in ranking_metrics(scores, gt).items():
        assert out[key] == value
    assert out["metrics_version"] == METRICS_VERSION == 2
    assert {"ptop_definition", "br_wr_definition", "ndcg_definition"} <= set(out)


# ---- pairwise accuracy --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_pairwise_accuracy_counts_pairs_by_hand(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 40
    scores = rng.integers(0, 6, n).astype(float)  # many score ties
    gt = rng.choice(np.linspace(90, 94, 9), n)  # many GT ties
    right = pairs = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            if gt[i] == gt[j]:
                continue
            pairs += 1
            if scores[i] == scores[j]:
                right += 0.5
            elif (scores[i] > scores[j]) == (gt[i] > gt[j]):
                right += 1
    assert pairwise_accuracy(scores, gt) == pytest.approx(right / pairs, abs=1e-12)


def test_pairwise_accuracy_edges() -> None:
    assert pairwise_accuracy([1, 2, 3], [90, 91, 92]) == 1.0
    assert pairwise_accuracy([3, 2, 1], [90, 91, 92]) == 0.0
    assert pairwise_accuracy([1, 1, 1], [90, 91, 92]) == 0.5
    assert math.isnan(pairwise_accuracy([1, 2, 3], [90, 90, 90]))


def test_super_net_evaluations_record_them() -> None:
    """A super-net evaluation (`trainers.evaluate.evaluate_pool`, what log.jsonl and summary.json hold)
    carries the ranking metrics, computed on its super-net accuracies."""
    import torch

    from wsnas.core.metrics import metric_definition
    from wsnas.groundtruth import open_benchmark
    from wsnas.spaces import get_space
    from wsnas.trainers.evaluate import evaluate_pool, make_pool

    space = get_space("nb201_mini")
    pool = make_pool(space, open_benchmark(space), 40, seed=0)
    order = {a: i for i, a in enumerate(pool.arch_strs)}

    class ByArch(torch.nn.Module):  # the first class wins for the first archs of the pool, less after
        def forward(self, x: torch.Tensor, arch) -> torch.Tensor:
            right = torch.arange(x.shape[0]) < x.shape[0] - order[space.format(arch)]
            return torch.where(right[:, None], torch.eye(10)[0], torch.eye(10)[1]).float()

    batches = [(torch.zeros(64, 3, 8, 8), torch.zeros(64, dtype=torch.long))]
    accs, m = evaluate_pool(ByArch(), pool, batches, metric_definition("paper", "nb201_mini"), amp=False)
    assert m["metrics_version"] == METRICS_VERSION
    for key, value in ranking_metrics(accs, pool.gt).items():
        assert m[key] == pytest.approx(value, nan_ok=True), key
    assert m["pairwise_acc"] == pytest.approx(pairwise_accuracy(accs, pool.gt))
