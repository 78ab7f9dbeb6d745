"""DARTS networks: stand-alone fidelity (params, FLOPs), super-net mapping factors."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.nn.superkernel import SuperKernelConv2d
from wsnas.spaces.darts.flops import count_flops, flops_macs, flops_millions
from wsnas.spaces.darts.genotype import FULL_CONCAT, Genotype, parse_genotype
from wsnas.spaces.darts.ops import (
    SKIP,
    FactorizedReduce,
    SepConv,
    live_nodes,
    make_op,
    reduction_layers,
)
from wsnas.spaces.darts.space import DartsSpace
from wsnas.spaces.darts.standalone import (
    DARTS_V2,
    DARTS_V2_PARAMS,
    StandaloneNet,
    count_params,
    nds_macro,
)
from wsnas.spaces.darts.supernet import (
    DartsOpSet,
    DartsSuperCell,
    DartsSuperNet,
    SharedConvOp,
    cell_plan,
    layers_for,
    step_keys,
)

TINY = LowFidelityConfig(channels=4, cells_per_stage=1)
"""5 cells: normal, reduction, normal, reduction, normal."""
NDS_DEFAULT = {"ops_on": "nodes", "bn_affine": False}


def _g(normal: list[tuple[str, int]], reduce: list[tuple[str, int]], concat=FULL_CONCAT) -> Genotype:
    return parse_genotype(
        {"normal": normal, "normal_concat": list(concat), "reduce": reduce, "reduce_concat": list(concat)}
    )


ALL_OPS = _g(  # every op once per cell type, reading inputs 0/1 and nodes
    [
        ("sep_conv_3x3", 0),
        ("sep_conv_5x5", 1),
        ("dil_conv_3x3", 2),
        ("dil_conv_5x5", 0),
        ("max_pool_3x3", 3),
        ("avg_pool_3x3", 1),
        ("skip_connect", 4),
        ("none", 2),
    ],
    [
        ("skip_connect", 0),
        ("max_pool_3x3", 1),
        ("avg_pool_3x3", 0),
        ("sep_conv_5x5", 2),
        ("dil_conv_3x3", 1),
        ("sep_conv_3x3", 3),
        ("dil_conv_5x5", 4),
        ("skip_connect", 2),
    ],
)
ZERO_NODES = _g(  # node 2 (state 2) is all-none and read by a conv, a pool and a skip; node 3 is dead
    [
        ("none", 0),
        ("none", 1),
        ("sep_conv_3x3", 2),
        ("max_pool_3x3", 2),
        ("skip_connect", 2),
        ("avg_pool_3x3", 1),
        ("dil_conv_3x3", 0),
        ("none", 1),
    ],
    [
        ("none", 0),
        ("none", 1),
        ("skip_connect", 2),
        ("dil_conv_5x5", 2),
        ("max_pool_3x3", 2),
        ("skip_connect", 0),
        ("sep_conv_5x5", 1),
        ("none", 4),
    ],
    concat=(3, 5),
)
"""Zero states, concat without node 2/4 (node 4 = state 4 is then dead in both cells)."""


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These nets are tiny: one intra-op thread is faster and immune to a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _x(n: int = 2, side: int = 16) -> torch.Tensor:
    return torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(1))


def _net(**mapping: object) -> DartsSuperNet:
    torch.manual_seed(0)
    return DartsSuperNet(MappingConfig(**{**NDS_DEFAULT, **mapping}), TINY)


def _randomize_bn(net: nn.Module) -> None:
    """Non-trivial BN affine and running statistics, so copies that pick the wrong BN show."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                if m.affine:
                    m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                    m.bias.copy_(torch.randn(m.num_features, generator=g))
                if m.track_running_stats:
                    m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                    m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)


# ---- stand-alone network: DARTS's params and FLOPs --------------------------------------------


def test_darts_v2_params_pinned() -> None:
    net = StandaloneNet(DARTS_V2)  # C=36, 20 cells
    assert count_params(net) == DARTS_V2_PARAMS == 3_349_342
    assert round(count_params(net) / 1e6, 1) == 3.3  # DARTS's published "3.3M"
    with_aux = StandaloneNet(DARTS_V2, auxiliary=True)
    assert count_params(with_aux) == DARTS_V2_PARAMS  # the auxiliary head is not counted
    assert count_params(with_aux, auxiliary=True) > DARTS_V2_PARAMS


def test_darts_v2_flops_pinned() -> None:
    assert flops_macs(DARTS_V2) == 528_359_050
    assert flops_millions(DARTS_V2) == pytest.approx(528.35905)


@pytest.mark.parametrize("genotype", [DARTS_V2, ALL_OPS, ZERO_NODES])
@pytest.mark.parametrize(("C", "layers"), [(4, 3), (6, 5), (4, 8)])
def test_flops_analytic_equals_hooks(genotype: Genotype, C: int, layers: int) -> None:
    net = StandaloneNet(genotype, C=C, layers=layers, auxiliary=True)
    assert count_flops(net) == pytest.approx(flops_macs(genotype, C, layers) / 1e6, abs=1e-9)


def test_flops_need_even_reductions() -> None:
    with pytest.raises(ValueError, match="multiple of 4"):
        flops_macs(DARTS_V2, image_size=30)


def test_reduction_layout_and_nds_macro() -> None:
    assert reduction_layers(20) == (6, 13)
    assert reduction_layers(8) == (2, 5)
    assert nds_macro(width=16, depth=8) == {"C": 16, "layers": 8}
    net = StandaloneNet(DARTS_V2, **nds_macro(8, 8))
    assert [c.reduction for c in net.cells] == [i in (2, 5) for i in range(8)]
    assert [c.reduction_prev for c in net.cells] == [i in (3, 6) for i in range(8)]
    assert isinstance(net.cells[3].preprocess0, FactorizedReduce)
    net.eval()
    with torch.no_grad():
        assert net(_x()).shape == (2, 10)
    with pytest.raises(ValueError, match="at least 3 cells"):
        reduction_layers(2)


def test_auxiliary_head_only_in_training() -> None:
    torch.manual_seed(0)
    net = StandaloneNet(DARTS_V2, C=4, layers=5, auxiliary=True)
    logits, aux = net.train().forward_aux(_x(side=32))  # the head expects 8x8 after two reductions
    assert logits.shape == aux.shape == (2, 10)  # type: ignore[union-attr]
    assert net.eval().forward_aux(_x(side=32))[1] is None


def test_standalone_ops_follow_darts() -> None:
    sep = make_op("sep_conv_5x5", 6, 2)
    assert isinstance(sep, SepConv) and sep.dw1.stride == (2, 2) and sep.dw2.stride == (1, 1)
    assert sep.dw1.groups == 6 and sep.dw1.padding == (2, 2)
    dil = make_op("dil_conv_5x5", 6)
    assert dil.dw.dilation == (2, 2) and dil.dw.padding == (4, 4)  # type: ignore[union-attr]
    assert isinstance(make_op(SKIP, 6, 1), nn.Identity)
    assert isinstance(make_op(SKIP, 6, 2), FactorizedReduce)
    assert isinstance(make_op("max_pool_3x3", 6), nn.MaxPool2d)
    pool_bn = make_op("avg_pool_3x3", 6, pool_bn=True)
    assert isinstance(pool_bn, nn.Sequential) and isinstance(pool_bn[1], nn.BatchNorm2d)
    x = torch.randn(2, 6, 8, 8)
    assert make_op("none", 6, 2)(x).shape == (2, 6, 4, 4)
    assert not make_op("none", 6, 2)(x).any()


def test_standalone_drop_path_training_only_and_not_on_identity() -> None:
    skips = _g([("skip_connect", i % 2) for i in range(8)], DARTS_V2.reduce)
    torch.manual_seed(0)
    net = StandaloneNet(skips, C=4, layers=3, drop_path=0.9, bn_track_running_stats=False)
    cell = net.cells[0]  # normal cell: only identities, so drop-path never applies
    s = torch.randn(2, 12, 8, 8)
    cell.eval()
    ref = cell(s, s, 0.9)
    cell.train()
    assert torch.allclose(cell(s, s, 0.9), ref, atol=1e-6)
    conv = StandaloneNet(DARTS_V2, C=4, layers=3, drop_path=0.5)
    conv.eval()
    with torch.no_grad():
        a, b = conv(_x()), conv(_x())
    assert torch.equal(a, b)
    conv.train()
    torch.manual_seed(1)
    with torch.no_grad():
        assert not torch.allclose(conv(_x()), conv(_x()))


# ---- super-net layout -------------------------------------------------------------------------


def test_cells_per_stage_maps_to_darts_layout() -> None:
    assert layers_for(2) == 8 and layers_for(6) == 20  # DARTS search / evaluation networks
    for n in (1, 2, 3):
        net = DartsSuperNet(MappingConfig(**NDS_DEFAULT), LowFidelityConfig(channels=4, cells_per_stage=n))
        flags = [c.reduction for c in net.cells]
        assert flags == [i in (n, 2 * n + 1) for i in range(3 * n + 2)]
        stages = "".join("R" if r else "N" for r in flags).split("R")
        assert [len(s) for s in stages] == [n, n, n]
    assert len(DartsSuperNet(MappingConfig(), TINY, layers=8).cells) == 8


def test_default_mapping_is_the_papers() -> None:
    net = DartsSuperNet()
    assert net.mapping.ops_on == "nodes" and not net.mapping.bn_affine
    assert net.C == 16 and net.layers == 8


def _op_set_keys(cell: DartsSuperCell) -> set[str]:
    return set(cell.op_sets.keys())


def test_stride_two_op_sets_in_reduction_cells() -> None:
    net = _net()
    normal, reduce = net.cells[0], net.cells[1]
    assert isinstance(normal, DartsSuperCell) and isinstance(reduce, DartsSuperCell)
    assert _op_set_keys(normal) == {f"s{k}" for k in range(8)}
    # node 0's slots read only inputs 0/1 (stride 2); later slots own both strides
    assert _op_set_keys(reduce) == {f"s{k}r" for k in range(8)} | {f"s{k}" for k in range(2, 8)}
    for key in _op_set_keys(reduce):
        s = reduce.op_set(key)
        stride = 2 if key.endswith("r") else 1
        assert s.stride == stride and (s.reduce is not None) == (stride == 2)
        assert s.conv("sep_conv_3x3").dws[0].stride == (stride, stride)
        assert s.conv("sep_conv_3x3").dws[1].stride == (1, 1)
    assert all(normal.op_set(k).stride == 1 for k in _op_set_keys(normal))
    # the genotype's input picks the op set: a slot reading a cell input runs the stride-2 set
    assert step_keys("nodes", False, True, 2, 0) == ("s2r", "any")
    assert step_keys("nodes", False, True, 2, 2) == ("s2", "any")
    assert step_keys("nodes", False, False, 2, 0) == ("s2", "any")
    for g in (ALL_OPS, ZERO_NODES, DARTS_V2):
        assert net(_x(), g).shape == (2, 10)


def test_ops_on_edges_has_one_op_set_per_input_node_pair() -> None:
    net = _net(ops_on="edges")
    keys = {f"e{j}to{i + 2}" for i in range(4) for j in range(i + 2)}
    for cell in net.cells:
        assert isinstance(cell, DartsSuperCell)
        assert _op_set_keys(cell) == keys  # 14 mixed edges, as the DARTS search network
        for key in keys:
            src = int(key[1 : key.index("to")])
            assert cell.op_set(key).stride == (2 if cell.reduction and src < 2 else 1)
    assert count_params(net) > count_params(_net())


def test_ops_on_nodes_shares_a_slot_across_inputs_edges_do_not() -> None:
    # slot 0 reads input 1 here; does that train the weights slot 0 uses when it reads input 0?
    b = _g([("sep_conv_3x3", 1), ("sep_conv_3x3", 1)] * 4, DARTS_V2.reduce)
    for ops_on, shared in (("nodes", True), ("edges", False)):
        net = _net(ops_on=ops_on)
        cell = net.cells[0]
        assert isinstance(cell, DartsSuperCell)
        key_a = step_keys(ops_on, False, False, 0, 0)[0]
        key_b = step_keys(ops_on, False, False, 0, 1)[0]
        assert (key_a == key_b) == shared
        w = cell.op_set(key_a).conv("sep_conv_3x3").pws[0].weight
        net(_x(), b).sum().backward()
        assert (w.grad is not None) == shared


def _used_prefixes(net: DartsSuperNet, g: Genotype) -> set[str]:
    """Parameter-name prefixes the path of `g` may touch."""
    out = {"stem.", "classifier."}
    normal, reduce = net.plans(g)
    for i, cell in enumerate(net.cells):
        assert isinstance(cell, DartsSuperCell)
        out |= {f"cells.{i}.preprocess0.", f"cells.{i}.preprocess1."}
        for steps in (reduce if cell.reduction else normal).nodes:
            for step in steps:
                if step.set_key is None:
                    continue
                base = f"cells.{i}.op_sets.{step.set_key}."
                op_set = cell.op_set(step.set_key)
                if step.kernel:
                    key = op_set.conv_key(step.op)
                    out |= {f"{base}convs.{key}.dws.", f"{base}convs.{key}.pws."}
                    out.add(f"{base}convs.{key}.bns.{step.bn_key}.")
                elif step.op == SKIP:
                    out |= {f"{base}reduce.conv_", f"{base}reduce.bns.{step.bn_key}."}
                else:
                    out.add(f"{base}pool_bns.{step.op}.{step.bn_key}.")
    return out


@pytest.mark.parametrize(
    "mapping",
    [{}, {"ops_on": "edges"}, {"wsbn": True, "super_kernel": True, "bn_affine": True}],
    ids=["nodes", "edges", "wsbn-superkernel"],
)
def test_gradients_only_on_the_sampled_ops(mapping: dict[str, object]) -> None:
    net = _net(**mapping)
    for g in (ALL_OPS, ZERO_NODES):
        net.zero_grad(set_to_none=True)
        net(_x(), g).sum().backward()
        allowed = _used_prefixes(net, g)
        with_grad = {n for n, p in net.named_parameters() if p.grad is not None}
        assert with_grad, "the path trains something"
        stray = sorted(n for n in with_grad if not any(n.startswith(p) for p in allowed))
        assert not stray, stray
        if g is ZERO_NODES:  # its cells read only one input: some cells' outputs are never used
            continue
        for prefix in allowed:  # every conv weight of a sampled op trains
            if ".dws." in prefix or ".pws." in prefix or "reduce.conv_" in prefix:
                assert any(n.startswith(prefix) for n in with_grad), prefix


def test_none_and_dead_nodes_are_not_computed() -> None:
    pairs, concat = ZERO_NODES.normal, ZERO_NODES.normal_concat
    assert live_nodes(pairs, concat) == (True, True, False, True)
    plan = cell_plan(ZERO_NODES, False, "nodes", False)
    assert plan.nodes[0] == ()  # all-none node: a zero state
    assert plan.nodes[2] == ()  # dead node
    assert [s.op for s in plan.nodes[1]] == ["sep_conv_3x3", "max_pool_3x3"]
    assert plan.nodes[1][0].set_key == "s2"
    skip = cell_plan(ZERO_NODES, True, "nodes", False).nodes[1][0]
    assert skip.op == SKIP and skip.set_key is None  # stride-1 skip in a reduction cell: identity
    assert plan.inputs == (True, False)  # only the dead node reads input 1: not even preprocessed
    assert cell_plan(ZERO_NODES, True, "nodes", False).inputs == (False, True)
    assert cell_plan(DARTS_V2, True, "nodes", False).inputs == (True, True)
    ident = cell_plan(ZERO_NODES, False, "nodes", False).nodes[3]
    assert ident[0].op == "dil_conv_3x3"


# ---- super-net == stand-alone with copied weights -----------------------------------------------


EQUIV_MAPPINGS = [
    {},
    {"ops_on": "edges"},
    {"bn_affine": True, "bn_track_running_stats": True},
    {"wsbn": True, "bn_affine": True, "bn_track_running_stats": True},
    {"super_kernel": True, "bn_affine": True},
    {"ops_on": "edges", "super_kernel": True, "wsbn": True, "bn_affine": True},
]


@pytest.mark.parametrize("mapping", EQUIV_MAPPINGS, ids=lambda m: ",".join(f"{k}={v}" for k, v in m.items()))
def test_supernet_path_equals_extracted_standalone(mapping: dict[str, object]) -> None:
    net = _net(**mapping)
    _randomize_bn(net)
    sample = DartsSpace().sample(np.random.default_rng(5))
    x = _x()
    for g in (DARTS_V2, ALL_OPS, ZERO_NODES, sample):
        for training in (True, False):
            net.train(training)
            with torch.no_grad():
                alone = net.extract_standalone(g)
                assert alone.training == training
                ref = alone(x)
                out = net(x, g)
            assert torch.allclose(out, ref, atol=1e-5, rtol=1e-4), (g, training)


def test_extracted_standalone_counts_the_path_parameters() -> None:
    net = _net(bn_affine=True)
    alone = net.extract_standalone(DARTS_V2)
    plain = StandaloneNet(DARTS_V2, C=4, layers=5, bn_affine=True)
    # DARTS-V2's reduction cell has 5 max pools: the copy adds one BN (2C params) per pool
    pools = sum(op == "max_pool_3x3" for op, _ in DARTS_V2.reduce)
    assert pools == 5
    assert count_params(alone) - count_params(plain) == pools * 2 * (8 + 16)  # C = 8, 16 there


# ---- super-kernel, WSBN, BN flags, dropout --------------------------------------------------


def test_super_kernel_shares_one_weight_per_group() -> None:
    net = _net(super_kernel=True)
    op_set = net.cells[0].op_set("s0")  # type: ignore[union-attr]
    assert isinstance(op_set, DartsOpSet)
    assert set(op_set.convs.keys()) == {"sep_conv", "dil_conv"}
    assert op_set.conv("sep_conv_3x3") is op_set.conv("sep_conv_5x5")
    assert op_set.conv("dil_conv_3x3") is op_set.conv("dil_conv_5x5")
    sep = op_set.conv("sep_conv_3x3")
    dw = sep.dws[0]
    assert isinstance(dw, SuperKernelConv2d) and dw.weight.shape == (4, 1, 5, 5)
    # at initialisation the 3x3 kernel is the centre crop of the 5x5 one
    assert torch.equal(sep.dw_weight(0, 3), dw.weight[:, :, 1:4, 1:4])
    assert torch.equal(sep.dw_weight(0, 5), dw.weight)
    dil = op_set.conv("dil_conv_3x3").dws[0]
    assert dil.dilation == (2, 2) and dil.groups == 4
    # a 3x3 path trains the shared 5x5 weight (centre only) and the transform
    g3 = _g([("sep_conv_3x3", 0)] + [("none", 0)] * 7, [("none", 0)] * 8)
    net(_x(), g3).sum().backward()
    grad = dw.weight.grad
    assert grad is not None and grad[:, :, 1:4, 1:4].abs().sum() > 0
    assert not grad[:, :, 0].any() and not grad[:, :, :, 4].any()
    assert dw.transforms["5to3"].grad is not None
    assert count_params(net) < count_params(_net())


def test_super_kernel_depthwise_dilated_conv_matches_functional() -> None:
    torch.manual_seed(0)
    conv = SuperKernelConv2d(3, 3, (5, 3), stride=2, dilation=2, groups=3)
    assert conv.padding == (4, 4)
    x = torch.randn(2, 3, 9, 9)
    for k in (5, 3):
        w = conv.weight_for(kernel_size=k)
        ref = nn.functional.conv2d(x, w, None, 2, 2 * (k // 2), 2, 3)
        assert torch.allclose(conv(x, kernel_size=k), ref)
    assert conv(x, kernel_size=3).shape == conv(x, kernel_size=5).shape == (2, 3, 5, 5)


def test_wsbn_one_bn_per_slot_and_input() -> None:
    net = _net(wsbn=True, bn_track_running_stats=True, bn_affine=True)
    normal, reduce = net.cells[0], net.cells[1]
    assert isinstance(normal, DartsSuperCell) and isinstance(reduce, DartsSuperCell)
    for k in range(8):
        node = k // 2
        sep = normal.op_set(f"s{k}").conv("sep_conv_3x3")
        assert set(sep.bns.keys()) == {f"in{j}" for j in range(node + 2)}
        assert set(normal.op_set(f"s{k}").pool_bns["max_pool_3x3"].keys()) == set(sep.bns.keys())
        assert set(reduce.op_set(f"s{k}r").reduce.bns.keys()) == {"in0", "in1"}  # type: ignore[union-attr]
        if node:
            assert set(reduce.op_set(f"s{k}").conv("dil_conv_5x5").bns.keys()) == {
                f"in{j}" for j in range(2, node + 2)
            }
    # one path updates the statistics of the BNs of its (slot, input) only
    sep = normal.op_set("s2").conv("sep_conv_3x3")
    g = _g([("sep_conv_3x3", 0)] * 2 + [("sep_conv_3x3", 2)] * 2 + [("skip_connect", 0)] * 4, DARTS_V2.reduce)
    net.train()
    with torch.no_grad():
        net(_x(), g)
    assert int(sep.bns["in2"][0].num_batches_tracked) == 1  # type: ignore[index]
    assert int(sep.bns["in0"][0].num_batches_tracked) == 0  # type: ignore[index]
    # edges: no op set serves two inputs, so WSBN adds nothing
    assert count_params(_net(ops_on="edges", wsbn=True)) == count_params(_net(ops_on="edges"))
    assert count_params(_net(wsbn=True, bn_affine=True)) > count_params(_net(bn_affine=True))


@pytest.mark.parametrize(("affine", "track"), [(False, False), (True, True), (True, False)])
def test_bn_flags_apply_to_every_bn(affine: bool, track: bool) -> None:
    net = _net(bn_affine=affine, bn_track_running_stats=track, wsbn=True)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(m.affine == affine and m.track_running_stats == track for m in bns)
    if not track:  # batch statistics in eval mode too: eval == train without dropout
        x = _x(4)
        with torch.no_grad():
            a = net.train()(x, DARTS_V2)
            b = net.eval()(x, DARTS_V2)
        assert torch.allclose(a, b, atol=1e-6)


def test_pools_carry_a_bn_in_the_supernet() -> None:
    op_set = _net(bn_affine=True).cells[0].op_set("s0")  # type: ignore[union-attr]
    assert set(op_set.pool_bns.keys()) == {"max_pool_3x3", "avg_pool_3x3"}


def test_dropout_only_in_training() -> None:
    plain = _net()
    drop = _net(dropout_global=0.5, dropout_path=0.5)
    drop.load_state_dict(plain.state_dict())
    x = _x(4)
    with torch.no_grad():
        ref = plain.eval()(x, ALL_OPS)
        assert torch.allclose(drop.eval()(x, ALL_OPS), ref, atol=1e-6)
        torch.manual_seed(0)
        assert not torch.allclose(drop.train()(x, ALL_OPS), plain.train()(x, ALL_OPS), atol=1e-4)
    assert isinstance(drop.dropout, nn.Dropout) and drop.dropout.p == 0.5


def test_path_dropout_spares_identity_skips() -> None:
    net = _net(dropout_path=0.9)
    cell = net.cells[0]
    assert isinstance(cell, DartsSuperCell)
    skips = _g([("skip_connect", i % 2) for i in range(8)], DARTS_V2.reduce)
    plan = cell_plan(skips, False, "nodes", False)
    s = torch.randn(2, 12, 8, 8)
    with torch.no_grad():
        ref = cell.eval()(s, s, plan)
        torch.manual_seed(0)
        assert torch.allclose(cell.train()(s, s, plan), ref, atol=1e-6)
        convs = cell_plan(ALL_OPS, False, "nodes", False)
        torch.manual_seed(0)
        assert not torch.allclose(cell.train()(s, s, convs), cell.eval()(s, s, convs), atol=1e-4)


# ---- plans, caching, copies ---------------------------------------------------------------------


def test_plans_are_cached_and_path_key_ignores_none_inputs() -> None:
    net = _net()
    text = str(DARTS_V2)
    assert net.plans(text) is net.plans(DARTS_V2)  # same compiled plan for text and object
    a = _g([("none", 0), ("sep_conv_3x3", 1)] * 4, DARTS_V2.reduce)
    b = _g([("none", 1), ("sep_conv_3x3", 1)] * 4, DARTS_V2.reduce)
    assert net.path_key(a) == net.path_key(b)
    x = _x()
    net.eval()
    with torch.no_grad():
        assert torch.equal(net(x, a), net(x, b))
    assert net.path_key(a) != net.path_key(DARTS_V2)
    assert net(x, DARTS_V2.to_json()).shape == (2, 10)  # an NDS dict works too
    net.PLAN_CACHE_SIZE = 2
    for g in DartsSpace().fair_paths(np.random.default_rng(0)):
        net.plans(g)
    assert len(net._plans) == 2


def test_copies_and_pickles_keep_weights_not_plans() -> None:
    net = _net()
    net.plans(DARTS_V2)
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert len(clone._plans) == 0
        clone.eval()
        net.eval()
        with torch.no_grad():
            assert torch.equal(clone(_x(), DARTS_V2), net(_x(), DARTS_V2))


def test_shared_conv_op_runs_its_units() -> None:
    torch.manual_seed(0)
    op = SharedConvOp(4, (3,), 2, 1, 2, lambda c: nn.BatchNorm2d(c), ("any",))
    x = torch.randn(2, 4, 8, 8)
    assert op(x, 3, "any").shape == (2, 4, 4, 4)
    assert len(op.dws) == len(op.pws) == 2 and isinstance(op.dws[0], nn.Conv2d)
