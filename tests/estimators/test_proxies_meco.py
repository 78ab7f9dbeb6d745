"""meco against MeCo's NB201 `get_score` written out (a forward hook on every module, torch.corrcoef,
the real parts of torch.linalg.eig), on the twin whose ReLUs are modules; its undefined case."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from test_proxies_common import _float64, batch, tiny_pair  # noqa: F401  (the float64 fixture)
from torch import nn

from wsnas.estimators.proxies import meco


def meco_reference(net: nn.Module, x: torch.Tensor) -> float:
    results: list[torch.Tensor] = []

    def hook(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
        fea = out[0].clone().detach()
        fea = fea.reshape(fea.shape[0], -1)
        corr = torch.corrcoef(fea)
        corr[torch.isnan(corr)] = 0
        corr[torch.isinf(corr)] = 0
        results.append(torch.min(torch.real(torch.linalg.eig(corr)[0])))

    for m in net.modules():
        m.register_forward_hook(hook)
    net.train()
    net(x)
    r = torch.stack(results)
    return float(r[torch.isfinite(r)].sum())


@pytest.mark.filterwarnings("ignore:cov")  # one-position outputs: corrcoef of one observation, as in MeCo
def test_meco_counts_functional_relus_as_the_reference_counts_relu_modules():
    net, twin = tiny_pair()
    x, y = batch()
    want = meco_reference(copy.deepcopy(twin), x[:1])
    got = meco.compute(copy.deepcopy(net), x, y, ["meco"])["meco"]
    assert got.value == pytest.approx(want, rel=1e-9, abs=1e-9)
    on_twin = meco.compute(copy.deepcopy(twin), x, y, ["meco"])["meco"]  # nn.ReLU seen once
    assert on_twin.value == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_min_corr_eigenvalue_by_hand():
    """Two channels with correlation r: eigenvalues 1 +- |r|; a constant channel zeroes its row."""
    a = torch.tensor([1.0, 2.0, 3.0, 5.0])
    b = torch.tensor([2.0, 1.0, 4.0, 3.0])
    r = float(torch.corrcoef(torch.stack([a, b]))[0, 1])
    const = torch.stack([a, torch.full((4,), 7.0)])
    vals = meco.min_corr_eigenvalues([torch.stack([a, b]), const, torch.ones(3, 1)])
    assert vals.tolist() == pytest.approx([1 - abs(r), 0.0, 0.0], abs=1e-12)


def test_a_network_without_modules_outputs_is_nan_with_the_reason():
    class Bare(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.sum()  # a 0-d output: no image to correlate

    x, y = batch()
    res = meco.compute(Bare(), x, y, ["meco"])["meco"]
    assert math.isnan(res.value) and "no module output" in res.reason
