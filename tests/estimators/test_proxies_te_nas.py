"""TE-NAS's components against second computations: the NTK from `torch.func.jacrev` (all per-image
gradients at once) and, for a linear model, X X^T by hand; the linear regions by the reference's
matrix trick (`LinearRegionCount.calc_LR`) on the twin's `nn.ReLU` hooks; the rank combination
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


def lr_reference(net: nn.Module, z: torch.Tensor) -> float:
    feats: list[torch.Tensor] = []
    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(lambda _m, i, o: feats.append(o.detach()) if i[0].dim() == 4 else None)
    net.train()
    with torch.no_grad():
        net(z)
    a = torch.sign(torch.cat([f.view(z.shape[0], -1) for f in feats], 1))
    res = a @ (1 - a).T
    res += res.clone().T
    res = 1 - torch.sign(res)
    return float((1.0 / res.sum(1)).sum())


def test_linear_regions_equal_the_reference_count_with_the_same_random_state():
    net, twin = tiny_pair()
    x, y = batch(n=30, side=1)  # 1x1 images, 14 units: patterns repeat
    torch.manual_seed(3)
    want = lr_reference(copy.deepcopy(twin), torch.randn(x.shape))
    torch.manual_seed(3)
    got = te_nas.compute(copy.deepcopy(net), x, y, ["te_nas_lr"])["te_nas_lr"]
    assert got.value == pytest.approx(want, rel=1e-12)
    assert got.value < 30  # not every image in its own region


def test_distinct_rows_by_hand():
    codes = torch.tensor([[1, 0, 1], [1, 0, 1], [0, 0, 0], [1, 1, 1]], dtype=torch.bool)
    assert te_nas.distinct_rows(codes) == 3


def test_undefined_cases_are_nan_with_the_reason_and_a_singular_kernel_reads_as_the_reference():
    x, y = batch(n=4)
    one = te_nas.ntk_score(nn.Sequential(nn.Flatten(), nn.Linear(x[0].numel(), 1)), x[:1])
    assert math.isnan(one.value) and "at least 2 images" in one.reason
    bare = te_nas.compute(nn.Sequential(nn.Flatten()), x, y, ["te_nas_ntk", "te_nas_lr"])
    assert math.isnan(bare["te_nas_ntk"].value) and "no trainable weight" in bare["te_nas_ntk"].reason
    assert math.isnan(bare["te_nas_lr"].value) and "no ReLU" in bare["te_nas_lr"].reason
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
