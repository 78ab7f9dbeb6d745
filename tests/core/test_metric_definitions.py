"""The named metric definitions (paper text vs the authors' table scripts), pinned by hand.

One pool of 12 architectures, with ground truth (GT) and super-net scores chosen so the two
definitions give different s-KdT, final accuracy and P>R:

  i     0     1     2     3     4     5     6     7     8     9    10    11
  gt  93.05 93.12 93.38 93.95 92.71 92.40 91.99 91.50 90.20 89.90 89.10 88.00
  sn  60    59    58    57    56    55    54    53    52    51    50    49      (seed 0)
  rank  5     4     3     0     6     7     8     9    10    11    12    13     (GT rank of 20)

so the super-net ranks 0 > 1 > ... > 11 (each arch 1 point below the last).
"""

from __future__ import annotations

import math

import pytest

from wsnas.core.metrics import MetricError, metric_definition, summarize

GT = [93.05, 93.12, 93.38, 93.95, 92.71, 92.40, 91.99, 91.50, 90.20, 89.90, 89.10, 88.00]
SN = [60.0 - i for i in range(12)]
RANK = [5, 4, 3, 0, 6, 7, 8, 9, 10, 11, 12, 13]
TOTAL = 20


def _tau_b(c: int, d: int, n0: int, n1: int, n2: int) -> float:
    return (c - d) / math.sqrt((n0 - n1) * (n0 - n2))


def test_definitions_resolve_per_space():
    assert metric_definition("paper", "nb201") == metric_definition("paper", "nb101")
    paper = metric_definition("paper", "nb201")
    assert (paper.threshold, paper.k) == (0.1, 3)
    mine = metric_definition("paper", "x", 0.5, 7)
    assert (mine.threshold, mine.k) == (0.5, 7)
    authors = metric_definition("authors", "nb201")
    assert (authors.threshold, authors.k) == (1.0, 10)
    for space in ("nb101", "darts_nds", "nb201_mini"):
        assert metric_definition("authors", space).k == 5
    assert metric_definition("authors", "nb201").text == "authors (1-pt bins, top-10)"


def test_authors_definition_fixes_its_keys():
    with pytest.raises(MetricError, match="fixes the bin width"):
        metric_definition("authors", "nb201", threshold=0.5)
    with pytest.raises(MetricError, match="fixes the bin width"):
        metric_definition("authors", "nb101", k=4)
    with pytest.raises(MetricError, match="expected one of"):
        metric_definition("mine", "nb201")


def test_paper_definition_by_hand():
    d = metric_definition("paper", "nb101")
    out = summarize(SN, GT, RANK, TOTAL, d.threshold, d.k, definition=d.name)
    # 0.1-pt bins: 930 931 933 939 927 924 919 915 902 899 891 880, all distinct, so
    # s-KdT = KdT. Scores strictly decrease with i; discordant pairs (i < j, gt_i < gt_j):
    # (0,1) (0,2) (0,3) (1,2) (1,3) (2,3) = 6 of 66 -> (60 - 6) / 66.
    assert out["skdt"] == pytest.approx(54 / 66)
    assert out["kdt"] == pytest.approx(54 / 66)
    # top-3 by score: 0, 1, 2 -> mean GT (93.05 + 93.12 + 93.38) / 3; best rank 3
    assert out["final_acc"] == pytest.approx((93.05 + 93.12 + 93.38) / 3)
    assert out["pbr_rank"] == 3
    assert out["pbr"] == pytest.approx((1 - 3 / 20) ** 3)
    assert out["metric_definition"] == "paper"


def test_authors_definition_by_hand():
    d = metric_definition("authors", "nb101")  # 1-pt bins, top-5
    out = summarize(SN, GT, RANK, TOTAL, d.threshold, d.k, definition=d.name)
    # 1-pt bins: 93 93 93 93 92 92 91 91 90 89 89 88. Pairs tied in GT (n2): the 93 group
    # C(4,2)=6, 92: 1, 91: 1, 89: 1 -> 9; no score ties; n0 = 66. Every non-tied pair has
    # i < j with bin_i > bin_j: concordant, so C = 57, D = 0.
    assert out["skdt"] == pytest.approx(_tau_b(57, 0, 66, 0, 9))
    # top-5 by score: 0..4 -> mean GT; best rank among them 0 (arch 3)
    assert out["final_acc"] == pytest.approx((93.05 + 93.12 + 93.38 + 93.95 + 92.71) / 5)
    assert out["pbr_rank"] == 0 and out["pbr"] == 1.0
    assert out["metric_definition"] == "authors"
    top10 = metric_definition("authors", "nb201")
    out10 = summarize(SN, GT, RANK, TOTAL, top10.threshold, top10.k, definition=top10.name)
    assert out10["final_acc"] == pytest.approx(sum(GT[:10]) / 10)
