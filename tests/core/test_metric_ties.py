"""The top-k tie rule of final accuracy and P>R: expectation over tie-consistent choices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from wsnas.core.metrics import final_accuracy, summarize, top_k_tie_split


def test_fully_collapsed_pool_scores_its_mean_gt() -> None:
    """Every arch at the same super-net accuracy: no ranking, so the pool's mean GT, not the first k."""
    gt = np.array([93.47, 93.1, 92.8, 70.0, 60.0, 10.0])
    ranks = np.array([0, 1, 2, 30, 40, 99])
    out = summarize(np.full(6, 10.0), gt, ranks, total=100, k=3)
    assert out["final_acc"] == pytest.approx(gt.mean())
    assert final_accuracy(np.full(6, 10.0), gt, k=3) == pytest.approx(gt.mean())
    # r = best rank of a uniform 3-subset: P(r=0) = C(5,2)/C(6,3) = 1/2, P(r=1) = C(4,2)/20 = 3/10,
    # P(r=2) = C(3,2)/20 = 3/20, P(r=30) = C(2,2)/20 = 1/20
    want = 0.5 * 1.0 + 0.3 * 0.99**3 + 0.15 * 0.98**3 + 0.05 * 0.70**3
    assert out["pbr"] == pytest.approx(want)
    assert out["pbr_rank"] == pytest.approx(0.3 * 1 + 0.15 * 2 + 0.05 * 30)


def test_golden_boundary_tie() -> None:
    """Hand-made: one arch surely in, three tied at the boundary for the 2 remaining slots."""
    scores = [9, 5, 5, 5, 1]
    gt = [94.0, 90.0, 92.0, 93.0, 95.0]
    ranks = [3, 20, 10, 5, 0]
    sure, tied, m = top_k_tie_split(scores, 3)
    assert sure.tolist() == [0] and sorted(tied.tolist()) == [1, 2, 3] and m == 2
    out = summarize(scores, gt, ranks, total=100, k=3)
    # (94 + 2 * mean(90, 92, 93)) / 3 = (94 + 2 * 91.666...) / 3
    assert out["final_acc"] == pytest.approx((94 + 2 * 275 / 3) / 3)
    # rank 3 is in for sure and beats every tied rank: r = 3 whatever the choice
    assert out["pbr_rank"] == pytest.approx(3) and out["pbr"] == pytest.approx(0.97**3)
    # with the sure arch ranked worst, r depends on the choice: {1,2}->10, {1,3}->5, {2,3}->5
    out = summarize(scores, gt, [50, 20, 10, 5, 0], total=100, k=3)
    assert out["pbr"] == pytest.approx((0.90**3 + 2 * 0.95**3) / 3)
    assert out["pbr_rank"] == pytest.approx((10 + 5 + 5) / 3)


def test_no_boundary_tie_is_unchanged() -> None:
    """Ties inside the top-k (all tied archs fit) leave one top-k: the plain mean and r."""
    out = summarize([7, 7, 3, 1], [91.0, 92.0, 90.0, 89.0], [4, 2, 8, 9], total=10, k=2)
    assert out["final_acc"] == 91.5 and out["pbr_rank"] == 2 and isinstance(out["pbr_rank"], int)
    assert top_k_tie_split([7, 7, 3, 1], 2)[2] == 0


@pytest.mark.parametrize("seed", range(5))
def test_pool_order_does_not_matter(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 3, 12).astype(float)  # many ties
    gt = rng.uniform(80, 95, 12)
    ranks = rng.permutation(50)[:12]
    base = summarize(scores, gt, ranks, total=50, k=3)
    for _ in range(5):
        p = rng.permutation(12)
        out = summarize(scores[p], gt[p], ranks[p], total=50, k=3)
        assert out["final_acc"] == pytest.approx(base["final_acc"])
        assert out["pbr"] == pytest.approx(base["pbr"])
        assert out["pbr_rank"] == pytest.approx(base["pbr_rank"])


@pytest.mark.parametrize("seed", range(10))
def test_matches_brute_force_over_all_choices(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 9))
    scores = rng.integers(0, 3, n).astype(float)
    gt = rng.uniform(80, 95, n)
    ranks = rng.permutation(30)[:n]
    k = int(rng.integers(1, n + 1))
    kth = np.sort(scores)[::-1][k - 1]
    above = [i for i in range(n) if scores[i] > kth]
    tied = [i for i in range(n) if scores[i] == kth]
    choices = [above + list(c) for c in itertools.combinations(tied, k - len(above))]
    out = summarize(scores, gt, ranks, total=30, k=k)
    assert out["final_acc"] == pytest.approx(np.mean([gt[c].mean() for c in choices]))
    assert out["pbr"] == pytest.approx(np.mean([(1 - ranks[c].min() / 30) ** k for c in choices]))
