"""ConvAvgPool2d is nn.AvgPool2d computed as a depthwise convolution: values and gradients agree."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from wsnas.nn.pool import ConvAvgPool2d, conv_avg_pools


@pytest.mark.parametrize(
    "k, stride, padding, include",
    [(3, 1, 1, False), (3, 2, 1, False), (3, 1, 1, True), (2, 2, 0, True), (5, 3, 0, False)],
)
def test_same_values_first_and_second_derivatives(k, stride, padding, include):
    pool = nn.AvgPool2d(k, stride, padding, count_include_pad=include)
    fast = ConvAvgPool2d(pool)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 9, 11, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 4, *pool(x).shape[-2:], generator=g, dtype=torch.float64)
    a, b = pool(x), fast(x)
    torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)
    # a gradient that itself depends on x (as GraSP's double backward needs)
    ga = torch.autograd.grad((w * a * a).sum(), x, create_graph=True)[0]
    gb = torch.autograd.grad((w * b * b).sum(), x, create_graph=True)[0]
    torch.testing.assert_close(gb, ga, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        torch.autograd.grad(gb.pow(2).sum(), x)[0], torch.autograd.grad(ga.pow(2).sum(), x)[0]
    )
    x32 = x.detach().float()
    torch.testing.assert_close(fast(x32), pool(x32), rtol=1e-6, atol=1e-6)


def test_swap_keeps_parameters_and_state_dict_and_leaves_other_pools():
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.Sequential(nn.AvgPool2d(3, 1, 1, count_include_pad=False), nn.AvgPool2d(2, ceil_mode=True)),
        nn.AdaptiveAvgPool2d(1),
    )
    keys, params = list(net.state_dict()), sum(p.numel() for p in net.parameters())
    x = torch.randn(2, 3, 7, 7)
    before = net(x)
    assert conv_avg_pools(net) == 1  # ceil_mode has no convolution form here: left as it was
    assert isinstance(net[1][0], ConvAvgPool2d) and isinstance(net[1][1], nn.AvgPool2d)
    assert list(net.state_dict()) == keys and sum(p.numel() for p in net.parameters()) == params
    torch.testing.assert_close(net(x), before)
    assert net.double()(x.double()).dtype == torch.float64  # follows .double() (synflow)
    with pytest.raises(ValueError, match="ceil_mode"):
        ConvAvgPool2d(nn.AvgPool2d(2, ceil_mode=True))
