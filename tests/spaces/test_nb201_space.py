"""NB201 codec, canonical ids (the benchmark's unique-cell rule) and samplers of cells."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.stats import chisquare

from wsnas.cli.main import main
from wsnas.core.errors import ArchError
from wsnas.spaces import get_space
from wsnas.spaces.nb201.arch import (
    all_archs,
    arch_to_index,
    canonical_id,
    format_arch,
    index_to_arch,
    parse_arch,
    unique_classes,
)

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
INDEX0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def test_round_trip_all_encodings():
    for a in all_archs():
        assert parse_arch(format_arch(a)) == a
        assert index_to_arch(arch_to_index(a)) == a
    assert len(all_archs()) == 15625


def test_parse_known_strings():
    assert parse_arch(INDEX0) == (4, 2, 1, 2, 1, 1)
    assert parse_arch(BEST) == (3, 3, 3, 1, 3, 2)


def test_unique_count_is_6466():
    ids, members = unique_classes()
    assert len(ids) == 6466
    assert sum(len(m) for m in members) == 15625
    assert get_space("nb201").num_unique == 6466


def test_canonical_reference_example():
    # docs/background.md#unique-cells: this cell's output is only skip(skip(input)) through node 2,
    # so its id is '#+#+#+0'
    a = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|"
    assert canonical_id(parse_arch(a)) == "#+#+#+0"


def test_canonical_hand_cases():
    # node 1 = conv3(0); node 2 = 0 + (node1 skipped) ; node 3 = node 2 only
    a = parse_arch("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|")
    # node2 terms: '0' (skip from 0) and '#' (none) -> sorted '#+0'; node 3: '#','#','#+0'
    assert canonical_id(a) == "#+#+#+0"
    # all none: every term is '#'
    assert canonical_id((0,) * 6) == "#+#+#"
    # terms are sorted, so swapping the ops of node 2's two (equivalent) inputs gives one id:
    # x: node1 = (0)@c1, node2 = (0)@c3 + skip(node1); y: node1 = (0)@c3, node2 = (0)@c1 + skip
    x = parse_arch("|nor_conv_1x1~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
    y = parse_arch("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
    assert canonical_id(x) == canonical_id(y) == "#+#+(0)@nor_conv_1x1+(0)@nor_conv_3x3"
    # the rule is the benchmark's string rule, not full graph isomorphism: these two compute
    # the same network but sort differently, and the benchmark counts them as two cells
    x = parse_arch("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|")
    y = parse_arch("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|skip_connect~1|skip_connect~2|")
    assert canonical_id(x) == "#+#+(0)@nor_conv_3x3+(0)@nor_conv_1x1"
    assert canonical_id(y) == "#+#+(0)@nor_conv_1x1+(0)@nor_conv_3x3"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("|nor_conv_3x3~0|+|none~0|none~1|", "expected 3 nodes"),
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'"),
        ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "node 2 input 2 has source '2'"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 must have 2 inputs"),
        ("|none|+|none~0|none~1|+|none~0|none~1|none~2|", "lacks '~source'"),
        ("none~0+|none~0|none~1|+|none~0|none~1|none~2|", "node 1"),
        ("|nor_conv_3x4~0|+|none~0|none~1|+|none~0|none~1|none~2|", "did you mean 'nor_conv_3x3'"),
    ],
)
def test_malformed_strings(text, needle):
    with pytest.raises(ArchError, match="NB201 arch") as e:
        parse_arch(text)
    assert needle in str(e.value)


def test_bad_encoding():
    with pytest.raises(ArchError):
        format_arch((0, 1, 2))
    with pytest.raises(ArchError):
        format_arch((0, 1, 2, 3, 4, 5))


def test_random_nas_is_uniform_over_encodings():
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    draws = [space.sample(rng) for _ in range(5000)]
    # each edge's op is uniform over the 5 ops
    for e in range(6):
        counts = np.bincount([d[e] for d in draws], minlength=5)
        assert chisquare(counts).pvalue > 1e-3
    # encodings with many isomorphs are drawn proportionally more often than under Random-A
    ids = [canonical_id(d) for d in draws]
    # 225 of the 15,625 encodings are the all-dead cell: expect about 72 of 5,000 draws
    assert Counter(ids)["#+#+#"] > 40


def test_random_a_is_uniform_over_unique_cells():
    space = get_space("nb201")
    rng = np.random.default_rng(1)
    ids, members = unique_classes()
    # group classes by size so every bin has many expected draws: the share of draws in
    # classes of each size must match the share of classes of that size (uniform over ids)
    size_of = {k: len(m) for k, m in zip(ids, members, strict=True)}
    n = 6000
    draws = Counter(size_of[canonical_id(space.sample_unique(rng))] for _ in range(n))
    sizes = sorted(set(size_of.values()))
    n_classes = Counter(size_of.values())
    big = [s for s in sizes if n_classes[s] * n / len(ids) >= 20]
    observed = [draws[s] for s in big] + [n - sum(draws[s] for s in big)]
    expected = [n_classes[s] * n / len(ids) for s in big]
    expected.append(n - sum(expected))
    assert chisquare(observed, expected).pvalue > 1e-3
    # the all-dead class (hundreds of encodings) is one class among 6466 under Random-A
    assert draws[size_of["#+#+#"]] < 20


def test_cli_space_info(capsys):
    assert main(["space", "info", "nb201", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"num_archs": 15625' in out and '"num_unique": 6466' in out


def test_cli_canonical_file(tmp_path, capsys):
    f = tmp_path / "archs.txt"
    f.write_text(f"{INDEX0}\n\n{BEST}\n")
    assert main(["space", "canonical", "nb201", "--file", str(f)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [canonical_id(parse_arch(INDEX0)), canonical_id(parse_arch(BEST))]


def test_cli_canonical_bad_line(tmp_path, capsys):
    f = tmp_path / "archs.txt"
    f.write_text(f"{INDEX0}\n|bad~0|+|none~0|none~1|+|none~0|none~1|none~2|\n")
    assert main(["space", "canonical", "nb201", "--file", str(f)]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "unknown op 'bad'" in err
