"""DARTS-NDS space: genotype codec, canonical rule, space size, samplers, FairNAS."""

from __future__ import annotations

import json
from collections import Counter
from itertools import product

import numpy as np
import pytest
from scipy.stats import chi2_contingency, chisquare

from wsnas.cli.main import main
from wsnas.core.errors import ArchError
from wsnas.spaces import get_space
from wsnas.spaces.darts.genotype import (
    OPS,
    Genotype,
    canonical_cell,
    canonical_id,
    canonical_pair,
    format_genotype,
    parse_genotype,
)
from wsnas.spaces.darts.space import CELL_ENCODINGS, CELL_UNIQUE, NUM_INPUTS, DartsSpace

DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
    "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
    "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)
V2_NORMAL = (
    ("sep_conv_3x3", 0),
    ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 0),
    ("sep_conv_3x3", 1),
    ("sep_conv_3x3", 1),
    ("skip_connect", 0),
    ("skip_connect", 0),
    ("dil_conv_3x3", 2),
)


def _v2_json() -> dict:
    return parse_genotype(DARTS_V2).to_json()


def _with(cell: str, k: int, pair: list | tuple) -> dict:
    d = _v2_json()
    d[cell][k] = list(pair)
    return d


# -- codec ------------------------------------------------------------------------------


def test_darts_v2_round_trip():
    g = parse_genotype(DARTS_V2)
    assert g.normal == V2_NORMAL and g.normal_concat == (2, 3, 4, 5) and g.reduce_concat == (2, 3, 4, 5)
    assert format_genotype(g) == DARTS_V2
    assert parse_genotype(format_genotype(g)) == g
    assert str(g) == DARTS_V2


def test_notations_agree():
    g = parse_genotype(DARTS_V2)
    as_range = DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, 6)").replace(
        "reduce_concat=[2, 3, 4, 5]", "reduce_concat=range(2,6)"
    )
    assert parse_genotype(as_range) == g
    assert parse_genotype(json.dumps(g.to_json())) == g  # NDS JSON string
    assert parse_genotype(g.to_json()) == g  # NDS dict
    assert parse_genotype(str(g.to_json())) == g  # Python-repr dict
    assert parse_genotype(g) == g
    pos = f"Genotype({list(g.normal)}, [2, 3, 4, 5], {list(g.reduce)}, range(2, 6))"
    assert parse_genotype(pos) == g
    spaced = "  \n" + DARTS_V2.replace(", ", ",\n   ") + "\n"
    assert parse_genotype(spaced) == g
    assert parse_genotype("genotypes.Genotype" + DARTS_V2[len("Genotype") :]) == g
    # concat order only permutes channels: stored sorted
    assert parse_genotype(DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[5, 3, 2, 4]")) == g


@pytest.mark.parametrize(
    "text, needles",
    [
        (
            _with("normal", 5, ["sep_conv_3x4", 0]),
            ["normal cell pair 5 (node 2)", "'sep_conv_3x4'", "'sep_conv_3x3'"],
        ),
        (
            _with("reduce", 0, ["max_pool_3x3", 2]),
            ["reduce cell pair 0 (node 0)", "input 2 out of range", "0..1"],
        ),
        (_with("normal", 7, ["skip_connect", 5]), ["normal cell pair 7 (node 3)", "input 5", "0..4"]),
        (_with("normal", 7, ["skip_connect", -1]), ["input -1 out of range"]),
        (_with("normal", 1, ["skip_connect", True]), ["pair 1", "not an integer"]),
        (_with("normal", 1, ["skip_connect"]), ["pair 1", "(op, input) pair"]),
        ({**_v2_json(), "normal": _v2_json()["normal"][:7]}, ["normal cell has 7", "expected 8"]),
        ({**_v2_json(), "reduce": _v2_json()["reduce"] * 2}, ["reduce cell has 16"]),
        ({**_v2_json(), "normal_concat": [2, 6]}, ["normal_concat entry 6", "2..5"]),
        ({**_v2_json(), "reduce_concat": [2, 2, 3]}, ["reduce_concat", "repeats"]),
        ({**_v2_json(), "reduce_concat": []}, ["reduce_concat must be a non-empty list"]),
        ({k: v for k, v in _v2_json().items() if k != "reduce"}, ["missing reduce"]),
        ({**_v2_json(), "reduse": []}, ["unknown field 'reduse'", "did you mean 'reduce'"]),
    ],
)
def test_errors_say_what_and_where(text, needles):
    for form in (text, json.dumps(text)):
        with pytest.raises(ArchError) as e:
            parse_genotype(form)
        for n in needles:
            assert n in str(e.value), (n, str(e.value))


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "empty"),
        ("Genotype(normal=[", "not a Genotype(...) expression"),
        ("Genome(normal=[])", "expected a Genotype(...) call, found Genome"),
        ("[1, 2]", "expected Genotype("),
        ("Genotype(normal=x, normal_concat=[2], reduce=[], reduce_concat=[2])", "normal is not a literal"),
        ("Genotype(normal=[], normal_concat=range(2, 'a'), reduce=[], reduce_concat=[2])", "bad range"),
        ("{not json", "neither JSON nor a Python dict"),
        ('{"normal": 1}', "missing normal_concat"),
    ],
)
def test_syntax_errors(text, needle):
    with pytest.raises(ArchError, match="DARTS genotype") as e:
        parse_genotype(text)
    assert needle in str(e.value)


def test_space_codec_methods():
    sp = get_space("darts_nds")
    assert isinstance(sp, DartsSpace)
    g = sp.parse(DARTS_V2)
    assert sp.format(g) == DARTS_V2 and sp.canonical(DARTS_V2) == sp.canonical(g) == canonical_id(g)
    with pytest.raises(ArchError):
        sp.format(Genotype(V2_NORMAL[:7], (2, 3, 4, 5), V2_NORMAL, (2, 3, 4, 5)))


# -- canonical id ------------------------------------------------------------------------


def test_canonical_pair_order_and_none_input():
    g = parse_genotype(DARTS_V2)
    base = canonical_id(g)
    for cell in ("normal", "reduce"):
        for node in range(4):
            d = g.to_json()
            d[cell][2 * node], d[cell][2 * node + 1] = d[cell][2 * node + 1], d[cell][2 * node]
            assert canonical_id(parse_genotype(d)) == base
    # a none edge's input does not matter; its op does
    a = canonical_id(parse_genotype(_with("normal", 7, ["none", 0])))
    assert a == canonical_id(parse_genotype(_with("normal", 7, ["none", 4])))
    assert a != base
    # anything else changes the id: op, input, concat, cell role
    assert canonical_id(parse_genotype(_with("normal", 7, ["dil_conv_3x3", 3]))) != base
    assert canonical_id(parse_genotype({**_v2_json(), "normal_concat": [2, 3, 4]})) != base
    swapped = {**_v2_json(), "normal": _v2_json()["reduce"], "reduce": _v2_json()["normal"]}
    assert canonical_id(parse_genotype(swapped)) != base
    assert base.startswith("normal:") and ";reduce:" in base


@pytest.mark.parametrize("node", range(4))
def test_unique_count_per_node_by_enumeration(node):
    """Distinct canonical ids of one node's ordered pairs = n (n + 1) / 2, n = 7 (i + 2) + 1."""
    choices = [(op, i) for op in OPS for i in range(node + 2)]
    ids = {"+".join(sorted((canonical_pair(*a), canonical_pair(*b)))) for a, b in product(choices, repeat=2)}
    n = 7 * (node + 2) + 1
    assert len(choices) ** 2 == (8 * (node + 2)) ** 2
    assert len(ids) == n * (n + 1) // 2


def test_space_size():
    sp = DartsSpace()
    assert CELL_ENCODINGS == (16 * 24 * 32 * 40) ** 2 == 241_591_910_400  # "about 2.4e11 cells"
    assert CELL_UNIQUE == 120 * 253 * 435 * 666 == 8_795_595_600
    assert sp.num_archs == CELL_ENCODINGS**2 and sp.num_unique == CELL_UNIQUE**2
    info = sp.info()
    assert info["space"] == "darts_nds" and info["num_archs"] == sp.num_archs and info["ops"] == list(OPS)
    assert info["encodings_per_cell"] == CELL_ENCODINGS and info["unique_per_cell"] == CELL_UNIQUE


def test_canonical_cell_format():
    assert canonical_cell(V2_NORMAL, (2, 3, 4, 5)) == (
        "sep_conv_3x3~0+sep_conv_3x3~1|sep_conv_3x3~0+sep_conv_3x3~1|"
        "sep_conv_3x3~1+skip_connect~0|dil_conv_3x3~2+skip_connect~0/2345"
    )


# -- samplers ----------------------------------------------------------------------------

N_DRAWS = 3000


def _node_class(g: Genotype, cell: str, node: int) -> str:
    pairs = getattr(g, cell)[2 * node : 2 * node + 2]
    return "+".join(sorted(canonical_pair(*p) for p in pairs))


def test_sample_uniform_over_encodings():
    sp, rng = DartsSpace(), np.random.default_rng(0)
    draws = [sp.sample(rng) for _ in range(N_DRAWS)]
    assert all(g.normal_concat == g.reduce_concat == (2, 3, 4, 5) for g in draws)
    assert all(parse_genotype(format_genotype(g)) == g for g in draws[:50])
    for cell, slot in (("normal", 0), ("normal", 7), ("reduce", 3), ("reduce", 6)):
        node = slot // 2
        ops = Counter(getattr(g, cell)[slot][0] for g in draws)
        assert chisquare([ops[o] for o in OPS]).pvalue > 1e-3
        inputs = np.bincount([getattr(g, cell)[slot][1] for g in draws], minlength=node + 2)
        assert len(inputs) == node + 2 and chisquare(inputs).pvalue > 1e-3
    # node 0's ordered (op, input) pairs: 16 x 16 cells, uniform joint
    joint = Counter((g.normal[0], g.normal[1]) for g in draws)
    cells = [(a, b) for a in product(OPS, range(2)) for b in product(OPS, range(2))]
    assert chisquare([joint[c] for c in cells]).pvalue > 1e-3
    # normal and reduce cells independent
    table = np.zeros((8, 8))
    for g in draws:
        table[OPS.index(g.normal[0][0]), OPS.index(g.reduce[0][0])] += 1
    assert chi2_contingency(table).pvalue > 1e-3


def test_sample_unique_uniform_over_canonical_classes():
    sp, rng = DartsSpace(), np.random.default_rng(1)
    draws = [sp.sample_unique(rng) for _ in range(4000)]
    assert all(g.normal_concat == g.reduce_concat == (2, 3, 4, 5) for g in draws)
    # node 0 (15 choices -> 120 classes) in both cells; every class seen, counts uniform
    choices = [canonical_pair(op, i) for op in OPS for i in range(2)]
    classes = sorted({"+".join(sorted((a, b))) for a in set(choices) for b in set(choices)})
    assert len(classes) == 120
    for cell in ("normal", "reduce"):
        seen = Counter(_node_class(g, cell, 0) for g in draws)
        assert set(seen) == set(classes)
        assert chisquare([seen[c] for c in classes]).pvalue > 1e-3
    # node 3 (36 choices -> 666 classes): the two canonical choices are equally likely to be equal
    # as under uniform multisets: P(a == b) = 36 / 666
    same = sum(len(set(_node_class(g, "reduce", 3).split("+"))) == 1 for g in draws)
    assert abs(same / len(draws) - 36 / 666) < 4 * np.sqrt(36 / 666 / len(draws))
    # within a class the encoding is random: pair order and a none edge's input
    first_is_none = [g.normal[0] for g in draws if _node_class(g, "normal", 0) == "none+skip_connect~0"]
    assert {p[0] for p in first_is_none} == {"none", "skip_connect"}


def test_sample_unique_differs_from_sample():
    """Under Random-NAS, class {a, b} (a != b) is twice as likely as {a, a}; under Random-A equal."""
    sp = DartsSpace()
    for sampler, ratio in ((sp.sample, 2.0), (sp.sample_unique, 1.0)):
        rng = np.random.default_rng(2)
        eq = ne = 0
        for _ in range(N_DRAWS):
            a, b = _node_class(sampler(rng), "normal", 0).split("+")
            if "none" in (a, b):
                continue
            eq, ne = eq + (a == b), ne + (a != b)
        # ordered: 14 equal vs 14*13 distinct-pair classes x 2 orders; unordered: 14 vs 91 classes
        distinct = 14 * 13 // 2
        assert abs((ne / distinct) / (eq / 14) - ratio) < 0.5 * ratio


def test_fairnas_coverage():
    sp, rng = DartsSpace(), np.random.default_rng(4)
    assert sp.fair_num_ops() == 8
    normal0, reduce0, inputs = [], [], Counter()
    for _ in range(1500):
        paths = sp.fair_paths(rng)
        assert len(paths) == 8
        for cell in ("normal", "reduce"):
            for slot in range(8):
                ops = [getattr(p, cell)[slot][0] for p in paths]
                assert sorted(ops) == sorted(OPS)  # each op exactly once per slot and step
                ins = {getattr(p, cell)[slot][1] for p in paths}
                assert len(ins) == 1 and 0 <= ins.pop() < NUM_INPUTS[slot // 2]  # topology fixed
        assert all(p.normal_concat == p.reduce_concat == (2, 3, 4, 5) for p in paths)
        normal0.append(OPS.index(paths[0].normal[0][0]))
        reduce0.append(OPS.index(paths[0].reduce[0][0]))
        inputs[paths[0].reduce[7][1]] += 1
    table = np.zeros((8, 8))
    for a, b in zip(normal0, reduce0, strict=True):
        table[a, b] += 1
    assert chi2_contingency(table).pvalue > 1e-3  # normal and reduction permutations independent
    assert chisquare(np.bincount(normal0, minlength=8)).pvalue > 1e-3
    assert chisquare([inputs[i] for i in range(5)]).pvalue > 1e-3  # topology uniform


def test_sampler_registry_uses_darts():
    from wsnas.config import SamplerConfig
    from wsnas.spaces.samplers import build_sampler

    sp, rng = DartsSpace(), np.random.default_rng(5)
    for name, n in (("random_nas", 1), ("random_a", 1), ("fairnas", 8)):
        paths = build_sampler(sp, SamplerConfig(name=name)).step_paths(rng)
        assert len(paths) == n and all(isinstance(p, Genotype) for p in paths)


# -- networks (provided by the networks module) ------------------------------------------


def test_arch_facts_darts_v2():
    pytest.importorskip("wsnas.spaces.darts.standalone")
    pytest.importorskip("wsnas.spaces.darts.flops")
    facts = DartsSpace().arch_facts(parse_genotype(DARTS_V2))
    assert round(facts["params_m"], 1) == 3.3  # DARTS reports 3.3M (no auxiliary head)
    # golden: main 67b49a6, the pinned counts of test_darts_nets.py (3,349,342 params, 528,359,050 MACs)
    assert facts["params_m"] == pytest.approx(3.349342, abs=1e-9)
    assert facts["flops_m"] == pytest.approx(528.35905, abs=1e-9)
    assert (facts["channels"], facts["layers"]) == (36, 20)


# -- CLI -----------------------------------------------------------------------------------


def test_cli_space_info(capsys):
    assert main(["space", "info", "darts_nds", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["space"] == "darts_nds" and info["num_archs"] == CELL_ENCODINGS**2
    assert info["num_unique"] == CELL_UNIQUE**2 and info["nodes_per_cell"] == 4


def test_cli_space_canonical(tmp_path, capsys):
    f = tmp_path / "archs.txt"
    f.write_text(DARTS_V2 + "\n")
    assert main(["space", "canonical", "darts_nds", "--file", str(f)]) == 0
    assert capsys.readouterr().out.strip() == canonical_id(DARTS_V2)
