"""Zero-cost proxies on tiny networks against closed forms and a plain, one-measure-at-a-time
implementation written here after the reference code (separate deep copies, SNIP's weight masks,
Fisher's hooked identity, GraSP's two passes, numpy's corrcoef/eig)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from wsnas.estimators.zero_cost import JACOB_COV_K, ZERO_COST, zero_cost_scores


@pytest.fixture(autouse=True)
def _float64():
    """Exact comparisons in float64 (the module itself is dtype-agnostic)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def tiny_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1, bias=False),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.Conv2d(3, 4, 1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 5),
    )


def batch(n: int = 6, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, 4, 4, generator=g), torch.randint(0, 5, (n,), generator=g)


def layers(net):
    return [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


# ---- a plain second implementation, one measure per fresh copy -------------------------------


def plain_grad_norm(net, x, y):
    net = copy.deepcopy(net).train()
    F.cross_entropy(net(x), y).backward()
    return sum(float(m.weight.grad.norm()) for m in layers(net))


def plain_snip(net, x, y):
    net = copy.deepcopy(net).train()
    masks = []
    for m in layers(net):
        mask = torch.ones_like(m.weight, requires_grad=True)
        masks.append(mask)
        w = m.weight.detach()
        if isinstance(m, nn.Conv2d):
            m.forward = lambda inp, m=m, w=w, mask=mask: F.conv2d(inp, w * mask, m.bias, m.stride, m.padding)
        else:
            m.forward = lambda inp, m=m, w=w, mask=mask: F.linear(inp, w * mask, m.bias)
    F.cross_entropy(net(x), y).backward()
    return sum(float(mk.grad.abs().sum()) for mk in masks)


def plain_grasp(net, x, y):
    net = copy.deepcopy(net).train()
    ws = [m.weight for m in layers(net)]
    g1 = torch.autograd.grad(F.cross_entropy(net(x), y), ws)
    g2 = torch.autograd.grad(F.cross_entropy(net(x), y), ws, create_graph=True)
    z = sum((a.detach() * b).sum() for a, b in zip(g1, g2, strict=True))
    z.backward()
    return sum(float((-w.detach() * w.grad).sum()) for w in ws)


def plain_fisher(net, x, y):
    net = copy.deepcopy(net).train()
    store = {}
    for m in layers(net):
        m.dummy = nn.Identity()
        orig = m.forward
        m.forward = lambda inp, m=m, orig=orig: m.dummy(orig(inp))

        def hook(mod, gin, gout, m=m):
            store.setdefault(m, [])
            store[m].append(gout[0])

        m.dummy.register_full_backward_hook(hook)
        m.dummy.register_forward_hook(lambda mod, i, o, m=m: store.setdefault(("act", m), []).append(o))
    F.cross_entropy(net(x), y).backward()
    total = 0.0
    for m in layers(net):
        act, grad = store[("act", m)][0].detach(), store[m][0]
        g = (act * grad).sum(dim=tuple(range(2, act.dim()))) if act.dim() > 2 else act * grad
        per_channel = 0.5 * (g**2).mean(0)
        per_weight = per_channel.reshape(-1, *[1] * (m.weight.dim() - 1)).expand_as(m.weight)
        total += float(per_weight.sum())
    return total


def plain_synflow(net, shape):
    net = copy.deepcopy(net)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.forward = lambda inp: inp
    net = net.double()
    with torch.no_grad():
        for p in net.state_dict().values():
            if p.is_floating_point():
                p.copy_(p.abs())
    net(torch.ones(1, *shape, dtype=torch.float64)).sum().backward()
    return sum(float((m.weight.detach() * m.weight.grad).abs().sum()) for m in layers(net))


def plain_jacob_cov(net, x):
    net = copy.deepcopy(net).train()
    x = x.clone().requires_grad_(True)
    out = net(x)
    out.backward(torch.ones_like(out))
    j = x.grad.reshape(len(x), -1).numpy()
    v, _ = np.linalg.eig(np.corrcoef(j))
    v = v.real
    return float(-np.sum(np.log(v + JACOB_COV_K) + 1.0 / (v + JACOB_COV_K)))


def plain_nwot(net, x):
    net = copy.deepcopy(net).train()
    k = np.zeros((len(x), len(x)))

    def hook(mod, inp, out):
        c = (inp[0].reshape(len(x), -1) > 0).double().numpy()
        k[:] += c @ c.T + (1 - c) @ (1 - c).T

    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(hook)
    net(x)
    return float(np.linalg.slogdet(k)[1])


def test_every_measure_matches_a_plain_implementation():
    net, (x, y) = tiny_net(), batch()
    got = zero_cost_scores(copy.deepcopy(net), x, y, ZERO_COST)
    want = {
        "grad_norm": plain_grad_norm(net, x, y),
        "snip": plain_snip(net, x, y),
        "grasp": plain_grasp(net, x, y),
        "fisher": plain_fisher(net, x, y),
        "synflow": plain_synflow(net, x.shape[1:]),
        "jacob_cov": plain_jacob_cov(net, x),
        "nwot": plain_nwot(net, x),
    }
    for name, value in want.items():
        assert got[name].reason == "", (name, got[name].reason)
        assert got[name].value == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_each_measure_alone_equals_the_shared_pass():
    net, (x, y) = tiny_net(3), batch(seed=4)
    together = zero_cost_scores(copy.deepcopy(net), x, y, ZERO_COST)
    for name in ZERO_COST:
        alone = zero_cost_scores(copy.deepcopy(net), x, y, [name])[name]
        assert alone.value == pytest.approx(together[name].value, rel=1e-12), name


# ---- closed forms ---------------------------------------------------------------------------------


def test_synflow_of_a_linear_chain_is_depth_times_the_path_sum():
    """Each layer of a bias-free linear chain contributes R = 1^T |W3||W2||W1| 1: synflow = 3R."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3, bias=False), nn.Linear(3, 3, bias=False), nn.Linear(3, 2, bias=False))
    w = [m.weight.detach().abs() for m in net]
    r = float(torch.ones(2) @ w[2] @ w[1] @ w[0] @ torch.ones(4))
    got = zero_cost_scores(net, torch.randn(5, 4), torch.zeros(5, dtype=torch.long), ["synflow"])["synflow"]
    assert got.value == pytest.approx(3 * r, rel=1e-12)


def test_grad_norm_and_snip_of_softmax_regression():
    """One linear layer: dL/dW = (softmax(Wx) - onehot)^T x / N."""
    torch.manual_seed(1)
    net = nn.Linear(3, 4, bias=False)
    x, y = torch.randn(7, 3), torch.tensor([0, 1, 2, 3, 0, 1, 2])
    w = net.weight.detach().numpy()
    logits = x.numpy() @ w.T
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(7), y.numpy()] -= 1
    g = p.T @ x.numpy() / 7
    got = zero_cost_scores(net, x, y, ["grad_norm", "snip"])
    assert got["grad_norm"].value == pytest.approx(np.linalg.norm(g), rel=1e-12)
    assert got["snip"].value == pytest.approx(np.abs(w * g).sum(), rel=1e-12)


def test_nwot_of_one_relu_on_the_input():
    """Codes [1,0] and [1,1]: K = [[1,1],[1,2]] + [[1,0],[0,0]] = [[2,1],[1,2]], log det = log 3."""
    net = nn.Sequential(nn.ReLU(), nn.Linear(2, 2))
    x = torch.tensor([[1.0, -1.0], [1.0, 1.0]])
    got = zero_cost_scores(net, x, torch.tensor([0, 1]), ["nwot"])["nwot"]
    assert got.value == pytest.approx(math.log(3.0), rel=1e-12)


def test_jacob_cov_of_a_linear_net():
    """y = Wx: every image's Jacobian is W^T 1, the correlation matrix is all ones: eigenvalues n, 0..."""
    torch.manual_seed(2)
    n = 5
    net = nn.Linear(6, 3)
    got = zero_cost_scores(net, torch.randn(n, 6), torch.zeros(n, dtype=torch.long), ["jacob_cov"])
    k = JACOB_COV_K
    want = -(math.log(n + k) + 1 / (n + k) + (n - 1) * (math.log(k) + 1 / k))
    assert got["jacob_cov"].value == pytest.approx(want, rel=1e-6)


# ---- undefined scores -----------------------------------------------------------------------------


class Disconnected(nn.Module):
    """The output ignores the input (an NB201 cell of `none` ops): a constant through a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.head = nn.Linear(3, 5)

    def forward(self, x):
        return self.head(self.relu(x.sum((1, 2, 3))[:, None].mul(0.0).expand(-1, 3)))


def test_a_net_whose_output_ignores_its_input_gets_nan_with_reasons():
    x, y = batch()
    got = zero_cost_scores(Disconnected(), x, y, ZERO_COST)
    assert math.isnan(got["jacob_cov"].value) and "does not depend on the input" in got["jacob_cov"].reason
    assert math.isnan(got["nwot"].value) and "singular" in got["nwot"].reason
    assert got["grad_norm"].value == 0.0 and got["synflow"].value == 0.0  # defined: nothing flows


def test_no_parameters_on_any_path_and_overflow_are_nan_not_a_crash():
    net = nn.Sequential(nn.Flatten(), nn.ReLU())
    x, y = batch()
    got = zero_cost_scores(net, x, y, ZERO_COST)
    for name in ("grad_norm", "snip", "grasp", "fisher", "synflow"):
        assert math.isnan(got[name].value) and "no trainable parameter" in got[name].reason, name
    big = nn.Sequential(nn.Linear(4, 4, bias=False), nn.Linear(4, 4, bias=False))
    with torch.no_grad():
        for m in big:
            m.weight.fill_(1e200)
    s = zero_cost_scores(big, torch.randn(3, 4), torch.zeros(3, dtype=torch.long), ["synflow"])["synflow"]
    assert math.isnan(s.value) and "not finite" in s.reason


def test_unknown_measure_is_refused():
    with pytest.raises(ValueError, match="not zero-cost proxies"):
        zero_cost_scores(tiny_net(), *batch(), ["synflw"])


class FunctionalRelu(nn.Module):
    """tiny_net with its ReLUs as F.relu calls (as the wsnas NB201/NB101 blocks make them)."""

    def __init__(self, seq: nn.Sequential) -> None:
        super().__init__()
        self.seq = seq

    def forward(self, x):
        for m in self.seq:
            x = F.relu(x) if isinstance(m, nn.ReLU) else m(x)
        return x


def test_nwot_sees_functional_relus_as_modules():
    net, (x, y) = tiny_net(5), batch(seed=6)
    as_modules = zero_cost_scores(copy.deepcopy(net), x, y, ["nwot"])["nwot"].value
    functional = zero_cost_scores(FunctionalRelu(copy.deepcopy(net)), x, y, ["nwot"])["nwot"].value
    assert functional == pytest.approx(as_modules, rel=1e-12)
    assert as_modules == pytest.approx(plain_nwot(net, x), rel=1e-12)


def test_nwot_counts_every_relu_of_an_nb201_network():
    """NB201's ReLU-Conv-BN blocks call F.relu: the kernel must include them, not only the last nn.ReLU."""
    from wsnas.spaces import get_space

    space = get_space("nb201_mini")
    arch = space.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|")
    torch.manual_seed(0)
    net = space.standalone(arch, 4, 1, 10)
    x, y = torch.randn(6, 3, 8, 8), torch.zeros(6, dtype=torch.long)
    calls = []
    only_last = plain_nwot(net, x)  # module hooks: the final BN-ReLU only
    from wsnas.estimators.zero_cost import _ReluCodes

    with _ReluCodes(lambda t: calls.append(t.shape)):
        net(x)
    assert len(calls) > 3  # stem-side convs, cell convs, residual blocks, the last ReLU
    assert zero_cost_scores(net, x, y, ["nwot"])["nwot"].value != pytest.approx(only_last)


@pytest.mark.parametrize("b, d", [(64, 16384), (2, 3), (5, 77), (17, 8)])
def test_code_gram_is_exact_whatever_the_shape(b, d):
    """The int8 path (or its float32 fallback) gives the exact integer Gram matrix of 0/1 codes."""
    from wsnas.estimators.zero_cost import code_gram

    c = torch.rand(b, d, generator=torch.Generator().manual_seed(d)) > 0.5
    exact = c.to(torch.int64) @ c.to(torch.int64).t()
    got = code_gram(c)
    assert got.dtype == torch.float64 and torch.equal(got, exact.to(torch.float64))
