"""NB101 networks: stand-alone fidelity (params, FLOPs), super-net mapping factors, dynamic layers."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nb101_records import C1, C3, INCEPTION_MATRIX, INCEPTION_OPS, MP
from wsnas.config import LowFidelityConfig, MappingConfig, _read_yaml, load_config
from wsnas.core.errors import ArchError, ConfigError
from wsnas.nn.dynamic import (
    DynamicBatchNorm2d,
    DynamicConv2d,
    interp_map,
    interp_matrix,
    prefix_map,
    random_map,
    shuffle_maps,
)
from wsnas.nn.superkernel import SuperKernelConv2d
from wsnas.spaces.nb101.flops import flops_macs, flops_millions, num_params
from wsnas.spaces.nb101.graph import CellSpec
from wsnas.spaces.nb101.ops import cell_plan, possible_widths, vertex_channels
from wsnas.spaces.nb101.standalone import StandaloneNet, count_params
from wsnas.spaces.nb101.supernet import NB101SuperCell, NB101SuperNet
from wsnas.spaces.nb201.flops import count_flops

INCEPTION = CellSpec.of(INCEPTION_MATRIX, INCEPTION_OPS)
"""The benchmark's documented test vector: 2,694,282 trainable parameters."""
CHAIN = CellSpec.of(
    [[0, 1, 0, 0, 1], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]],
    ["input", C3, C1, MP, "output"],
)
"""input -> 3x3 -> 1x1 -> pool -> output, plus the input->output projection; slots 4, 5 unused."""
TRUNC = CellSpec.of(
    [[0, 1, 1, 0, 0], [0, 0, 0, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]],
    ["input", C3, MP, C1, "output"],
)
"""Three output vertices: with 8 or 16 channels vertex 1 has one channel more than vertex 3 (truncation)."""
ONLY_PROJ = CellSpec.of([[0, 1], [0, 0]], ["input", "output"])
"""No interior vertex: the cell is the input->output projection."""
WIDE = CellSpec.of(
    [
        [0, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
    ],
    ["input", C3, C1, MP, C3, C1, "output"],
)
"""All five slots, four output vertices (the most 9 edges allow), projections into slots 1-4."""
SPECS = [INCEPTION, CHAIN, TRUNC, ONLY_PROJ, WIDE]
TINY = LowFidelityConfig(channels=8, cells_per_stage=1)


def _net(lowfi: LowFidelityConfig = TINY, **mapping: object) -> NB101SuperNet:
    torch.manual_seed(0)
    net = NB101SuperNet(MappingConfig(ops_on="nodes", **mapping), lowfi)  # type: ignore[arg-type]
    with torch.no_grad():  # non-trivial BN affine params so a wrongly routed BN shows up
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d) and m.affine:
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return net


def _x(n: int = 4) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def _sample(shared: Path) -> list[dict]:
    path = shared / "nb101" / "nb101_params_sample.json"
    if not path.is_file():
        pytest.skip(f"real data absent: {path}")
    return json.loads(path.read_text())


def _spec(row: dict) -> CellSpec:
    return CellSpec.from_json({"matrix": row["matrix"], "ops": row["ops"]})


# ---- stand-alone network: the benchmark's parameter counts -----------------------------------


def test_inception_cell_has_the_official_parameter_count() -> None:
    assert num_params(INCEPTION) == 2_694_282
    with torch.device("meta"):
        net = StandaloneNet(INCEPTION)
    assert count_params(net) == 2_694_282


def test_params_equal_benchmark_for_the_60_sample_cells(shared_data: Path) -> None:
    rows = _sample(shared_data)
    assert len(rows) == 60
    for row in rows:
        spec = _spec(row)
        with torch.device("meta"):  # the real 128-channel nets, without allocating them
            net = StandaloneNet(spec)
        assert count_params(net) == row["trainable_parameters"], row
        assert num_params(spec) == row["trainable_parameters"], row


def test_vertex_channel_rule() -> None:
    # Inception: 4 output vertices share 128 evenly; vertex 3 takes its successor's 32
    assert vertex_channels(64, 128, INCEPTION.matrix) == [64, 32, 32, 32, 32, 32, 128]
    # remainder to the first output vertices; non-output vertex = max of its successors
    assert vertex_channels(8, 10, INCEPTION.matrix) == [8, 3, 3, 2, 2, 2, 10]
    assert vertex_channels(8, 8, TRUNC.matrix) == [8, 3, 3, 2, 8]
    assert vertex_channels(8, 8, CHAIN.matrix) == [8, 8, 8, 8, 8]
    assert vertex_channels(3, 8, ONLY_PROJ.matrix) == [3, 8]
    assert vertex_channels(8, 11, WIDE.matrix) == [8, 3, 3, 3, 2, 2, 11]
    with pytest.raises(ArchError, match="no channel"):
        vertex_channels(3, 3, WIDE.matrix)
    plan = cell_plan(TRUNC, 8, 8)
    assert [(v.vertex, v.width, v.srcs, v.from_input, v.mask) for v in plan.vertices] == [
        (1, 3, (), True, 0b1),
        (2, 3, (), True, 0b1),
        (3, 2, (1,), False, 0b10),
    ]
    assert plan.concat == (1, 2, 3) and not plan.out_proj and plan.widths == (2, 3)
    assert possible_widths(10) == (2, 3, 4, 5, 10)
    for C in (8, 16, 128):  # every width a cell can produce is in possible_widths
        for spec in SPECS:
            assert set(cell_plan(spec, C, C).widths) <= set(possible_widths(C))


def test_standalone_forward_and_truncation() -> None:
    net = StandaloneNet(TRUNC, stem_channels=8, cells_per_stack=1)
    assert net(_x(2)).shape == (2, 10)
    cell = net.layers[0]
    assert cell.ops["1"].conv.out_channels == 3 and cell.ops["3"].conv.in_channels == 2
    assert set(cell.proj) == {"1", "2"} and cell.out_proj is None
    net = StandaloneNet(ONLY_PROJ, stem_channels=8, cells_per_stack=2, num_classes=7)
    assert net(_x(2)).shape == (2, 7)
    # defaults = the benchmark's BN: momentum 0.997 (TF) = 0.003 (PyTorch), eps 1e-5, affine, tracked
    bn = StandaloneNet(CHAIN, stem_channels=8, cells_per_stack=1).stem.bn
    assert bn.momentum == pytest.approx(0.003) and bn.eps == 1e-5 and bn.affine and bn.track_running_stats


# ---- FLOPs -----------------------------------------------------------------------------------


def test_flops_rule_by_hand() -> None:
    C, hw = 8, 32 * 32
    stem = 27 * C * hw
    head = 4 * C * 10 + 10
    # ONLY_PROJ: each cell is one 1x1 projection C_in -> C
    cells = (
        2 * C * C * hw + (C * 2 * C + 2 * C * 2 * C) * hw // 4 + (2 * C * 4 * C + 4 * C * 4 * C) * hw // 16
    )
    assert flops_macs(ONLY_PROJ, C, 3, 2) == stem + cells + head
    # CHAIN, one cell per stack: projection + 3x3 + 1x1 at width C, plus the output projection
    per = lambda ci, c: ci * c + 9 * c * c + c * c + ci * c  # noqa: E731
    cells = per(C, C) * hw + per(C, 2 * C) * hw // 4 + per(2 * C, 4 * C) * hw // 16
    assert flops_macs(CHAIN, C, 3, 1) == stem + cells + head
    assert flops_millions(CHAIN, C, 3, 1) == pytest.approx((stem + cells + head) / 1e6)
    # the benchmark's size: a few hundred million multiply-adds
    assert 100 < flops_millions(INCEPTION) < 1000


def test_flops_agree_with_forward_hooks() -> None:
    for spec in SPECS:
        net = StandaloneNet(spec, stem_channels=8, cells_per_stack=2)
        assert count_flops(net) == pytest.approx(flops_millions(spec, 8, 3, 2), abs=1e-9), spec


# ---- super-net == stand-alone on the sampled path --------------------------------------------


MAPPINGS = {
    "default": {},
    "no-affine": {"bn_affine": False},
    "tracked": {"bn_track_running_stats": True},
    "wsbn": {"wsbn": True},
    "super-kernel": {"super_kernel": True},
    "interpolate": {"dynamic_channels": "interpolate"},
    "interpolate-tracked": {"dynamic_channels": "interpolate", "bn_track_running_stats": True},
    "shuffle": {"dynamic_channels": "shuffle"},
    "shuffle-consistent": {"dynamic_channels": "shuffle_consistent"},
    "combined": {"wsbn": True, "super_kernel": True, "dynamic_channels": "interpolate", "bn_affine": False},
}


@pytest.mark.parametrize("mapping", list(MAPPINGS.values()), ids=list(MAPPINGS))
def test_supernet_path_equals_standalone(mapping: dict[str, object]) -> None:
    net = _net(LowFidelityConfig(channels=11, cells_per_stage=1), **mapping)
    x = _x()
    # train mode is deterministic except for shuffle's random channel subsets
    modes = (False,) if str(mapping.get("dynamic_channels", "")).startswith("shuffle") else (False, True)
    for spec in SPECS:
        for train in modes:
            net.train(train)
            sa = net.extract_standalone(spec)
            assert sa.training == train
            torch.testing.assert_close(net(x, spec), sa(x), rtol=1e-5, atol=1e-5, msg=str(spec))


def test_extracted_weights_are_the_sampled_slices() -> None:
    net = _net()
    sa = net.extract_standalone(TRUNC)
    cell, scell = sa.layers[0], net.cells()[0]
    w = scell.slot(1).convs[C3].weight
    torch.testing.assert_close(cell.ops["1"].conv.weight, w[:3, :3])
    torch.testing.assert_close(cell.proj["2"].conv.weight, scell.slot(2).proj.conv.weight[:3])
    with torch.no_grad():  # a copy, not a view
        cell.ops["1"].conv.weight.add_(1.0)
    assert not torch.equal(cell.ops["1"].conv.weight, w[:3, :3])


# ---- only the sampled path -------------------------------------------------------------------


def _grads(net: NB101SuperNet, spec: CellSpec) -> None:
    net.zero_grad(set_to_none=True)
    net.train()
    net(_x(), spec).square().sum().backward()


def test_only_sampled_slots_and_ops_get_gradients() -> None:
    net = _net()
    _grads(net, CHAIN)
    for cell in net.cells():
        s1, s2, s3 = cell.slot(1), cell.slot(2), cell.slot(3)
        assert s1.proj.conv.weight.grad is not None and s1.convs[C3].weight.grad is not None
        assert s1.convs[C1].weight.grad is None and s1.bns[C1].weight.grad is None
        assert s2.convs[C1].weight.grad is not None and s2.convs[C3].weight.grad is None
        assert all(p.grad is None for p in s2.proj.parameters())  # no input->2 edge
        assert all(p.grad is None for p in s3.parameters())  # max pool: parameter-free
        for i in (4, 5):
            assert all(p.grad is None for p in cell.slot(i).parameters())
        assert cell.out_proj.conv.weight.grad is not None
    # fixed policy: a narrower vertex's gradient stays in its [0:c] block
    _grads(net, TRUNC)
    cell = net.cells()[0]  # widths 3, 3, 2 of 8
    g = cell.slot(3).convs[C1].weight.grad
    assert g is not None and g[:2, :2].abs().sum() > 0
    assert g[2:].abs().sum() == 0 and g[:, 2:].abs().sum() == 0
    g = cell.slot(1).proj.conv.weight.grad
    assert g is not None and g[3:].abs().sum() == 0 and g[:3].abs().sum() > 0
    assert cell.out_proj.conv.weight.grad is None  # no input->output edge


def test_plans_cached_and_spec_forms_accepted() -> None:
    net = _net()
    net.eval()
    x = _x(2)
    y = net(x, INCEPTION)
    plans = net._plans[INCEPTION]
    torch.testing.assert_close(net(x, INCEPTION.to_json()), y)
    torch.testing.assert_close(net(x, json.loads(INCEPTION.to_json())), y)
    assert net._plans[INCEPTION] is plans
    # an unpruned spec runs its pruned cell (vertex 1 has no input: pruned away)
    unpruned = CellSpec.of(
        [[0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], ["input", C1, C3, "output"]
    )
    pruned = CellSpec.of([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", C3, "output"])
    torch.testing.assert_close(net(x, unpruned), net(x, pruned))
    with pytest.raises(ArchError):
        net(x, CellSpec.of([[0, 0], [0, 0]], ["input", "output"]))
    net.PLAN_CACHE_SIZE = 3
    for spec in SPECS:
        net(x, spec)
    assert len(net._plans) <= 3


def test_copies_and_pickles() -> None:
    net = _net()
    net.eval()
    x = _x(2)
    y = net(x, INCEPTION)
    for other in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        torch.testing.assert_close(other(x, INCEPTION), y)
        with torch.no_grad():
            other.classifier.bias.add_(1.0)
        assert not torch.allclose(other(x, INCEPTION), y)


# ---- dynamic channels ------------------------------------------------------------------------


def test_shuffle_and_interpolate_shapes_and_differ_from_fixed() -> None:
    x = _x()
    fixed = _net()
    outs = {}
    for policy in ("shuffle", "shuffle_consistent", "interpolate"):
        net = _net(dynamic_channels=policy)
        net.load_state_dict(fixed.state_dict())  # same weights, different channel policy
        net.train()
        fixed.train()
        torch.manual_seed(5)
        y = net(x, INCEPTION)
        assert y.shape == (4, 10) and torch.isfinite(y).all()
        assert not torch.allclose(y, fixed(x, INCEPTION))
        outs[policy] = y
        # a full-width spec (one vertex): the consistent policies equal fixed; the authors'
        # shuffle permutes even a full-width axis, so it does not
        same = torch.allclose(net(x, CHAIN), fixed(x, CHAIN), rtol=1e-5, atol=1e-5)
        assert same == (policy != "shuffle"), policy
    for policy in ("shuffle", "shuffle_consistent"):
        # the shuffles draw from torch's RNG: same seed, same subsets; new draw, new output
        net = _net(dynamic_channels=policy)
        net.load_state_dict(fixed.state_dict())
        torch.manual_seed(5)
        torch.testing.assert_close(net(x, INCEPTION), outs[policy])
        assert not torch.allclose(net(x, INCEPTION), outs[policy])
        # eval: deterministic, [0:c] (docs/factors.md: the authors' code draws at eval too)
        net.eval()
        fixed.eval()
        torch.testing.assert_close(net(x, INCEPTION), fixed(x, INCEPTION))


def test_shuffle_is_the_authors_channel_select_dropout() -> None:
    """`shuffle`: per conv call, each weight axis takes the first c of its own fresh permutation
    (unsorted, unrelated to the other axis and to the previous layer); the BN takes [0:c]."""
    net = _net(dynamic_channels="shuffle")
    cell = net.cells()[0]
    cell.train()
    torch.manual_seed(0)
    C = cell.C
    op = cell.conv_maps(None, 5, False, torch.device("cpu"))
    assert op.out is not None and op.inp is not None and op.bn is not None
    assert op.out.size == op.inp.size == 5 and op.out.full == op.inp.full == C
    assert not torch.equal(op.out.index, op.inp.index)
    assert op.bn.kind == "prefix" and op.bn.size == 5
    proj = cell.conv_maps(None, 5, True, torch.device("cpu"))
    assert proj.inp is not None and proj.inp.size == proj.inp.full == cell.C_in  # a full permutation
    assert sorted(proj.inp.index.tolist()) == list(range(cell.C_in))
    unsorted = False
    for _ in range(20):
        m = random_map(16, 6)
        assert m.index is not None and len(set(m.index.tolist())) == 6 and int(m.index.max()) < 16
        unsorted |= not torch.equal(m.index, m.index.sort().values)
    assert unsorted
    full = random_map(16, 16)
    assert full.index is not None and not torch.equal(full.index, torch.arange(16))
    # eval mode and the consistent policies: one map for both axes and the BN
    cell.eval()
    same = cell.conv_maps(prefix_map(C, 5), 5, False, torch.device("cpu"))
    assert same.out is same.inp is same.bn


def test_shuffle_maps_are_nested_sorted_subsets() -> None:
    torch.manual_seed(0)
    seen = set()
    for _ in range(20):
        maps = shuffle_maps(16, (5, 6, 16))
        assert set(maps) == {5, 6}  # the full width needs no map
        a, b = maps[5].index, maps[6].index
        assert a is not None and b is not None
        assert torch.equal(b[:5], a) and torch.equal(a, a.sort().values)
        assert len(set(b.tolist())) == 6 and b.max() < 16
        seen.add(tuple(a.tolist()))
    assert len(seen) > 1
    assert shuffle_maps(8, (8,)) == {}


def test_interpolation_rule() -> None:
    R = interp_matrix(5, 2, torch.device("cpu"), torch.float32)
    # adaptive-average-pool bins: [0, 3) and [2, 5)
    expect = torch.tensor([[1 / 3, 1 / 3, 1 / 3, 0, 0], [0, 0, 1 / 3, 1 / 3, 1 / 3]])
    torch.testing.assert_close(R, expect)
    w = torch.randn(5, 4, 3, 3)
    m = interp_map(5, 2)
    torch.testing.assert_close(m.take(w, 0), torch.einsum("oc,cikl->oikl", R, w))
    torch.testing.assert_close(
        m.take(w.transpose(0, 1), 1), torch.einsum("oc,ickl->iokl", R, w.transpose(0, 1))
    )
    v = torch.arange(5.0)
    torch.testing.assert_close(m.take(v, 0), F.adaptive_avg_pool1d(v.view(1, 1, 5), 2).view(2))


def test_dynamic_conv_and_bn_with_prefix_maps() -> None:
    torch.manual_seed(0)
    conv = DynamicConv2d(6, 8, 3)
    x = torch.randn(2, 4, 5, 5)
    om, im = prefix_map(8, 3), prefix_map(6, 4)
    torch.testing.assert_close(conv(x, om, im), F.conv2d(x, conv.weight[:3, :4], padding=1))
    bn = DynamicBatchNorm2d(8, track_running_stats=True)
    bn.train()
    y = torch.randn(4, 3, 5, 5) * 2 + 1
    bn(y, om)
    assert torch.all(bn.running_mean[3:] == 0) and torch.all(bn.running_mean[:3] != 0)
    # shuffle: the gathered statistics are written back to the sampled channels only
    bn2 = DynamicBatchNorm2d(8, track_running_stats=True)
    idx = torch.tensor([1, 4, 6])
    from wsnas.nn.dynamic import ChannelMap

    bn2(y, ChannelMap("index", 3, 8, index=idx))
    assert torch.all(bn2.running_mean[[0, 2, 3, 5, 7]] == 0) and torch.all(bn2.running_mean[idx] != 0)
    torch.testing.assert_close(bn2.running_mean[idx], bn.running_mean[:3])
    # interpolate: statistics per width
    bn3 = DynamicBatchNorm2d(8, track_running_stats=True, width_stats=(3,))
    bn3(y, interp_map(8, 3))
    assert torch.all(bn3.running_mean == 0) and torch.all(bn3.running_mean_w3 != 0)
    assert "running_var_w3" in bn3.state_dict()
    # a super-net with per-width statistics round-trips through its state dict
    net = _net(dynamic_channels="interpolate", bn_track_running_stats=True)
    assert any(k.endswith("running_mean_w3") for k in net.state_dict())
    _net(dynamic_channels="interpolate", bn_track_running_stats=True).load_state_dict(net.state_dict())


# ---- OFA super-kernel ------------------------------------------------------------------------


def test_super_kernel_1x1_is_the_centre_tap_at_init() -> None:
    torch.manual_seed(0)
    conv = SuperKernelConv2d(4, 6, (3, 1))
    assert list(conv.transforms) == ["3to1"] and torch.equal(conv.transforms["3to1"], torch.eye(1))
    k1 = conv.weight_for(kernel_size=1)
    torch.testing.assert_close(k1, conv.weight[:, :, 1:2, 1:2])
    x = torch.randn(2, 4, 7, 7)
    torch.testing.assert_close(conv(x, kernel_size=1), F.conv2d(x, conv.weight[:, :, 1:2, 1:2]))
    torch.testing.assert_close(conv(x, kernel_size=3), F.conv2d(x, conv.weight, padding=1))
    with torch.no_grad():
        conv.transforms["3to1"].fill_(2.0)
    torch.testing.assert_close(conv(x, kernel_size=1), 2 * F.conv2d(x, conv.weight[:, :, 1:2, 1:2]))
    # a 5 -> 3 -> 1 chain: (k*k) x (k*k) matrices, identity = centre crops
    big = SuperKernelConv2d(2, 2, (5, 3, 1))
    assert {k: tuple(v.shape) for k, v in big.transforms.items()} == {"5to3": (9, 9), "3to1": (1, 1)}
    torch.testing.assert_close(big.weight_for(kernel_size=1), big.weight[:, :, 2:3, 2:3])
    with pytest.raises(ValueError):
        big.weight_for(kernel_size=7)


def test_super_kernel_shares_weights_in_the_supernet() -> None:
    plain, sk = _net(), _net(super_kernel=True)
    for cell in sk.cells():
        for i in range(1, 6):
            slot = cell.slot(i)
            assert slot.conv(C3) is slot.conv(C1) and slot.bn(C3, 1) is slot.bn(C1, 1)
    # per slot: the 1x1 conv weight and one BN go, one scalar transform comes
    diff = sum(5 * (c * c + 2 * c - 1) for c in (8, 16, 32))
    assert count_params(plain) - count_params(sk) == diff
    # the transform learns only when a 1x1 vertex runs
    _grads(sk, CHAIN)  # vertex 2 is a 1x1
    assert sk.cells()[0].slot(2).convs["conv"].transforms["3to1"].grad is not None
    assert sk.cells()[0].slot(1).convs["conv"].transforms["3to1"].grad is None
    assert sk.cells()[0].slot(1).convs["conv"].weight.grad is not None


# ---- WSBN ------------------------------------------------------------------------------------


def test_wsbn_has_one_bn_per_input_set() -> None:
    net, plain = _net(wsbn=True), _net()
    for cell in net.cells():
        for i in range(1, 6):
            slot = cell.slot(i)
            assert len(slot.bns[C3]) == 2**i - 1 and len(slot.bns[C1]) == 2**i - 1
            bns = {id(slot.bn(C3, mask)) for mask in range(1, 2**i)}
            assert len(bns) == 2**i - 1
            assert slot.bn(C3, 1) is not slot.bn(C1, 1)
    # the sampled input set picks the BN: only that one is trained
    _grads(net, TRUNC)  # vertex 3's only input is vertex 1: mask 0b10
    slot = net.cells()[0].slot(3)
    assert slot.bn(C1, 0b10).weight.grad is not None
    assert all(slot.bn(C1, m).weight.grad is None for m in range(1, 8) if m != 0b10)
    # per cell: (57 - 5) extra BNs for each of the two convs, 2 * C params each
    diff = sum(2 * (57 - 5) * 2 * c for c in (8, 16, 32))
    assert count_params(net) - count_params(plain) == diff


# ---- BN flags, dropout, config errors --------------------------------------------------------


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("track", [True, False])
def test_bn_flags_everywhere(affine: bool, track: bool) -> None:
    net = _net(bn_affine=affine, bn_track_running_stats=track)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) > 20
    for m in bns:
        assert m.affine == affine and m.track_running_stats == track
        assert (m.weight is not None) == affine and (m.running_mean is not None) == track


def test_eval_uses_batch_stats_without_tracking() -> None:
    net = _net()
    x = _x(8)
    net.train()
    y_train = net(x, INCEPTION)
    net.eval()
    y_eval = net(x, INCEPTION)
    torch.testing.assert_close(y_eval, y_train)
    assert not torch.allclose(net(x[:4], INCEPTION), y_eval[:4])
    tracked = _net(bn_track_running_stats=True)
    tracked.train()
    y_train = tracked(x, INCEPTION)
    tracked.eval()
    assert not torch.allclose(tracked(x, INCEPTION), y_train)
    torch.testing.assert_close(tracked(x[:4], INCEPTION), tracked(x, INCEPTION)[:4])


@pytest.mark.parametrize("factor", ["dropout_global", "dropout_path"])
def test_dropout_only_in_training(factor: str) -> None:
    net, plain = _net(**{factor: 0.5}), _net()
    x = _x(8)
    net.eval()
    plain.eval()
    torch.testing.assert_close(net(x, INCEPTION), plain(x, INCEPTION))
    net.train()
    plain.train()
    torch.manual_seed(3)
    a, b = net(x, INCEPTION), net(x, INCEPTION)
    assert not torch.allclose(a, b)
    assert not torch.allclose(a, plain(x, INCEPTION))


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="ops live on nodes"):
        NB101SuperNet(MappingConfig(ops_on="edges"), TINY)
    with pytest.raises(ConfigError, match="at least 5"):
        NB101SuperNet(MappingConfig(ops_on="nodes"), LowFidelityConfig(channels=4, cells_per_stage=1))
    net = NB101SuperNet(lowfi=TINY)  # no mapping: ops on nodes
    assert net.mapping.ops_on == "nodes"


def test_builder_low_fidelity_and_benchmark_size() -> None:
    net = NB101SuperNet(MappingConfig(ops_on="nodes"), LowFidelityConfig(channels=6, cells_per_stage=2))
    assert len(net.cells()) == 6 and len(net.layers) == 8
    assert [(c.C_in, c.C) for c in net.cells()] == [(6, 6), (6, 6), (6, 12), (12, 12), (12, 24), (24, 24)]
    assert net.classifier.in_features == 24
    assert net(_x(2), WIDE).shape == (2, 10)
    with torch.device("meta"):
        full = NB101SuperNet(MappingConfig(ops_on="nodes"))
    assert full.C == 128 and full.N == 3 and isinstance(full.layers[0], NB101SuperCell)


def test_configs_validate() -> None:
    root = Path(__file__).resolve().parents[2] / "src" / "wsnas" / "configs"
    base = _read_yaml(root / "nb101.yaml")
    quick = _read_yaml(root / "nb101-quick.yaml")
    assert base["space"]["name"] == "nb101" and base["mapping"]["ops_on"] == "nodes"
    assert base["protocol"]["weight_decay"] == 1e-4
    assert base["lowfi"] == {"channels": 128, "cells_per_stage": 3}
    assert quick["mapping"] == base["mapping"] and quick["lowfi"]["cells_per_stage"] == 1
    for name in ("nb101.yaml", "nb101-quick.yaml"):
        cfg = load_config(root / name)
        assert cfg.space.name == "nb101" and cfg.bench.metric == "test" and cfg.bench.schedule == "108"
        assert not cfg.mapping.bn_track_running_stats and cfg.mapping.bn_affine
        NB101SuperNet(cfg.mapping, LowFidelityConfig(channels=8, cells_per_stage=1))
