"""NB201 and nb201_mini under the OFA super-kernel: nor_conv_3x3 / nor_conv_1x1 share one 3x3 weight."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.nn.params import count_params
from wsnas.spaces import get_space
from wsnas.spaces.nb201.arch import OPS
from wsnas.spaces.nb201.kernel_group import GROUP, KernelGroup, KernelPath
from wsnas.spaces.nb201.ops import CONV1, CONV3
from wsnas.spaces.nb201.supernet import NB201SuperCell, NB201SuperNet

TINY = LowFidelityConfig(channels=4, cells_per_stage=1)
WIDTHS = (4, 8, 16)
"""Channels of the three stages of TINY (one cell each)."""


def _net(**mapping: object) -> NB201SuperNet:
    torch.manual_seed(0)
    return NB201SuperNet(MappingConfig(**mapping), TINY)


def _x() -> torch.Tensor:
    return torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))


def _cells(net: NB201SuperNet) -> list[NB201SuperCell]:
    return [c for c in net.cells if isinstance(c, NB201SuperCell)]


def _perturb(net: nn.Module) -> None:
    """Non-trivial BN affine values and kernel transforms, so a wrong routing or a skipped
    transform shows up in the logits."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d) and m.affine:
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) - 0.5)
            if isinstance(m, KernelGroup):
                m.conv.transforms["3to1"].fill_(1.7)


MAPPINGS = [{}, {"ops_on": "nodes"}, {"ops_on": "nodes", "wsbn": True}, {"bn_track_running_stats": True}]
IDS = ["edges", "nodes", "nodes-wsbn", "tracked"]


def _check_paths(net: NB201SuperNet, archs: list[tuple[int, ...]], modes: tuple[bool, ...]) -> None:
    x = _x()
    for arch in archs:
        for fast in modes:
            net.fast_path = fast
            for train in (False, True):
                net.train(train)
                sa = net.extract_standalone(arch)
                torch.testing.assert_close(net(x, arch), sa(x), rtol=1e-5, atol=1e-5, msg=str(arch))


@pytest.mark.parametrize("mapping", MAPPINGS, ids=IDS)
def test_conv_paths_equal_their_standalone(mapping: dict[str, object]) -> None:
    net = _net(super_kernel=True, **mapping)
    _perturb(net)
    rng = np.random.default_rng(0)
    convs = [tuple(int(o) for o in rng.choice((CONV1, CONV3), 6)) for _ in range(4)]
    mixed = [tuple(int(o) for o in rng.integers(0, len(OPS), 6)) for _ in range(4)]
    _check_paths(net, [(CONV1,) * 6, (CONV3,) * 6, *convs, *mixed], (True, False))


@pytest.mark.slow
@pytest.mark.parametrize("mapping", MAPPINGS[:2], ids=IDS[:2])
def test_every_kernel_choice_equals_its_standalone(mapping: dict[str, object]) -> None:
    """All 2^6 assignments of 1x1 / 3x3 to the six edges."""
    net = _net(super_kernel=True, **mapping)
    _perturb(net)
    _check_paths(net, list(itertools.product((CONV1, CONV3), repeat=6)), (True,))


@pytest.mark.slow
def test_every_mini_path_equals_its_standalone() -> None:
    space = get_space("nb201_mini")
    torch.manual_seed(0)
    net = space.supernet(MappingConfig(super_kernel=True), TINY)
    _perturb(net)
    x = _x()
    for arch in itertools.product(range(len(OPS)), repeat=3):
        net.train(False)
        torch.testing.assert_close(net(x, arch), net.extract_standalone(arch)(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("mapping", "op_sets", "bns_gone"),
    [({}, 6, 6), ({"ops_on": "nodes"}, 5, 5), ({"ops_on": "nodes", "wsbn": True}, 5, 6)],
    ids=["edges", "nodes", "nodes-wsbn"],
)
def test_parameter_count_falls_by_the_1x1_weights_and_bns(
    mapping: dict[str, object], op_sets: int, bns_gone: int
) -> None:
    """Per op set: the C x C 1x1 weight goes, one scalar transform comes; and one BN (2C affine
    parameters) per op set, or, under WSBN, per sharing edge, goes (the group shares its BN)."""
    plain, sk = _net(**mapping), _net(super_kernel=True, **mapping)
    expect = sum(op_sets * (C * C - 1) + bns_gone * 2 * C for C in WIDTHS)
    assert count_params(plain) - count_params(sk) == expect
    no_affine = {**mapping, "bn_affine": False}
    expect = sum(op_sets * (C * C - 1) for C in WIDTHS)
    assert count_params(_net(**no_affine)) - count_params(_net(super_kernel=True, **no_affine)) == expect


def test_mini_parameter_count_falls_too() -> None:
    space = get_space("nb201_mini")
    torch.manual_seed(0)
    plain = space.supernet(MappingConfig(), TINY)
    sk = space.supernet(MappingConfig(super_kernel=True), TINY)
    # the embedded 4-node cell keeps all 6 op sets (edges into node 3 run only skip/none)
    assert count_params(plain) - count_params(sk) == sum(6 * (C * C - 1 + 2 * C) for C in WIDTHS)


def test_group_is_one_weight_and_one_bn() -> None:
    net = _net(super_kernel=True)
    for cell in _cells(net):
        for e in range(6):
            one, three = cell.edge_op(e, CONV1)[0], cell.edge_op(e, CONV3)[0]
            assert isinstance(one, KernelPath) and isinstance(three, KernelPath)
            assert one.group is three.group and one.bn is three.bn is not None
            assert list(cell.op_sets[cell.edge_keys[e]]) == [GROUP]
            # at initialisation the 1x1 kernel is the centre tap of the 3x3 weight
            w = one.group.conv.weight
            torch.testing.assert_close(one.conv.weight(), w[:, :, 1:2, 1:2])
            assert torch.equal(three.conv.weight(), w)


def test_wsbn_keeps_one_bn_per_sharing_edge_for_the_group() -> None:
    net = _net(super_kernel=True, ops_on="nodes", wsbn=True)
    for cell in _cells(net):
        (p4, bn4), (p5, bn5) = cell.edge_op(4, CONV3), cell.edge_op(5, CONV1)
        assert isinstance(p4, KernelPath) and isinstance(p5, KernelPath)
        assert p4.group is p5.group and p4.bn is None
        assert isinstance(bn4, nn.BatchNorm2d) and isinstance(bn5, nn.BatchNorm2d) and bn4 is not bn5
        assert cell.edge_op(4, CONV1)[1] is bn4  # both kernel sizes of one edge: that edge's BN


def _transform_grads(net: NB201SuperNet, arch: tuple[int, ...]) -> list[list[bool]]:
    """Per cell, per edge: whether the transform of the edge's group got a gradient."""
    net.zero_grad(set_to_none=True)
    net.train()
    net(_x(), arch).square().sum().backward()
    out = []
    for cell in _cells(net):
        row = []
        for e in range(6):
            path = cell.edge_op(e, CONV3)[0]
            assert isinstance(path, KernelPath)
            row.append(path.group.conv.transforms["3to1"].grad is not None)
        out.append(row)
    return out


def test_gradients_reach_the_transform_only_on_1x1_paths() -> None:
    net = _net(super_kernel=True)
    assert _transform_grads(net, (CONV3,) * 6) == [[False] * 6] * 3
    arch = (CONV1, CONV3, CONV1, CONV3, CONV3, CONV1)
    assert _transform_grads(net, arch) == [[op == CONV1 for op in arch]] * 3
    # the 3x3 weight learns on both kinds of path
    net.zero_grad(set_to_none=True)
    net(_x(), (CONV1,) * 6).sum().backward()
    for cell in _cells(net):
        path = cell.edge_op(0, CONV1)[0]
        assert isinstance(path, KernelPath) and path.group.conv.weight.grad is not None


def test_super_kernel_changes_the_outputs_of_1x1_paths_only_through_the_transform() -> None:
    """At init the group equals separate convs whose 1x1 is the centre tap; after the transform
    moves, a 1x1 path's logits move and a 3x3-only path's do not."""
    net = _net(super_kernel=True)
    net.eval()
    x = _x()
    one, three = (CONV1,) * 6, (CONV3,) * 6
    before = net(x, one), net(x, three)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, KernelGroup):
                m.conv.transforms["3to1"].mul_(0.5)
    assert not torch.allclose(net(x, one), before[0])
    torch.testing.assert_close(net(x, three), before[1])


@pytest.mark.parametrize("space", ["nb201", "nb201_mini"])
def test_config_accepts_super_kernel(space: str) -> None:
    get_space(space).check_factors(MappingConfig(super_kernel=True), TINY)
