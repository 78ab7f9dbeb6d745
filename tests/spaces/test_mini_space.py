"""nb201_mini: codec, unique rule, samplers and the embedded NB201 networks."""

import numpy as np
import pytest
import torch

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.core.errors import ArchError
from wsnas.spaces import get_space
from wsnas.spaces.mini.space import embed, unique_classes
from wsnas.spaces.nb201.arch import canonical_id, format_arch


@pytest.fixture(scope="module")
def space():
    return get_space("nb201_mini")


def test_sizes_and_round_trip(space):
    assert space.num_archs == 125 and space.num_unique == 60
    archs = space.all_archs()
    assert len(set(archs)) == 125
    for a in archs:
        s = space.format(a)
        assert space.parse(s) == a
        assert format_arch(embed(a)).startswith(s + "+")
    assert space.format((3, 1, 2)) == "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|"


def test_unique_rule_is_nb201s_on_the_embedding(space):
    # skip on 0->2 and 1->2 with the same op on 0->1 vs the mirrored one: different cells
    a = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|")
    b = space.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|")
    assert space.canonical(a) != space.canonical(b)
    # node 1 unused (1->2 none): its op does not matter
    c = space.parse("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|")
    d = space.parse("|nor_conv_1x1~0|+|avg_pool_3x3~0|none~1|")
    assert space.canonical(c) == space.canonical(d) == canonical_id(embed(c))
    ids, members = unique_classes()
    assert sum(len(m) for m in members) == 125 and len(ids) == 60


@pytest.mark.parametrize(
    "text, message",
    [
        ("|nor_conv_3x3~0|", "expected 2 nodes"),
        ("|conv~0|+|none~0|none~1|", "unknown op 'conv'"),
        ("|none~0|+|none~1|none~0|", "expected 0"),
    ],
)
def test_bad_arch_strings_are_explained(space, text, message):
    with pytest.raises(ArchError, match=message):
        space.parse(text)


def test_samplers_cover_the_space(space):
    rng = np.random.default_rng(0)
    seen = {space.sample(rng) for _ in range(3000)}
    assert len(seen) == 125
    uniq = {space.canonical(space.sample_unique(rng)) for _ in range(3000)}
    assert len(uniq) == 60
    paths = space.fair_paths(rng)
    assert len(paths) == 5 and all(sorted(p[e] for p in paths) == list(range(5)) for e in range(3))


@pytest.mark.parametrize("affine", [True, False])
def test_supernet_path_equals_extracted_standalone(space, affine):
    torch.manual_seed(0)
    net = space.supernet(MappingConfig(bn_affine=affine), LowFidelityConfig(channels=4, cells_per_stage=1))
    x = torch.randn(6, 3, 8, 8)
    net.eval()
    for a in [(3, 1, 2), (4, 3, 0), (0, 0, 1)]:
        ref = net.extract_standalone(a).eval()
        assert torch.allclose(net(x, a), ref(x), atol=1e-5)
    assert net.path_key((3, 0, 0)) == net.path_key((3, 0, 0))


def test_standalone_net_and_facts(space):
    net = space.standalone((3, 1, 2), channels=16, cells=1)
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 10)
    facts = space.arch_facts((3, 1, 2))
    assert facts["params_m"] == pytest.approx(sum(p.numel() for p in net.parameters()) / 1e6)
    assert space.arch_facts((0, 0, 0))["flops_m"] < facts["flops_m"]
