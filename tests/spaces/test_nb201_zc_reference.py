"""The zero-cost authors' NB201 network (`spaces.nb201.zc_reference`): its layers, its mask, its
forward against a functional re-construction written here from the arch, its parameter count by
formula, and which proxies it changes against the benchmark's network on the same weights."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from wsnas.estimators.proxies import meco, suite_zero, swap, zico
from wsnas.estimators.zero_cost import zero_cost_scores
from wsnas.nn.params import count_params
from wsnas.spaces.nb201.arch import OPS, parse_arch
from wsnas.spaces.nb201.ops import ResidualBlock
from wsnas.spaces.nb201.standalone import StandaloneNet
from wsnas.spaces.nb201.zc_reference import ZC_OP_ORDER, ZCMaskedCell, ZCReferenceNet, arch_mask

AUTHORS_EXAMPLE = "|nor_conv_3x3~0|+|none~0|none~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
"""The arch of zero-cost-nas `nasbench2.py`'s __main__ (node 1 is zero: conv 1->3 runs on zeros)."""
ARCHS = (
    AUTHORS_EXAMPLE,
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
)


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _x(n: int = 6, side: int = 8) -> torch.Tensor:
    return torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(3))


def _ref(arch: str, seed: int = 0, **kw) -> ZCReferenceNet:
    torch.manual_seed(seed)
    return ZCReferenceNet(parse_arch(arch), C=kw.pop("C", 4), N=kw.pop("N", 1), **kw)


# ---- what the network is ---------------------------------------------------------------------


def test_mask_is_one_hot_in_the_authors_op_order():
    assert ZC_OP_ORDER == ("none", "avg_pool_3x3", "nor_conv_3x3", "nor_conv_1x1", "skip_connect")
    mask = arch_mask(parse_arch(AUTHORS_EXAMPLE))
    # edges (0,1) (0,2) (1,2) (0,3) (1,3) (2,3): conv3x3, none, none, pool, conv3x3, conv3x3
    assert [m.index(True) for m in mask] == [2, 0, 0, 1, 2, 2]
    assert all(sum(m) == 1 for m in mask)


def test_cell_convs_have_a_bias_and_bn_without_affine_or_running_stats_outside_cells_the_benchmarks():
    net = _ref(ARCHS[1])
    cells = [c for c in net.cells if isinstance(c, ZCMaskedCell)]
    assert len(cells) == 3
    in_cells = {id(m) for c in cells for m in c.modules()}
    convs = [m for c in cells for m in c.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 3 * 6 * 2  # both conv ops on every edge, masked or not
    assert all(c.bias is not None for c in convs)
    cell_bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d) and id(m) in in_cells]
    assert len(cell_bns) == len(convs)
    assert all(not b.affine and not b.track_running_stats and b.running_mean is None for b in cell_bns)
    other_bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d) and id(m) not in in_cells]
    assert len(other_bns) == 1 + 2 * 2 + 1  # stem, two residual blocks, last BN
    assert all(b.affine and b.running_mean is not None for b in other_bns)
    others = [m for m in net.modules() if isinstance(m, nn.Conv2d) and id(m) not in in_cells]
    assert all(c.bias is None for c in others)


@pytest.mark.parametrize("C,N", [(4, 1), (16, 5)])
def test_params_are_the_benchmark_skeleton_plus_every_conv_op_with_bias(C, N):
    """Per cell of width c: 6 edges x (3x3 conv + 1x1 conv, each with c biases); no cell BN parameter."""
    arch = parse_arch(ARCHS[1])
    skeleton = count_params(StandaloneNet(parse_arch(ARCHS[2]), C=C, N=N))  # all-none: no cell params
    cells = sum(N * 6 * (9 * c * c + c + c * c + c) for c in (C, 2 * C, 4 * C))
    assert count_params(ZCReferenceNet(arch, C=C, N=N)) == skeleton + cells


def test_bn_false_drops_every_bn_but_the_residual_blocks():
    net = _ref(ARCHS[1])
    drops = {id(m) for m in net.bn_false_drops()}
    residual = {id(m) for b in net.cells if isinstance(b, ResidualBlock) for m in b.modules()}
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert (id(m) in drops) != (id(m) in residual)
    assert id(net.stem[1]) in drops and id(net.lastact[0]) in drops


# ---- its function ----------------------------------------------------------------------------


def _bn(x: torch.Tensor, bn: nn.BatchNorm2d | None = None) -> torch.Tensor:
    w, b = (bn.weight, bn.bias) if bn is not None else (None, None)
    return F.batch_norm(x, None, None, w, b, training=True, eps=1e-5)


def _functional_forward(net: ZCReferenceNet, arch: str, x: torch.Tensor) -> torch.Tensor:
    """The authors' network written out from ARCH (not from the mask), reading NET's weights."""
    ops = parse_arch(arch)
    edges = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    h = _bn(F.conv2d(x, net.stem[0].weight, padding=1), net.stem[1])
    for layer in net.cells:
        if isinstance(layer, ResidualBlock):
            a = _bn(F.conv2d(F.relu(h), layer.conv_a.conv.weight, stride=2, padding=1), layer.conv_a.bn)
            b = _bn(F.conv2d(F.relu(a), layer.conv_b.conv.weight, padding=1), layer.conv_b.bn)
            h = b + F.conv2d(F.avg_pool2d(h, 2, 2), layer.downsample[1].weight)
            continue
        nodes = [h]
        for dst in (1, 2, 3):
            total = torch.zeros_like(h)
            for e, (src, to) in enumerate(edges):
                name = OPS[ops[e]]
                if to != dst or name == "none":
                    continue
                if name.startswith("nor_conv"):
                    conv = layer.ops[e * 5 + ZC_OP_ORDER.index(name)].conv
                    k = conv.kernel_size[0]
                    total = total + _bn(F.conv2d(F.relu(nodes[src]), conv.weight, conv.bias, padding=k // 2))
                elif name == "avg_pool_3x3":
                    total = total + F.avg_pool2d(nodes[src], 3, 1, 1, count_include_pad=False)
                else:
                    total = total + nodes[src]
            nodes.append(total)
        h = nodes[3]
    h = F.relu(_bn(h, net.lastact[0])).mean((2, 3))
    return F.linear(h, net.classifier.weight, net.classifier.bias)


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_equals_the_network_written_out_from_the_arch(arch):
    """The masked all-op cells compute exactly the arch's one op per edge (train and eval mode)."""
    net = _ref(arch)
    with torch.no_grad():
        for m in net.modules():  # non-trivial affine BN outside the cells
            if isinstance(m, nn.BatchNorm2d) and m.affine:
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    x = _x()
    want = _functional_forward(net, arch, x)
    torch.testing.assert_close(net(x), want, rtol=1e-10, atol=1e-10)


def test_a_multi_hot_mask_sums_the_kept_ops_and_an_empty_edge_adds_nothing():
    torch.manual_seed(0)
    mask = [[False] * 5 for _ in range(6)]
    mask[0][ZC_OP_ORDER.index("nor_conv_3x3")] = mask[0][ZC_OP_ORDER.index("skip_connect")] = True
    mask[5][ZC_OP_ORDER.index("avg_pool_3x3")] = True  # node 2 and the other edges: nothing kept
    cell = ZCMaskedCell(4, tuple(tuple(m) for m in mask))
    x = torch.randn(3, 4, 5, 5)
    n1 = cell.ops[0 * 5 + 2](x) + x
    torch.testing.assert_close(cell(x), F.avg_pool2d(torch.zeros_like(n1), 3, 1, 1, count_include_pad=False))
    mask[4][ZC_OP_ORDER.index("skip_connect")] = True  # 1 -> 3
    cell.mask = tuple(tuple(m) for m in mask)
    torch.testing.assert_close(cell(x), n1)
    with pytest.raises(ValueError, match="6 edges x 5 ops"):
        ZCMaskedCell(4, ((True,),))


# ---- what it changes for the proxies ---------------------------------------------------------


def _copy_benchmark_weights(bm: StandaloneNet, ref: ZCReferenceNet) -> None:
    """REF takes BM's weights: the cells' conv weights by edge and op, everything else by name."""
    src = bm.state_dict()
    dst = ref.state_dict()
    arch = bm.arch
    with torch.no_grad():
        for k, v in src.items():
            parts = k.split(".")
            if parts[0] == "cells" and parts[2] == "edges":
                e = int(parts[3])
                if parts[4] == "conv":
                    j = e * 5 + ZC_OP_ORDER.index(OPS[arch[e]])
                    dst[f"cells.{parts[1]}.ops.{j}.conv.{parts[5]}"].copy_(v)
                continue  # the cell BN: affine at identity, running stats unused in train mode
            dst[k].copy_(v)


PROXIES = ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot")


@pytest.mark.parametrize("arch", ARCHS[:2])
def test_on_the_same_weights_only_fisher_and_synflow_change(arch):
    """Train-mode BN cancels the conv bias in the forward and in dL/dW, so grad_norm, snip, grasp,
    jacob_cov and nwot equal the benchmark network's; fisher reads the conv output (bias included)
    and synflow runs the cell convs without BN (bias counted) and keeps the residual blocks' BN."""
    torch.manual_seed(1)
    bm = StandaloneNet(parse_arch(arch), C=4, N=1)
    ref = _ref(arch, seed=2)
    _copy_benchmark_weights(bm, ref)
    x = _x(8)
    y = torch.arange(8) % 10
    a = zero_cost_scores(bm, x, y, PROXIES)
    b = zero_cost_scores(ref, x, y, PROXIES)
    changed = {n for n in PROXIES if not math.isclose(a[n].value, b[n].value, rel_tol=1e-7)}
    assert changed == {"fisher", "synflow"}, {n: (a[n].value, b[n].value) for n in PROXIES}


def test_without_cell_biases_fisher_is_the_benchmarks_and_synflow_still_keeps_residual_bn():
    torch.manual_seed(1)
    bm = StandaloneNet(parse_arch(ARCHS[1]), C=4, N=1)
    ref = _ref(ARCHS[1], seed=2)
    _copy_benchmark_weights(bm, ref)
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, nn.Conv2d) and m.bias is not None:
                m.bias.zero_()
    x, y = _x(8), torch.arange(8) % 10
    a = zero_cost_scores(bm, x, y, ["fisher", "synflow"])
    b = zero_cost_scores(ref, x, y, ["fisher", "synflow"])
    assert math.isclose(a["fisher"].value, b["fisher"].value, rel_tol=1e-9)
    assert not math.isclose(a["synflow"].value, b["synflow"].value, rel_tol=1e-3)


def test_synflow_runs_the_authors_copy_without_bn():
    """Against that copy built here: dropped BNs replaced by identities, |parameters|, float64, ones."""
    ref = _ref(ARCHS[1], seed=4)
    copy = _ref(ARCHS[1], seed=5)
    copy.load_state_dict(ref.state_dict())
    drop = {id(m) for m in copy.bn_false_drops()}
    for parent in list(copy.modules()):
        for child_name, child in list(parent.named_children()):
            if id(child) in drop:
                setattr(parent, child_name, nn.Identity())
    with torch.no_grad():
        for t in copy.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    copy.train()
    copy(torch.ones(1, 3, 8, 8)).sum().backward()
    want = sum(
        float((m.weight.detach() * m.weight.grad).abs().sum())
        for m in copy.modules()
        if isinstance(m, nn.Conv2d | nn.Linear) and m.weight.grad is not None
    )
    got = zero_cost_scores(ref, _x(2), torch.zeros(2, dtype=torch.long), ["synflow"])["synflow"].value
    assert math.isclose(got, want, rel_tol=1e-9)


@pytest.mark.parametrize("arch", ARCHS[:2])
def test_second_round_on_the_same_weights_only_l2_norm_changes_by_the_masked_ops_norms(arch):
    """epe_nas, plain, zico and meco read the forward and dL/dW, where train-mode BN cancels the cell
    biases and the masked ops take no part (meco's module tree counts a ZCConv's BN output as often as
    the benchmark's conv op does); l2_norm sums every conv's weight, the masked ops' too."""
    torch.manual_seed(1)
    bm = StandaloneNet(parse_arch(arch), C=4, N=1)
    ref = _ref(arch, seed=2)
    _copy_benchmark_weights(bm, ref)
    x, y = _x(8), torch.arange(8) % 10
    got = {}
    for mod, names in ((suite_zero, ["epe_nas", "l2_norm", "plain"]), (zico, ["zico"]), (meco, ["meco"])):
        a, b = mod.compute(bm, x, y, names), mod.compute(ref, x, y, names)
        got.update({n: (a[n].value, b[n].value) for n in names})
    changed = {n for n, (a, b) in got.items() if not math.isclose(a, b, rel_tol=1e-9)}
    assert changed == {"l2_norm"}, got
    ops = parse_arch(arch)
    masked = sum(
        float(op.conv.weight.detach().norm())
        for cell in ref.modules()
        if isinstance(cell, ZCMaskedCell)
        for j, op in enumerate(cell.ops)
        if hasattr(op, "conv") and ZC_OP_ORDER[j % 5] != OPS[ops[j // 5]]
    )
    assert got["l2_norm"][1] == pytest.approx(got["l2_norm"][0] + masked, rel=1e-12)


def test_swap_reg_counts_every_built_op_and_zen_reads_no_cell_bn_on_the_authors_network():
    """swap_reg's P is the parameters of the network scored: on the authors' network every op of
    every edge, so the same P for every arch; zen's BN term reads running variances, which only the
    stem's, the residual blocks' and the last BN keep there."""
    a, b = _ref(ARCHS[0]), _ref(ARCHS[1])
    assert count_params(a) == count_params(b)
    x = _x(16)
    s = swap.compute(a, x, torch.zeros(16, dtype=torch.long), ["swap", "swap_reg"])
    p_m = count_params(a) / 1e6
    assert s["swap_reg"].value == pytest.approx(s["swap"].value * swap.regular_factor(p_m), rel=1e-12)
    tracked = {n for n, m in a.named_modules() if isinstance(m, nn.BatchNorm2d) and m.running_var is not None}
    residual = {
        f"{n}.{k}"
        for n, m in a.named_modules()
        if isinstance(m, ResidualBlock)
        for k, b in m.named_modules()
        if isinstance(b, nn.BatchNorm2d)
    }
    in_cells = {
        f"{n}.{k}" for n, m in a.named_modules() if isinstance(m, ZCMaskedCell) for k, _ in m.named_modules()
    }
    assert residual and residual <= tracked and not tracked & in_cells
    assert all(not n.startswith("cells.") for n in tracked - residual)  # the stem's and the last BN
