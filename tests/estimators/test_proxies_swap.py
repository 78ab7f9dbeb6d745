"""swap / swap_reg against SWAP's `SampleWiseActivationPatterns` written out (hooks on `nn.ReLU`
modules, torch.sign, torch.unique over the transposed matrix, 32 Gaussian re-initialisations) with
the same random state; the packing by hand; undefined cases."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from test_proxies_common import _float64, batch, tiny_pair  # noqa: F401  (the float64 fixture)
from torch import nn

from wsnas.estimators.proxies import swap
from wsnas.estimators.proxies.swap import SWAP_MU, SWAP_SIGMA


def swap_reference(net: nn.Module, inputs: torch.Tensor, repeats: int) -> float:
    feats: list[torch.Tensor] = []

    def hook(_m: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        if len(inp[0].size()) == 4:
            feats.append(out.detach())

    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(hook)
    scores = []
    net.train()
    for _ in range(repeats):
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, nn.Conv2d | nn.Linear):
                    nn.init.normal_(m.weight)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
            feats.clear()
            net(inputs)
            act = torch.sign(torch.cat([f.view(inputs.size(0), -1) for f in feats], 1))
            scores.append(torch.unique(act.T, dim=0).size(0))
    return sum(scores) / len(scores)


def test_swap_equals_the_reference_with_the_same_random_state():
    net, twin = tiny_pair()
    x, y = batch(n=20)  # swap reads the first 16
    torch.manual_seed(4)
    want = swap_reference(copy.deepcopy(twin), x[:16], swap.SWAP_REPEATS)
    torch.manual_seed(4)
    got = swap.compute(copy.deepcopy(net), x, y, ["swap", "swap_reg"])
    assert got["swap"].value == want
    params_m = sum(p.numel() for p in net.parameters()) / 1e6
    factor = math.exp(-((params_m - SWAP_MU) ** 2) / SWAP_SIGMA)
    assert got["swap_reg"].value == pytest.approx(want * factor, rel=1e-12)


def test_pack_patterns_by_hand():
    active = torch.tensor([[True, False, True], [True, True, False]])  # 2 images x 3 units
    assert swap.pack_patterns(active).tolist() == [3, 2, 1]  # bit k: image k on


def test_a_network_without_relu_is_nan_with_the_reason():
    x, y = batch()
    res = swap.compute(nn.Sequential(nn.Conv2d(2, 2, 1)), x, y, ["swap", "swap_reg"])
    for name in ("swap", "swap_reg"):
        assert math.isnan(res[name].value) and res[name].reason.startswith(f"{name}: ")
        assert "no ReLU" in res[name].reason


def test_gaussian_init_draws_the_same_weights_in_the_channels_last_layout():
    net, _ = tiny_pair()
    other = copy.deepcopy(net).to(memory_format=torch.channels_last)
    torch.manual_seed(5)
    swap.gaussian_init(net)
    torch.manual_seed(5)
    swap.gaussian_init(other)
    assert all(
        torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values(), strict=True)
    )


def test_the_channels_last_forwards_move_swap_by_float_rounding_only_on_nb201(monkeypatch):
    from wsnas.spaces.nb201.standalone import StandaloneNet

    x = torch.randn(16, 3, 32, 32, dtype=torch.float32)
    for arch in [(3, 1, 4, 2, 0, 3), (2, 3, 4, 3, 3, 2)]:
        values = []
        for fast in (True, False):
            monkeypatch.setattr(swap, "SWAP_CHANNELS_LAST", fast)
            torch.manual_seed(0)
            net = StandaloneNet(arch, C=8, N=1).float()
            torch.manual_seed(1)
            values.append(swap.swap(net, x, repeats=8).value)
        assert values[0] == pytest.approx(values[1], rel=1e-4), (arch, values)
