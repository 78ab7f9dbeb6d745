"""The node-based token grammars ENAS and NAO run on NB101 (kcyu2014/eval-nas's trees) and DARTS-NDS
(ENAS's micro space, NAO_V1's encoding): round trips, validity, equivalent encodings, the micro
controller's log-probabilities by hand, REINFORCE on them, and NAO's encoder-decoder on them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.distributions import Categorical

from wsnas.algorithms.controller import OP_TANH_REDUCE, NodeController
from wsnas.algorithms.enas import ENAS
from wsnas.algorithms.nao import NAO
from wsnas.core.errors import ArchError
from wsnas.spaces import get_space
from wsnas.spaces.algorithms import get_algorithm
from wsnas.spaces.darts.genotype import OPS as DARTS_OPS
from wsnas.spaces.grammar import GrammarError, token_grammar
from wsnas.spaces.nb101.graph import CellSpec, validate
from wsnas.spaces.nb101.space import NB101Space
from wsnas.spaces.nb101.tokens import NB101Grammar

NODE_SPACES = ("nb101", "darts_nds")


def _algo(cls, name: str, space, **settings):
    torch.manual_seed(0)
    spec = get_algorithm(name)
    return cls(spec, {**spec.defaults, **settings}, space, torch.device("cpu"))


# ---- the grammars ---------------------------------------------------------------------------------
def test_grammar_shapes_follow_the_references():
    nb101 = token_grammar(get_space("nb101"))
    assert nb101.length == 10 and nb101.vocab == 9  # eval-nas: 5 nodes x (input, op); 1 + 5 + 3 tokens
    assert nb101.choices == (1, 3, 2, 3, 3, 3, 4, 3, 5, 3)
    darts = token_grammar(get_space("darts_nds"))
    assert darts.length == 32 and darts.vocab == 1 + 5 + len(DARTS_OPS)  # 2 cells x 4 nodes x 4 tokens
    assert darts.choices[:8] == (2, 8, 2, 8, 3, 8, 3, 8) and darts.choices[16:24] == darts.choices[:8]
    assert [darts.token_range(k) for k in range(4)] == [(1, 3), (6, 14), (1, 3), (6, 14)]
    nb201 = token_grammar(get_space("nb201"))
    assert nb201.layout is None and nb201.vocab == 6 and nb201.token_range(0) == (1, 6)


@pytest.mark.parametrize("name", [*NODE_SPACES, "nb201"])
def test_round_trips_on_random_architectures(name):
    """values -> arch -> values and values -> tokens -> values are identities; the arch is one the
    space parses, formats and hashes; an equivalent encoding is the same cell."""
    space, rng = get_space(name), np.random.default_rng(0)
    g = token_grammar(space)
    for _ in range(300):
        values = g.random(rng)
        arch = g.decode(values)
        assert g.encode(arch) == values
        assert g.values(g.tokens(values)) == values
        assert space.parse(space.format(arch)) == arch
        other = g.equivalent(values, rng)
        assert g.valid(other) and space.canonical(g.decode(other)) == space.canonical(arch)


def test_nb101_sequences_are_eval_nas_trees_and_only_the_over_limit_ones_invalid():
    """Every sequence of a 5-node grammar: the cell is a tree from the input whose leaves feed the
    output, nothing is pruned, and exactly those over 9 edges (every node on the input) are invalid."""
    g = token_grammar(get_space("nb101"))
    invalid = 0
    for parents in itertools.product(*[range(i + 1) for i in range(5)]):
        values = tuple(x for p in parents for x in (p, 0))
        if not g.valid(values):
            invalid += 1
            assert parents == (0, 0, 0, 0, 0)
            with pytest.raises(ArchError):
                g.decode(values)
            continue
        spec = g.decode(values)
        m = spec.matrix
        assert all(sum(m[u][v] for u in range(7)) == 1 for v in range(1, 6))  # one input per node
        leaves = [v for v in range(6) if not any(m[v][1:6])]
        assert [u for u in range(7) if m[u][6]] == leaves
        assert validate(spec) == spec  # nothing pruned, within the limits
    assert invalid == 1  # x 3^5 op labellings: 243 of the 29,160 sequences


def test_nb101_encode_refuses_cells_the_grammar_cannot_write():
    g = token_grammar(get_space("nb101"))
    two_inputs = CellSpec.of(
        [[0, 1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0],
         [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0] * 7],
        ["input", *["conv3x3-bn-relu"] * 5, "output"],
    )  # fmt: skip
    assert g.encode(two_inputs) is None
    small = CellSpec.of([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "maxpool3x3", "output"])
    assert g.encode(small) is None  # fewer vertices than the grammar's nodes


def test_a_space_too_small_for_any_tree_has_no_grammar_and_the_controllers_say_why():
    assert NB101Grammar(4, 3).length == 4
    with pytest.raises(GrammarError, match="at least 3 edges"):
        NB101Space(max_vertices=4, max_edges=2).token_grammar()
    why = get_algorithm("enas").why_not
    assert why is not None and "at least 3 edges" in str(why(NB101Space(max_vertices=4, max_edges=2)))
    assert why(get_space("nb101")) is None and why(get_space("darts_nds")) is None


# ---- ENAS's micro controller ----------------------------------------------------------------------
def _by_hand(c: NodeController, seq: tuple[int, ...]) -> tuple[float, float]:
    """(log-probability, entropy) of SEQ walked one choice at a time, unbatched, with
    torch.distributions: the micro controller's steps as its docstring states them."""
    lay, lp, ent, at = c.layout, 0.0, 0.0, 0
    state = None

    def step(x):
        nonlocal state
        out, state = c.w_lstm(x.reshape(1, 1, -1), state)
        return out.reshape(1, -1)

    def take(logits, value):
        nonlocal lp, ent
        d = Categorical(logits=logits.reshape(-1))
        lp += float(d.log_prob(torch.tensor(value)))
        ent += float(d.entropy())

    g = c.g_emb.reshape(1, -1)
    for _ in range(lay.cells):
        anchors, keys = [], []
        x = g
        for _ in range(lay.first_inputs):
            h = step(x)
            anchors.append(torch.zeros_like(h))
            keys.append(c.w_attn_1(h))
        for _ in range(lay.nodes):
            for p in range(lay.pairs):
                h = step(x)
                scores = torch.cat([c.v_attn(torch.tanh(k + c.w_attn_2(h))) for k in keys], 1)
                take(c.tanh_constant * torch.tanh(scores / c.temperature), seq[at + 2 * p])
                x = anchors[seq[at + 2 * p]]
            for p in range(lay.pairs):
                h = step(x)
                raw = torch.tanh((c.w_soft(h) + c.b_soft) / c.temperature)
                take(c.tanh_constant / OP_TANH_REDUCE * raw + c.b_fixed, seq[at + 2 * p + 1])
                x = c.w_embd(torch.tensor([seq[at + 2 * p + 1]]))
            h = step(x)
            anchors.append(h)
            keys.append(c.w_attn_1(h))
            x = g
            at += 2 * lay.pairs
    return lp, ent


@pytest.mark.parametrize("name", NODE_SPACES)
def test_micro_controller_log_probs_equal_the_per_step_log_softmax_by_hand(name):
    algo = _algo(ENAS, "enas", get_space(name), tanh_constant=1.5, logit_temperature=1.0)
    c = algo.controller
    assert isinstance(c, NodeController)
    seqs = c.sample(6, torch.Generator().manual_seed(4))
    logp, ent = c.evaluate(seqs)
    with torch.no_grad():
        want = [_by_hand(c, s) for s in seqs]
    np.testing.assert_allclose(logp.detach().numpy(), [w[0] for w in want], rtol=1e-5)
    np.testing.assert_allclose(ent.detach().numpy(), [w[1] for w in want], rtol=1e-5)
    g = algo.grammar  # the reference's starting bias: the favoured ops above the others
    op_probs = np.asarray(algo.probabilities()[1])
    favoured = [g.ops.index(o) for o in g.favoured]
    assert op_probs[favoured].min() > op_probs[[o for o in range(len(g.ops)) if o not in favoured]].max()


def test_micro_controller_is_a_distribution_its_sampler_follows():
    """On a 3-node NB101 grammar (162 sequences): the teacher-forced probabilities sum to 1 and the
    sampler draws each sequence at its probability."""
    algo = _algo(
        ENAS, "enas", NB101Space(max_vertices=5, max_edges=7), tanh_constant=2.5, logit_temperature=1.0
    )
    g, c = algo.grammar, algo.controller
    everything = list(itertools.product(*[range(n) for n in g.choices]))
    assert len(everything) == 162
    p = c.evaluate(everything)[0].exp().detach().numpy()
    assert p.sum() == pytest.approx(1.0, rel=1e-5)
    n = 20000
    counts = dict.fromkeys(everything, 0)
    for s in c.sample(n, torch.Generator().manual_seed(0)):
        counts[s] += 1
    np.testing.assert_allclose([counts[s] / n for s in everything], p, atol=0.01)


@pytest.mark.parametrize("name", NODE_SPACES)
def test_enas_samples_are_valid_architectures_and_its_log_probs_score_them(name):
    space = get_space(name)
    algo = _algo(ENAS, "enas", space, tanh_constant=1.0, logit_temperature=0.5)  # peaked, not uniform
    seqs = algo.draw(400, torch.Generator().manual_seed(1))
    assert len(seqs) == 400 and all(algo.grammar.valid(s) for s in seqs)
    archs = [algo.arch(s) for s in seqs]
    for arch in archs:
        assert space.parse(space.format(arch)) == arch and space.canonical(arch)
    assert len({space.canonical(a) for a in archs}) > 300  # a distribution over many cells
    logp = algo.log_probs(archs)
    assert np.all(np.isfinite(logp)) and np.all(logp < 0)
    other = space.sample(np.random.default_rng(0))
    if name == "nb101" and algo.grammar.encode(other) is None:
        assert algo.log_probs([other])[0] == -np.inf  # a cell the grammar cannot write
    probs = algo.probabilities()
    assert [len(p) for p in probs] == list(algo.grammar.choices)
    np.testing.assert_allclose([sum(p) for p in probs], 1.0)


def test_enas_redraws_the_sequences_that_are_no_cell():
    """A controller pushed to the one invalid NB101 parent pattern (every node on the input) still
    returns only cells: those draws are drawn again."""
    algo = _algo(ENAS, "enas", get_space("nb101"), tanh_constant=5.0, logit_temperature=1.0)
    with torch.no_grad():
        algo.controller.v_attn.weight.zero_()  # input logits: all equal; then push index 0 up
        algo.controller.w_attn_2.weight.zero_()
        algo.controller.w_attn_1.weight.zero_()
    raw = algo.controller.sample(2000, torch.Generator().manual_seed(0))
    assert any(not algo.grammar.valid(s) for s in raw)
    assert all(algo.grammar.valid(s) for s in algo.draw(2000, torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("name", NODE_SPACES)
def test_reinforce_steps_move_the_micro_controller_towards_the_rewarded_op(name):
    """Reward 1 when the first node's first op is the grammar's last op, else 0: the controller's
    share of that op at least doubles (the op logits are bounded by tanh_constant / 2.5 plus the fixed
    bias, so a non-favoured op cannot take over in a few steps)."""
    algo = _algo(ENAS, "enas", get_space(name), arch_lr=0.05)
    gen = torch.Generator().manual_seed(0)
    target = len(algo.grammar.ops) - 1

    def share() -> float:
        seqs = algo.controller.sample(1000, torch.Generator().manual_seed(9))
        return float(np.mean([s[1] == target for s in seqs]))

    before = share()
    for _ in range(30):
        seqs = algo.draw(16, gen)
        algo.controller_step(seqs, [1.0 if s[1] == target else 0.0 for s in seqs])
    assert share() > 2 * before


# ---- NAO ------------------------------------------------------------------------------------------
def _depth_score(space_name: str, values: tuple[int, ...]) -> float:
    """A learnable stand-in for accuracy: the share of op positions holding op 0."""
    ops = values[1::2]
    return sum(o == 0 for o in ops) / len(ops)


@pytest.mark.parametrize(("name", "epochs"), [("nb101", 100), ("darts_nds", 200)])
def test_nao_reconstructs_its_training_archs_and_decodes_valid_distinct_candidates(name, epochs):
    space = get_space(name)
    algo = _algo(
        NAO, "nao", space, seed_archs=40, new_archs=1, controller_epochs=epochs, expand=1, arch_lr=0.01
    )
    assert len({space.canonical(algo.arch(v)) for v in algo.pool}) == 40
    algo.fit(algo.pool, [_depth_score(name, v) for v in algo.pool])
    tokens = algo.tokens(algo.pool)
    assert algo.archs(algo.epd.reconstruct(tokens)) == algo.pool
    new = algo.candidates(algo.pool, 15)
    assert new, "the moves found no new cell"
    keys = [space.canonical(algo.arch(v)) for v in new]
    assert len(set(keys)) == len(keys)  # distinct by canonical form (isomorphic cells are one)
    assert not set(keys) & {space.canonical(algo.arch(v)) for v in algo.pool}
    for v in new:
        arch = algo.arch(v)
        assert algo.grammar.valid(v) and space.parse(space.format(arch)) == arch
    scores = algo.log_probs([algo.arch(v) for v in algo.pool])
    assert scores.shape == (40,) and np.all((scores > 0) & (scores < 1))


def test_nao_training_copies_are_other_encodings_of_the_same_cell():
    space = get_space("darts_nds")
    algo = _algo(NAO, "nao", space, seed_archs=20, new_archs=1, expand=3)
    train_a, _, held_a, _ = algo.training_pairs(algo.pool, list(range(20)))
    assert len(train_a) == 3 * 18 and len(held_a) == 2
    for k, copy in enumerate(train_a[18:]):
        first = train_a[k % 18]
        assert space.canonical(algo.arch(copy)) == space.canonical(algo.arch(first))
    assert any(c != train_a[k % 18] for k, c in enumerate(train_a[18:]))  # NAO_V1's swapped pairs
