"""The proxies' shared helpers, and the tiny networks the test_proxies_* files score.

`TinyNet` has what the wsnas networks have (a stem, a ModuleList of cells with a stride-2 one,
functional ReLUs inside the cells, an `nn.ReLU` before the global pool); `module_relus=True` gives
its twin with an `nn.ReLU` module for every ReLU, as the references' networks have, so a reference
computation with module hooks can run on the twin with the same weights.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as F
from torch import nn

from wsnas.estimators.proxies import SUMMARIES
from wsnas.estimators.proxies.aggregate import average_ranks
from wsnas.estimators.proxies.common import feature_modules, relu_codes
from wsnas.estimators.registry import ESTIMATORS
from wsnas.spaces.nb201.standalone import StandaloneNet


@pytest.fixture(autouse=True)
def _float64():
    """Exact comparisons in float64 (the proxies are dtype-agnostic)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


class Relu(nn.Module):
    """F.relu (the wsnas blocks' way) or an nn.ReLU module (the references')."""

    def __init__(self, module: bool) -> None:
        super().__init__()
        self.act = nn.ReLU() if module else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x) if self.act is not None else F.relu(x)


class Cell(nn.Module):
    """ReLU-conv-BN plus a skip (kind 'conv'), the identity ('skip'), zeros ('zero'), or stride 2
    ('down')."""

    def __init__(self, c_in: int, c_out: int, kind: str, module_relus: bool) -> None:
        super().__init__()
        self.kind = kind
        stride = 2 if kind == "down" else 1
        self.relu = Relu(module_relus)
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "skip":
            return x
        if self.kind == "zero":
            return x.mul(0.0)
        y = self.bn(self.conv(self.relu(x)))
        return y + x if self.kind == "conv" else y


class TinyNet(nn.Module):
    def __init__(self, kinds: tuple[str, ...] = ("conv", "down", "conv"), module_relus: bool = False) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3))
        cells, c = [], 3
        for k in kinds:
            c_out = c + 1 if k == "down" else c
            cells.append(Cell(c, c_out, k, module_relus))
            c = c_out
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        return self.classifier(self.global_pooling(self.lastact(x)).flatten(1))


KINDS = ("conv", "down", "conv")


def tiny_pair(seed: int = 0, kinds: tuple[str, ...] = KINDS) -> tuple[nn.Module, nn.Module]:
    """(TinyNet with functional ReLUs, its twin with nn.ReLU modules), the same weights."""
    torch.manual_seed(seed)
    net = TinyNet(kinds)
    twin = TinyNet(kinds, module_relus=True)
    twin.load_state_dict(net.state_dict())
    return net, twin


def batch(n: int = 8, seed: int = 1, side: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, side, side, generator=g), torch.randint(0, 5, (n,), generator=g)


def test_average_ranks_equal_scipy_rankdata_with_ties_and_minus_inf():
    rng = np.random.default_rng(0)
    v = rng.integers(0, 5, 40).astype(float)
    v[[3, 7, 11]] = -math.inf
    assert np.array_equal(average_ranks(v), scipy.stats.rankdata(v))
    assert np.array_equal(average_ranks(np.array([2.0])), [1.0])


def test_relu_codes_read_functional_and_module_relus_alike():
    net, twin = tiny_pair()
    x, _ = batch()
    seen: list[torch.Tensor] = []
    for m in twin.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(lambda _m, i, o: seen.append(torch.sign(o).reshape(o.shape[0], -1)))
    twin.train()
    with torch.no_grad():
        twin(x)
    ref = torch.cat([s for s in seen], dim=1).bool()
    net.train()
    assert torch.equal(relu_codes(net, x), ref)
    assert torch.equal(relu_codes(twin, x), ref)  # an nn.ReLU is seen once, through its F.relu


def test_feature_modules_are_the_stem_and_the_cells_or_none():
    net, _ = tiny_pair()
    assert feature_modules(net) == [net.stem, *net.cells]
    assert feature_modules(nn.Sequential(nn.Conv2d(2, 2, 1))) is None


def test_every_proxy_is_registered_with_its_family_and_families_refuse_foreign_names():
    x, y = batch()
    for name, (compute, _) in SUMMARIES.items():
        assert ESTIMATORS.get(name).compute is compute and ESTIMATORS.get(name).kind == "zero_cost"
        net, _ = tiny_pair()
        with pytest.raises(ValueError, match="not .* proxies"):
            compute(net, x, y, [name, "synflow"])


NB201_MIXED = (3, 1, 2, 4, 3, 0)  # conv3x3, skip, conv1x1, pool, conv3x3, none
NB201_NO_PATH = (0, 0, 0, 0, 0, 0)  # every edge none: the cells output zeros


def nb201_net(arch: tuple[int, ...]) -> nn.Module:
    torch.manual_seed(0)
    return StandaloneNet(arch, C=4, N=1, num_classes=5)


def test_every_proxy_runs_on_the_nb201_network_and_is_finite():
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(16, 3, 8, 8, generator=g), torch.randint(0, 5, (16,), generator=g)
    by_family: dict[object, list[str]] = {}
    for name, (compute, _) in SUMMARIES.items():
        by_family.setdefault(compute, []).append(name)
    for compute, names in by_family.items():
        torch.manual_seed(5)
        res = compute(nb201_net(NB201_MIXED), x, y, names)  # type: ignore[operator]
        assert list(res) == names
        for n, s in res.items():
            assert math.isfinite(s.value) and s.reason == "", (n, s)
