"""BatchNorm2dGrad2: the same values, first and second derivatives as PyTorch's own BatchNorm."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from wsnas.nn.bn_grad2 import BatchNorm2dGrad2, short_bn_grad2


def _pair(seed: int = 0, c: int = 3):
    torch.manual_seed(seed)
    ref = nn.BatchNorm2d(c).double()
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-0.5, 0.5)
    mine = copy.deepcopy(ref)
    assert short_bn_grad2(mine) == 1 and type(mine) is BatchNorm2dGrad2
    return ref, mine


@pytest.mark.parametrize("cotangents", ["all", "gx only", "gamma and beta only"])
def test_second_derivatives_equal_pytorchs(cotangents):
    """d/d(x, gamma, g_y) of <a, g_x> + <b, g_gamma> + <c, g_beta>, against autograd through ATen."""
    ref, mine = _pair()
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(4, 3, 5, 6, generator=g, dtype=torch.float64) * 2 + 0.3
    gy0 = torch.randn(4, 3, 5, 6, generator=g, dtype=torch.float64)
    a = torch.randn(4, 3, 5, 6, generator=g, dtype=torch.float64)
    b, c = torch.randn(3, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)
    out = []
    for bn in (ref, mine):
        x = x0.clone().requires_grad_()
        gy = gy0.clone().requires_grad_()
        y = bn(x)
        gx, gg, gb = torch.autograd.grad(y, [x, bn.weight, bn.bias], gy, create_graph=True)
        z = {
            "all": (a * gx).sum() + (b * gg).sum() + (c * gb).sum(),
            "gx only": (a * gx).sum(),
            "gamma and beta only": (b * gg).sum() + (c * gb).sum(),
        }[cotangents]
        firsts = [t.detach() for t in (y, gx, gg, gb)]
        out.append((firsts, torch.autograd.grad(z, [x, gy, bn.weight], allow_unused=True)))
    (f_ref, d_ref), (f_mine, d_mine) = out
    for r, m in zip(f_ref, f_mine, strict=True):
        torch.testing.assert_close(m, r, rtol=0, atol=0)  # forward and first backward: ATen's kernels
    for name, r, m in zip(("x", "g_y", "gamma"), d_ref, d_mine, strict=True):
        r = torch.zeros_like(m) if r is None and m is not None else r
        m = torch.zeros_like(r) if m is None and r is not None else m
        if r is None:
            continue
        torch.testing.assert_close(m, r, rtol=1e-10, atol=1e-10, msg=name)


def test_running_stats_state_dict_and_eval_mode_are_the_parents():
    ref, mine = _pair()
    x = torch.randn(8, 3, 4, 4, dtype=torch.float64)
    ref(x), mine(x)
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(mine.state_dict()[k], v)
    ref.eval(), mine.eval()
    torch.testing.assert_close(mine(x), ref(x))


def test_only_plain_affine_batchnorm2d_is_changed():
    bn = nn.BatchNorm2d
    net = nn.Sequential(bn(2), bn(2, affine=False), nn.BatchNorm1d(2), bn(2, momentum=None))
    assert short_bn_grad2(net) == 1
    names = [type(m).__name__ for m in net]
    assert names == ["BatchNorm2dGrad2", "BatchNorm2d", "BatchNorm1d", "BatchNorm2d"]
