"""NB201 networks: stand-alone fidelity (params, FLOPs), super-net mapping factors."""

from __future__ import annotations

import copy
import csv
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.nn import DropPath, bn_factory, drop_path
from wsnas.spaces.nb201.arch import OPS, parse_arch
from wsnas.spaces.nb201.flops import count_flops, flops_macs, flops_millions
from wsnas.spaces.nb201.ops import CONV1, CONV3, POOL, SKIP, cell_plan
from wsnas.spaces.nb201.standalone import StandaloneNet, count_params
from wsnas.spaces.nb201.supernet import NB201SuperCell, NB201SuperNet

TINY = LowFidelityConfig(channels=4, cells_per_stage=1)
FULL_PATH = (3, 2, 4, 1, 3, 2)
"""Every edge live and reaching node 3."""
DEAD_NODE = (0, 3, 3, 1, 1, 1)
"""Node 1 has only a `none` input; conv 1->2 runs on zeros, skip 1->3 is pruned."""
DEAD_END = (3, 2, 0, 1, 0, 1)
"""Node 1 is computed by the benchmark but never reaches node 3."""

NATS = {  # real NATS-Bench records: index -> (arch, cifar10 flop, cifar100 flop, ImageNet16 flop)
    0: (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
        15.64737,
        15.65322,
        3.91948,
    ),
    11: (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
        113.95137,
        113.95722,
        28.49548,
    ),
    284: (
        "|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|skip_connect~0|skip_connect~1|avg_pool_3x3~2|",
        11.71521,
        11.72106,
        2.93644,
    ),
}


def _net(**mapping: object) -> NB201SuperNet:
    torch.manual_seed(0)
    return NB201SuperNet(MappingConfig(**mapping), TINY)


def _x(n: int = 4, side: int = 16) -> torch.Tensor:
    return torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(1))


def _cells(net: NB201SuperNet) -> list[NB201SuperCell]:
    return [c for c in net.cells if isinstance(c, NB201SuperCell)]


# ---- stand-alone network: the benchmark's params and FLOPs ------------------------------------


def test_params_match_benchmark_sample(shared_data: Path) -> None:
    path = shared_data / "nb201" / "nb201_params_sample.csv"
    if not path.is_file():
        pytest.skip("real data absent: ../shared/data/nb201/nb201_params_sample.csv")
    with path.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 100
    for row in rows:
        n = count_params(StandaloneNet(parse_arch(row["arch_str"])))
        assert round(n / 1e6, 6) == float(row["params_millions"]), row


def test_params_official_range() -> None:
    assert count_params(StandaloneNet((0,) * 6)) == 73_306
    assert count_params(StandaloneNet((CONV3,) * 6)) == 1_531_546


@pytest.mark.parametrize("index", sorted(NATS))
def test_flops_match_nats_records(index: int) -> None:
    arch_str, c10, c100, in16 = NATS[index]
    arch = parse_arch(arch_str)
    assert flops_millions(arch) == pytest.approx(c10, abs=5e-6)
    assert flops_millions(arch, num_classes=100) == pytest.approx(c100, abs=5e-6)
    assert flops_millions(arch, num_classes=120, image_size=16) == pytest.approx(in16, abs=5e-6)
    assert count_flops(StandaloneNet(arch)) == pytest.approx(c10, abs=5e-6)


def test_flops_rule_by_hand() -> None:
    # all-none: stem + two residual blocks + linear, pools/BN not counted
    C, hw = 16, 32 * 32
    expect = 27 * C * hw
    expect += (9 * 16 * 32 + 9 * 32 * 32 + 16 * 32) * hw // 4
    expect += (9 * 32 * 64 + 9 * 64 * 64 + 32 * 64) * hw // 16
    expect += 64 * 10 + 10
    assert flops_macs((0,) * 6) == expect
    # one conv3x3 edge adds 9*C^2*HW per cell in each stage; pool/skip add nothing
    one = flops_macs((CONV3, 0, 0, 0, 0, 0)) - expect
    assert one == 5 * 9 * (16 * 16 * hw + 32 * 32 * hw // 4 + 64 * 64 * hw // 16)
    assert flops_macs((POOL, SKIP, POOL, SKIP, POOL, SKIP)) == expect


def test_count_flops_agrees_with_analytic() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        arch = tuple(int(o) for o in rng.integers(0, len(OPS), 6))
        net = StandaloneNet(arch, C=8, N=2)
        assert count_flops(net) == pytest.approx(flops_millions(arch, C=8, N=2), abs=1e-9)
    # the super-net counts what it runs: everything for a fully live arch, less when it prunes
    sn = _net()
    assert count_flops(sn, FULL_PATH) == pytest.approx(flops_millions(FULL_PATH, 4, 1), abs=1e-9)
    assert count_flops(sn, DEAD_END) < flops_millions(DEAD_END, 4, 1)
    assert sn.training  # mode restored


# ---- super-net == stand-alone on the sampled path -----------------------------------------


@pytest.mark.parametrize(
    "mapping",
    [
        {},
        {"bn_affine": False},
        {"bn_track_running_stats": True},
        {"ops_on": "nodes"},
        {"ops_on": "nodes", "wsbn": True},
    ],
    ids=["default", "no-affine", "tracked", "nodes", "nodes-wsbn"],
)
def test_supernet_path_equals_standalone(mapping: dict[str, object]) -> None:
    net = _net(**mapping)
    # give BN affine params non-trivial values so a wrongly routed BN shows up
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d) and m.affine:
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    rng = np.random.default_rng(2)
    archs = [FULL_PATH, DEAD_NODE, DEAD_END, (0,) * 6, (CONV3,) * 6]
    archs += [tuple(int(o) for o in rng.integers(0, len(OPS), 6)) for _ in range(4)]
    x = _x()
    for arch in archs:
        for train in (False, True):
            net.train(train)
            sa = net.extract_standalone(arch)
            assert sa.training == train
            torch.testing.assert_close(net(x, arch), sa(x), rtol=1e-5, atol=1e-5, msg=str(arch))


def test_extracted_standalone_is_a_copy() -> None:
    net = _net()
    sa = net.extract_standalone(FULL_PATH)
    with torch.no_grad():
        for p in sa.parameters():
            p.add_(1.0)
    assert not torch.equal(net.classifier.weight, sa.classifier.weight)


# ---- only the sampled path ------------------------------------------------------------------


def _grad_report(net: NB201SuperNet, arch: tuple[int, ...]) -> list[dict[tuple[int, int], bool]]:
    """Per cell: (edge, conv op) -> whether its conv weight got a non-zero gradient."""
    net.zero_grad(set_to_none=True)
    net.train()
    net(_x(), arch).square().sum().backward()
    out = []
    for cell in _cells(net):
        seen = {}
        for e in range(6):
            for op in (CONV1, CONV3):
                conv, _ = cell.edge_op(e, op)
                g = conv.conv.weight.grad
                seen[(e, op)] = g is not None and bool(g.abs().sum() > 0)
        out.append(seen)
    return out


def test_only_sampled_ops_get_gradients() -> None:
    net = _net()
    for seen in _grad_report(net, FULL_PATH):
        expect = {(e, op) for e, op in enumerate(FULL_PATH) if op in (CONV1, CONV3)}
        assert {k for k, v in seen.items() if v} == expect
    # parameters of ops not sampled have no gradient at all (never touched)
    for cell in _cells(net):
        for e, op in [(2, CONV3), (3, CONV1), (0, CONV1)]:
            conv, _ = cell.edge_op(e, op)
            assert all(p.grad is None for p in conv.parameters())
    # the rest of the net (stem, residual blocks, head) is always trained
    for name, p in net.named_parameters():
        if not name.startswith("cells.") or ".conv_" in name or ".downsample." in name:
            assert p.grad is not None, name


def test_dead_end_edges_are_not_run() -> None:
    net = _net()
    for cell in _cells(net):
        conv, _ = cell.edge_op(0, CONV3)  # node 1 never reaches node 3
        assert conv.conv.weight.grad is None
    _grad_report(net, DEAD_END)
    for cell in _cells(net):
        assert cell.edge_op(0, CONV3)[0].conv.weight.grad is None
        assert cell.edge_op(1, CONV1)[0].conv.weight.grad is not None
    assert cell_plan(DEAD_END) == ((), ((1, 0, CONV1),), ((3, 0, SKIP), (5, 2, SKIP)))


def test_dead_node_and_all_none() -> None:
    # node 1 is zero: conv 1->2 still runs (BN(conv(0)) = BN bias), skip 1->3 adds nothing
    assert cell_plan(DEAD_NODE) == (
        (),
        ((1, 0, CONV3), (2, 1, CONV3)),
        ((3, 0, SKIP), (5, 2, SKIP)),
    )
    assert cell_plan(DEAD_NODE, prune=False)[2] == ((3, 0, SKIP), (4, 1, SKIP), (5, 2, SKIP))
    net = _net()
    x = _x()
    assert torch.isfinite(net(x, DEAD_NODE)).all()
    # all-none: every cell outputs zeros, so the logits do not depend on the input
    net.eval()
    a = net(x, (0,) * 6)
    b = net(torch.randn_like(x) * 5, (0,) * 6)
    assert a.shape == (4, 10) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b)
    net.train()
    net(x, (0,) * 6).sum().backward()
    for cell in _cells(net):
        assert all(p.grad is None for p in cell.parameters())
    assert net.classifier.weight.grad is not None


def test_plans_are_cached_and_arch_types_accepted() -> None:
    net = _net()
    x = _x(2)
    net.eval()
    y = net(x, FULL_PATH)
    plans = net._plans[FULL_PATH]
    torch.testing.assert_close(net(x, list(FULL_PATH)), y)
    torch.testing.assert_close(net(x, np.array(FULL_PATH)), y)
    torch.testing.assert_close(net(x, tuple(np.int64(o) for o in FULL_PATH)), y)
    assert net._plans[FULL_PATH] is plans
    with pytest.raises(Exception, match="encoding"):
        net(x, (0, 1, 2))


def test_copies_and_pickles_drop_the_plan_cache() -> None:
    net = _net()
    net.eval()
    x = _x(2)
    y = net(x, FULL_PATH)
    for other in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert other._plans == {}
        torch.testing.assert_close(other(x, FULL_PATH), y)
        with torch.no_grad():
            other.classifier.bias.add_(1.0)  # a copy's plan must not use the original's modules
        assert not torch.allclose(other(x, FULL_PATH), y)


# ---- mapping factors ------------------------------------------------------------------------


def test_ops_on_nodes_shares_weights() -> None:
    edges, nodes = _net(), _net(ops_on="nodes")
    for cell in _cells(edges):
        convs = [cell.edge_op(e, CONV3)[0] for e in range(6)]
        assert len({id(c) for c in convs}) == 6
    for cell in _cells(nodes):
        c = [cell.edge_op(e, CONV3)[0] for e in range(6)]
        assert c[4] is c[5]  # 1->3 and 2->3 share node 3's set
        assert len({id(m) for m in (c[0], c[1], c[2], c[3], c[4])}) == 5  # node 0's edges own
        assert cell.edge_op(4, CONV1)[0] is cell.edge_op(5, CONV1)[0]
        assert cell.edge_op(4, CONV1)[0] is not cell.edge_op(4, CONV3)[0]
    assert count_params(nodes) < count_params(edges)
    # one conv set per cell fewer: (1x1 + 3x3) weights + their BN affine params
    per_cell = lambda C: C * C * (1 + 9) + 2 * 2 * C  # noqa: E731
    assert count_params(edges) - count_params(nodes) == per_cell(4) + per_cell(8) + per_cell(16)
    # a shared conv collects gradient from both edges
    nodes.train()
    nodes(_x(), (1, 1, 1, 0, CONV3, CONV3)).sum().backward()
    assert _cells(nodes)[0].edge_op(4, CONV3)[0].conv.weight.grad is not None


def test_wsbn_gives_each_sharing_edge_its_own_bn() -> None:
    net = _net(ops_on="nodes", wsbn=True)
    for cell in _cells(net):
        for op in (CONV1, CONV3):
            (c4, bn4), (c5, bn5) = cell.edge_op(4, op), cell.edge_op(5, op)
            assert c4 is c5 and c4.bn is None
            assert isinstance(bn4, nn.BatchNorm2d) and isinstance(bn5, nn.BatchNorm2d)
            assert bn4 is not bn5
            for e in (0, 1, 2, 3):  # unshared sets keep the op's own BN
                conv, bn = cell.edge_op(e, op)
                assert bn is None and isinstance(conv.bn, nn.BatchNorm2d)
    plain = _net(ops_on="nodes")
    # per cell: one extra BN (2C params) for each of the two conv ops
    assert count_params(net) - count_params(plain) == 2 * 2 * (4 + 8 + 16)
    # with ops on edges nothing is shared, so wsbn changes nothing
    a, b = _net(), _net(wsbn=True)
    assert a.state_dict().keys() == b.state_dict().keys()
    x = _x()
    torch.testing.assert_close(a(x, FULL_PATH), b(x, FULL_PATH))


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("track", [True, False])
def test_bn_flags_everywhere(affine: bool, track: bool) -> None:
    net = _net(bn_affine=affine, bn_track_running_stats=track)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) > 10
    for m in bns:
        assert m.affine == affine and m.track_running_stats == track
        assert (m.weight is not None) == affine and (m.bias is not None) == affine
        assert (m.running_mean is not None) == track
    names = [n for n, _ in net.named_buffers()]
    assert any("running_mean" in n for n in names) == track


def test_eval_uses_batch_stats_without_tracking() -> None:
    net = _net()
    x = _x(8)
    net.train()
    y_train = net(x, FULL_PATH)
    net.eval()
    y_eval = net(x, FULL_PATH)
    torch.testing.assert_close(y_eval, y_train)
    # batch statistics: a sample's output depends on the rest of the batch
    assert not torch.allclose(net(x[:4], FULL_PATH), y_eval[:4])
    # with tracking, eval uses running stats instead
    tracked = _net(bn_track_running_stats=True)
    tracked.train()
    y_train = tracked(x, FULL_PATH)
    tracked.eval()
    assert not torch.allclose(tracked(x, FULL_PATH), y_train)
    torch.testing.assert_close(tracked(x[:4], FULL_PATH), tracked(x, FULL_PATH)[:4])


@pytest.mark.parametrize("factor", ["dropout_global", "dropout_path"])
def test_dropout_only_in_training(factor: str) -> None:
    net = _net(**{factor: 0.5})
    plain = _net()
    x = _x(8)
    net.eval()
    plain.eval()
    torch.testing.assert_close(net(x, FULL_PATH), plain(x, FULL_PATH))
    net.train()
    plain.train()
    torch.manual_seed(3)
    a = net(x, FULL_PATH)
    b = net(x, FULL_PATH)
    assert not torch.allclose(a, b)
    assert not torch.allclose(a, plain(x, FULL_PATH))


def test_drop_path_function() -> None:
    x = torch.ones(1000, 2, 3, 3)
    assert drop_path(x, 0.3, training=False) is x
    assert drop_path(x, 0.0) is x
    torch.manual_seed(0)
    y = drop_path(x, 0.25)
    per_sample = y.flatten(1)
    assert torch.all((per_sample == 0).all(1) | torch.isclose(per_sample, torch.tensor(4 / 3)).all(1))
    assert 0.18 < (per_sample[:, 0] == 0).float().mean() < 0.32
    m = DropPath(0.25).eval()
    assert m(x) is x
    with pytest.raises(ValueError):
        DropPath(1.0)


def test_bn_factory() -> None:
    bn = bn_factory(affine=False, track_running_stats=False)(6)
    assert bn.num_features == 6 and bn.weight is None and bn.running_mean is None
    bn.eval()
    x = torch.randn(4, 6, 3, 3) * 3 + 2
    y = bn(x)  # batch statistics in eval mode
    assert y.mean().abs() < 1e-5
    assert pickle.loads(pickle.dumps(bn_factory()))(3).track_running_stats is False


def test_builders_and_low_fidelity() -> None:
    net = NB201SuperNet(MappingConfig(), LowFidelityConfig(channels=6, cells_per_stage=2))
    assert len(_cells(net)) == 6 and len(net.cells) == 8
    assert net.classifier.in_features == 24
    assert net(_x(2, 32), FULL_PATH).shape == (2, 10)
    sa = StandaloneNet(FULL_PATH, C=6, N=2, num_classes=7)
    assert sa(_x(2, 32)).shape == (2, 7)
    assert NB201SuperNet().C == 16 and NB201SuperNet().N == 5
