"""TE-NAS's components against second computations: the NTK from `torch.func.jacrev` (all per-image
gradients at once) and, for a linear model, X X^T by hand; the linear regions by the reference's
matrix trick (`LinearRegionCount.calc_LR`) on `nn.ReLU` hooks of a thin network written after
TENAS's cell, on crops sliced one by one; the rank combination
against scipy; undefined cases."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import scipy.stats
import torch
from test_proxies_common import _float64, batch, tiny_pair  # noqa: F401  (the float64 fixture)
from torch import nn
from torch.func import functional_call, jacrev

from wsnas.estimators.proxies import te_nas
from wsnas.estimators.proxies.aggregate import te_nas_aggregate
from wsnas.estimators.proxies.te_nas import NTK_NAN_COND, TE_NAS_NTK_BATCH
from wsnas.spaces import get_space
from wsnas.spaces.nb201.arch import EDGES, OPS
from wsnas.spaces.nb201.standalone import StandaloneNet


def stateless(net: nn.Module) -> nn.Module:
    net = copy.deepcopy(net).train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.track_running_stats = False
            m.running_mean = m.running_var = None
    return net


def test_ntk_equals_the_jacobian_from_jacrev():
    net, _ = tiny_pair()
    x, y = batch(n=TE_NAS_NTK_BATCH + 4)  # the NTK reads the first 16 images
    xs = x[:TE_NAS_NTK_BATCH]
    ref = stateless(net)
    ws = {k: v.detach() for k, v in ref.named_parameters() if "weight" in k}
    rest = {k: v.detach() for k, v in ref.named_parameters() if "weight" not in k}
    jac = jacrev(lambda w: functional_call(ref, {**rest, **w}, (xs,)).sum(dim=1))(ws)
    j = torch.cat([jac[k].reshape(len(xs), -1) for k in ws], dim=1)
    ev = np.linalg.eigvalsh((j @ j.t()).numpy())
    got = te_nas.compute(copy.deepcopy(net), x, y, ["te_nas_ntk"])["te_nas_ntk"]
    assert got.value == pytest.approx(-ev[-1] / ev[0], rel=1e-7)


def test_ntk_of_a_linear_model_is_the_gram_matrix_of_the_inputs():
    x, y = batch(n=5)
    net = nn.Sequential(nn.Flatten(), nn.Linear(x[0].numel(), 1, bias=False))
    xf = x.reshape(5, -1).numpy()
    ev = np.linalg.eigvalsh(xf @ xf.T)
    got = te_nas.compute(net, x, y, ["te_nas_ntk"])["te_nas_ntk"]
    assert got.value == pytest.approx(-ev[-1] / ev[0], rel=1e-9)


class TenasThinCell(nn.Module):
    """TENAS's thin network written after its code: `NAS201SearchCell.forward` (node i = sum over j
    of the kept op of edge i<-j on node j), `ReLUConvBN` with an `nn.ReLU` module, the last BN-ReLU."""

    def __init__(self, arch: tuple[int, ...]) -> None:
        super().__init__()
        self.arch = arch
        ops = []
        for op in arch:
            name = OPS[op]
            if name.startswith("nor_conv"):
                k = int(name[-1])
                conv = nn.Conv2d(1, 1, k, padding=k // 2, bias=False)
                ops.append(nn.Sequential(nn.ReLU(), conv, nn.BatchNorm2d(1)))
            elif name == "avg_pool_3x3":
                ops.append(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False))
            else:
                ops.append(nn.Identity())  # skip; none is handled in forward
        self.ops = nn.ModuleList(ops)
        self.lastact = nn.Sequential(nn.BatchNorm2d(1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for i in range(1, 4):
            total = torch.zeros_like(x)
            for e, (frm, to) in enumerate(EDGES):
                if to == i and OPS[self.arch[e]] != "none":
                    total = total + self.ops[e](nodes[frm])
            nodes.append(total)
        return self.lastact(nodes[-1])


def crops_by_loop(x: torch.Tensor, n: int) -> torch.Tensor:
    """The same draws as `te_nas.crops` (image, channel, top, left), sliced one by one."""
    b, c, h, w = x.shape
    img, ch = torch.randint(0, b, (n,)), torch.randint(0, c, (n,))
    top, left = torch.randint(0, h - 2, (n,)), torch.randint(0, w - 2, (n,))
    draws = zip(img, ch, top, left, strict=True)
    return torch.stack([x[i, k, t : t + 3, s : s + 3] for i, k, t, s in draws]).unsqueeze(1)


@pytest.mark.parametrize("arch", [(3, 1, 4, 2, 0, 3), (2, 2, 2, 2, 2, 2), (1, 0, 3, 0, 1, 4)])
def test_linear_regions_equal_tenas_thin_network_and_calc_lr_with_the_same_random_state(arch):
    net = StandaloneNet(arch, C=4, N=1, num_classes=5)
    x = torch.randn(6, 3, 8, 8)
    ref = TenasThinCell(arch)  # (built before the seed: its init draws too)
    torch.manual_seed(11)
    thin = te_nas.thin_network(net)
    assert thin is not None
    for e, op in enumerate(ref.ops):  # the same weights, edge by edge
        for p, q in zip(op.parameters(), thin[0].edges[e].parameters(), strict=True):
            p.data.copy_(q.data)
    counts = []
    for _ in range(te_nas.TE_NAS_LR_REPEATS):
        zs = [crops_by_loop(x, 200) for _ in range(te_nas.TE_NAS_LR_BATCHES)]
        counts.append(lr_reference_batches(ref, zs))
    want = sum(counts) / len(counts)
    torch.manual_seed(11)
    got = te_nas.linear_regions(te_nas.thin_network(net), x, samples=200)
    assert got == pytest.approx(want, rel=1e-9)
    torch.manual_seed(11)  # compute draws the same: the thin network, then the crops
    small = te_nas.compute(copy.deepcopy(net), x, x[:, 0, 0, 0], ["te_nas_lr"])["te_nas_lr"].value
    torch.manual_seed(11)
    assert small == te_nas.linear_regions(te_nas.thin_network(net), x)


def lr_reference_batches(net: nn.Module, zs: list[torch.Tensor]) -> float:
    """calc_LR over the patterns of every batch of ZS together: [sum over samples of 1/multiplicity]."""
    feats: list[torch.Tensor] = []
    hooks = [
        m.register_forward_hook(lambda _m, i, o: feats.append(o.detach()) if i[0].dim() == 4 else None)
        for m in net.modules()
        if isinstance(m, nn.ReLU)
    ]
    net.train()
    rows = []
    with torch.no_grad():
        for z in zs:
            feats.clear()
            net(z)
            rows.append(torch.sign(torch.cat([f.view(z.shape[0], -1) for f in feats], 1)))
    for h in hooks:
        h.remove()
    a = torch.cat(rows)
    res = a @ (1 - a).T
    res += res.clone().T
    res = 1 - torch.sign(res)
    return float((1.0 / res.sum(1)).sum())


def test_linear_regions_vary_across_nb201_cells_unlike_the_ports_batch_count():
    space = get_space("nb201")
    x = torch.randn(16, 3, 32, 32)
    values = []
    for arch in [(0, 0, 0, 0, 0, 0), (1, 1, 1, 1, 1, 1), (2, 2, 2, 2, 2, 2), (3, 1, 4, 2, 0, 3)]:
        torch.manual_seed(0)
        net = space.standalone(arch, 4, 1, 10)
        values.append(te_nas.compute(net, x, x[:, 0, 0, 0], ["te_nas_lr"])["te_nas_lr"].value)
    assert len(set(values)) == 4, values
    assert values[0] == 1  # a cell of `none` gives zeros: one region
    assert values[1] < values[2]  # a cell of skips is linear up to its last BN-ReLU: few regions
    assert all(1 <= v <= te_nas.TE_NAS_LR_SAMPLES * te_nas.TE_NAS_LR_BATCHES for v in values)


def test_linear_regions_need_an_nb201_network_and_3x3_images():
    net, _ = tiny_pair()
    x, y = batch(n=8)
    other = te_nas.compute(copy.deepcopy(net), x, y, ["te_nas_lr"])["te_nas_lr"]
    assert math.isnan(other.value) and "not an NB201 network" in other.reason
    small = te_nas.lr_score(StandaloneNet((2,) * 6, C=4, N=1), torch.randn(4, 3, 2, 2))
    assert math.isnan(small.value) and "smaller than" in small.reason


def test_distinct_rows_by_hand():
    codes = torch.tensor([[1, 0, 1], [1, 0, 1], [0, 0, 0], [1, 1, 1]], dtype=torch.bool)
    assert te_nas.distinct_rows(codes) == 3


def test_undefined_cases_are_nan_with_the_reason_and_a_singular_kernel_reads_as_the_reference():
    x, y = batch(n=4)
    one = te_nas.ntk_score(nn.Sequential(nn.Flatten(), nn.Linear(x[0].numel(), 1)), x[:1])
    assert math.isnan(one.value) and "at least 2 images" in one.reason
    bare = te_nas.compute(nn.Sequential(nn.Flatten()), x, y, ["te_nas_ntk", "te_nas_lr"])
    assert math.isnan(bare["te_nas_ntk"].value) and "no trainable weight" in bare["te_nas_ntk"].reason
    assert math.isnan(bare["te_nas_lr"].value) and "not an NB201 network" in bare["te_nas_lr"].reason
    same = x[:1].repeat(3, 1, 1, 1)  # three equal images: a singular NTK, cond +-inf or huge
    lin = nn.Sequential(nn.Flatten(), nn.Linear(x[0].numel(), 1, bias=False))
    s = te_nas.ntk_score(lin, same)
    assert math.isfinite(s.value) and s.reason == ""  # np.nan_to_num maps +-inf to +-1.8e308
    assert NTK_NAN_COND == 100000.0


def test_aggregate_is_the_sum_of_the_two_ranks():
    ntk = np.array([-3.0, -1.0, -1.0, math.nan, -2.0])
    lr = np.array([10.0, 12.0, 11.0, 9.0, 12.0])
    ok = ~np.isnan(ntk)
    want = scipy.stats.rankdata(ntk[ok]) + scipy.stats.rankdata(lr[ok])
    got = te_nas_aggregate({"te_nas_ntk": ntk, "te_nas_lr": lr})
    assert np.isnan(got[3]) and np.array_equal(got[ok], want)
