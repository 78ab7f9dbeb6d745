"""What the DARTS-NDS and NB101 relaxations derive from the learnt probabilities, how they score an
architecture, and that every cell they give is in the space."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsnas.spaces import get_space
from wsnas.spaces.darts.genotype import FULL_CONCAT, OPS, Genotype
from wsnas.spaces.darts.relax import EDGES_PER_CELL, DartsRelaxation, edge_index
from wsnas.spaces.nb101.graph import CellSpec, validate
from wsnas.spaces.nb101.relax import DROP, NB101Relaxation


def _logp(logits: np.ndarray) -> np.ndarray:
    return torch.log_softmax(torch.as_tensor(logits, dtype=torch.float64), -1).numpy()


def _op(name: str) -> int:
    return OPS.index(name)


# ---- DARTS-NDS -----------------------------------------------------------------------------------


def test_darts_keeps_the_top_two_inputs_by_their_strongest_op_other_than_none():
    a = np.zeros((2 * EDGES_PER_CELL, len(OPS)))
    # node 0: input 0's largest logit is none (excluded), its best op sep_conv_3x3 is weak after the
    # edge's softmax; input 1's skip is strong: input 1 first, then input 0 with sep_conv_3x3
    a[edge_index(0, 0), _op("none")] = 5.0
    a[edge_index(0, 0), _op("sep_conv_3x3")] = 2.0
    a[edge_index(0, 1), _op("skip_connect")] = 3.0
    # node 3: inputs 4 and 2 hold the strongest ops
    a[edge_index(3, 4), _op("dil_conv_5x5")] = 4.0
    a[edge_index(3, 2), _op("avg_pool_3x3")] = 3.0
    # the reduction cell's node 1: input 2 alone stands out
    a[EDGES_PER_CELL + edge_index(1, 2), _op("sep_conv_5x5")] = 1.0
    g = DartsRelaxation().derive(_logp(a), np.random.default_rng(0))
    tie = ("max_pool_3x3", 0), ("max_pool_3x3", 1)  # equal edges: the lower inputs, the first op after none
    normal = (("skip_connect", 1), ("sep_conv_3x3", 0), *tie, *tie, ("dil_conv_5x5", 4), ("avg_pool_3x3", 2))
    reduce = (*tie, ("sep_conv_5x5", 2), ("max_pool_3x3", 0), *tie, *tie)
    assert g == Genotype(normal, FULL_CONCAT, reduce, FULL_CONCAT)


def test_darts_score_is_input_strength_times_op_probability_and_draws_follow_it():
    rel = DartsRelaxation()
    logp = _logp(np.random.default_rng(1).normal(size=(2 * EDGES_PER_CELL, len(OPS))))
    space = get_space("darts_nds")
    g = space.sample(np.random.default_rng(2))
    want = 0.0
    for c, kind in enumerate(("normal", "reduce")):
        rows = np.exp(logp[c * EDGES_PER_CELL : (c + 1) * EDGES_PER_CELL])
        for slot, (op, src) in enumerate(g.cell(kind)[0]):
            node = slot // 2
            strength = [
                max(rows[edge_index(node, j)][k] for k in range(1, len(OPS))) for j in range(node + 2)
            ]
            want += np.log(strength[src] / sum(strength)) + np.log(rows[edge_index(node, src), OPS.index(op)])
    assert rel.log_probs(logp, [g])[0] == pytest.approx(want, rel=1e-12)
    draws = [rel.sample(logp, np.random.default_rng(s)) for s in range(3)]
    assert all(space.canonical(d) for d in draws)  # well-formed genotypes
    assert rel.param_free_share(g) == pytest.approx(
        sum(op in {"none", "skip_connect", "max_pool_3x3", "avg_pool_3x3"} for op, _ in g.normal + g.reduce)
        / 16
    )


# ---- NB101 ---------------------------------------------------------------------------------------


def _nb101_logp(rel: NB101Relaxation, draw, high: float = 8.0) -> np.ndarray:
    """Logits peaked on DRAW (per vertex its op and its input choice); padding at -inf."""
    a = np.zeros((len(rel.sizes), max(rel.sizes)))
    for v, (o, c) in enumerate(draw, start=1):
        a[rel.op_row(v), o] = high
        a[rel.input_row(v), c] = high
    for s, n in enumerate(rel.sizes):
        a[s, n:] = -np.inf
    return _logp(a)


def test_nb101_derives_the_most_frequent_valid_draw():
    rel = NB101Relaxation(7, 9)
    draw = ((0, 1), (2, 2), (1, 1), (0, DROP), (1, 3))  # vertex 4 cut: 4 kept, 9 edges
    spec = rel.derive(_nb101_logp(rel, draw), np.random.default_rng(0))
    assert spec == rel.valid(draw) and spec.num_edges == 9


def test_nb101_with_no_valid_draw_cuts_the_least_probable_inputs_until_valid():
    rel = NB101Relaxation(7, 9)
    draw = ((0, 1), (1, 2), (2, 3), (0, 1), (1, 4))  # all 5 kept: 11 edges, never valid
    logp = _nb101_logp(rel, draw, high=30.0)
    logp[rel.input_row(2), 2] = np.log(0.5)  # vertex 2's input is the least sure, then vertex 4's
    logp[rel.input_row(4), 1] = np.log(0.9)
    spec = rel.derive(logp, np.random.default_rng(0))
    cut = list(draw)
    cut[1] = (1, DROP)  # cutting vertex 2 also cuts vertex 3 (its only input): 2 kept, 5 edges
    assert spec == rel.valid(tuple(cut)) and spec.num_edges == 5


@pytest.mark.parametrize("limits", [(7, 9), (5, 6)])
def test_nb101_derived_and_drawn_cells_are_in_the_space(limits):
    rel = NB101Relaxation(*limits)
    rng = np.random.default_rng(3)
    for _ in range(5):
        a = rng.normal(scale=2.0, size=(len(rel.sizes), max(rel.sizes)))
        for s, n in enumerate(rel.sizes):
            a[s, n:] = -np.inf
        logp = _logp(a)
        for spec in (rel.derive(logp, rng), rel.sample(logp, rng)):
            assert validate(spec, *limits) == spec and spec.num_edges <= limits[1]


def test_nb101_score_is_the_draws_log_probability_and_counts_unused_slots_as_drop():
    rel = NB101Relaxation(7, 9)
    rng = np.random.default_rng(4)
    a = rng.normal(size=(len(rel.sizes), max(rel.sizes)))
    for s, n in enumerate(rel.sizes):
        a[s, n:] = -np.inf
    logp = _logp(a)
    draw = ((0, 1), (2, 2), (1, 1), (0, 3))  # vertices 1-4, one input each; vertex 5 unused
    spec = validate(rel.cell(((*draw[0],), *draw[1:], (0, DROP))))
    want = sum(logp[rel.op_row(v), o] + logp[rel.input_row(v), c] for v, (o, c) in enumerate(draw, 1))
    want += logp[rel.input_row(5), DROP]
    assert rel.log_probs(logp, [spec])[0] == pytest.approx(want, rel=1e-12)
    # a vertex with two inputs: each in-edge one more draw
    two = CellSpec(
        ((0, 1, 1, 0), (0, 0, 1, 0), (0, 0, 0, 1), (0, 0, 0, 0)),
        ("input", "conv3x3-bn-relu", "maxpool3x3", "output"),
    )
    want = logp[rel.op_row(1), 0] + logp[rel.input_row(1), 1]
    want += logp[rel.op_row(2), 2] + logp[rel.input_row(2), 1] + logp[rel.input_row(2), 2]
    want += sum(logp[rel.input_row(v), DROP] for v in (3, 4, 5))
    assert rel.log_probs(logp, [two])[0] == pytest.approx(want, rel=1e-12)
    assert rel.param_free_share(two) == 0.5
