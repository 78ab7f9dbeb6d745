"""zico against ZiCo's `getgrad`/`caculate_zico` written out in numpy (a backward per batch into
`.grad`, the gradients zeroed between batches), a two-weight hand case, and its undefined cases."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_proxies_common import _float64, batch, tiny_pair  # noqa: F401  (the float64 fixture)
from torch import nn

from wsnas.estimators.proxies import zico


def zico_reference(net: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    grad_dict: dict[str, list[np.ndarray]] = {}
    net.train()
    for xb, yb in batches:
        net.zero_grad()
        F.cross_entropy(net(xb), yb).backward()
        for name, mod in net.named_modules():
            if isinstance(mod, nn.Conv2d | nn.Linear):
                grad_dict.setdefault(name, []).append(mod.weight.grad.data.reshape(-1).numpy().copy())
    total = 0.0
    for g in grad_dict.values():
        arr = np.array(g)
        std = np.std(arr, axis=0)
        nz = np.nonzero(std)[0]
        tmpsum = np.sum(np.mean(np.abs(arr), axis=0)[nz] / std[nz])
        if tmpsum != 0:
            total += np.log(tmpsum)
    return float(total)


def test_zico_equals_the_reference_on_the_two_halves_of_the_minibatch():
    net, _ = tiny_pair()
    x, y = batch(n=9)  # odd: halves of 4 and 5 images, as `sp * N // 2`
    want = zico_reference(copy.deepcopy(net), [(x[:4], y[:4]), (x[4:], y[4:])])
    got = zico.compute(copy.deepcopy(net), x, y, ["zico"])["zico"]
    assert got.value == pytest.approx(want, rel=1e-10)


def test_zico_by_hand_on_one_linear_layer():
    """One weight row per class; the gradients of two single-image batches are known in closed form."""
    lin = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[0.3, -0.2], [0.1, 0.4]]))
    xa, xb = torch.tensor([[1.0, 2.0]]), torch.tensor([[-1.0, 0.5]])
    ya, yb = torch.tensor([0]), torch.tensor([1])
    grads = []
    for xi, yi in ((xa, ya), (xb, yb)):
        p = torch.softmax(xi @ lin.weight.detach().t(), dim=1)[0]
        onehot = F.one_hot(yi, 2)[0].to(p.dtype)
        grads.append(torch.outer(p - onehot, xi[0]))  # dCE/dW = (softmax - onehot) x^T
    g1, g2 = grads[0].reshape(-1), grads[1].reshape(-1)
    ratio = ((g1.abs() + g2.abs()) / 2) / ((g1 - g2).abs() / 2)
    want = math.log(float(ratio.sum()))
    got = zico.zico(lin, [(xa, ya), (xb, yb)])
    assert got.value == pytest.approx(want, rel=1e-12)


def test_undefined_cases_are_nan_with_the_reason():
    net, _ = tiny_pair()
    x, y = batch(n=1)
    one = zico.compute(net, x, y, ["zico"])["zico"]
    assert math.isnan(one.value) and "at least 2 images" in one.reason
    lin = nn.Linear(2, 2, bias=False)
    same = torch.ones(1, 2)
    equal = zico.zico(lin, [(same, torch.tensor([0])), (same, torch.tensor([0]))])  # no variation
    assert math.isnan(equal.value) and "varies between the batches" in equal.reason
