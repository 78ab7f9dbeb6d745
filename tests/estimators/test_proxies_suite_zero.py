"""epe_nas, l2_norm, plain, zen against second computations written here after NASLib's measures
(`torch.func` gradients, numpy norms, the per-class dict of `eval_score_perclass`, a forward hook on
the global pool), and their undefined cases."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_proxies_common import _float64, batch, tiny_pair  # noqa: F401  (the float64 fixture)
from torch import nn
from torch.func import functional_call, grad

from wsnas.estimators.proxies import suite_zero
from wsnas.estimators.proxies.suite_zero import EPE_K, ZEN_MIXUP_GAMMA, pre_gap


def stateless(net: nn.Module) -> nn.Module:
    """A copy whose BNs keep no running statistics (batch statistics in train mode, as before; no
    buffer updates under torch.func)."""
    net = copy.deepcopy(net).train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.track_running_stats = False
            m.running_mean = m.running_var = None
    return net


def conv_linear(net: nn.Module) -> list[str]:
    return [f"{n}.weight" for n, m in net.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def test_l2_norm_is_the_sum_of_the_layers_frobenius_norms():
    net, _ = tiny_pair()
    sd = net.state_dict()
    want = sum(float(np.sqrt((sd[k].numpy() ** 2).sum())) for k in conv_linear(net))
    got = suite_zero.compute(copy.deepcopy(net), *batch(), ["l2_norm"])["l2_norm"]
    assert got.value == pytest.approx(want, rel=1e-12)


def test_plain_equals_functional_gradient_times_weight():
    net, _ = tiny_pair()
    x, y = batch()
    ref = stateless(net)
    params = {k: v.detach() for k, v in ref.named_parameters()}
    g = grad(lambda p: F.cross_entropy(functional_call(ref, p, (x,)), y))(params)
    want = sum(float((g[k] * params[k]).sum()) for k in conv_linear(ref))
    got = suite_zero.compute(copy.deepcopy(net), x, y, ["plain"])["plain"]
    assert got.value == pytest.approx(want, rel=1e-10)


def epe_reference(jacob: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """NASLib's `eval_score_perclass`, written out: per-class stacks, np.corrcoef, log(|corr| + k)."""
    per_class: dict[int, np.ndarray] = {}
    for i, label in enumerate(labels):
        per_class[label] = np.vstack((per_class[label], jacob[i])) if label in per_class else jacob[i]
    scores = {}
    for c, rows in per_class.items():
        try:
            corrs = np.array(np.corrcoef(rows))
            s = np.sum(np.log(abs(corrs) + EPE_K))
            if n_classes > 100:
                s /= len(corrs)
        except TypeError:
            continue
        scores[c] = s
    if n_classes <= 100:
        return float(sum(np.absolute(v) for v in scores.values()))
    total = sum(np.absolute(a - b) for a in scores.values() for b in scores.values())
    return float(total / len(scores))


def test_epe_nas_equals_the_per_class_reference_on_the_functional_input_gradient():
    net, _ = tiny_pair()
    x, y = batch(n=10)
    y = torch.tensor([0, 1, 1, 2, 2, 2, 3, 0, 1, 4])  # class 4 has one image: log(1 + k)
    ref = stateless(net)
    params = {k: v.detach() for k, v in ref.named_parameters()}
    jx = grad(lambda inp: functional_call(ref, params, (inp,)).sum())(x)
    want = epe_reference(jx.reshape(10, -1).numpy(), y.numpy(), 5)
    got = suite_zero.compute(copy.deepcopy(net), x, y, ["epe_nas", "plain"])["epe_nas"]
    assert got.value == pytest.approx(want, rel=1e-10)
    # the branch for more than 100 classes, on the same Jacobian
    big = suite_zero.epe_nas_from_jacobian(jx.reshape(10, -1), y, 101)
    assert big.value == pytest.approx(epe_reference(jx.reshape(10, -1).numpy(), y.numpy(), 101), rel=1e-10)


class NoPath(nn.Module):
    """Logits that ignore the input (an NB201 cell of `none` edges)."""

    def __init__(self) -> None:
        super().__init__()
        self.classifier = nn.Linear(2, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.zeros(x.shape[0], 2))


def test_undefined_cases_are_nan_with_the_reason():
    x, y = batch()
    res = suite_zero.compute(NoPath(), x, y, ["epe_nas", "zen", "l2_norm"])
    assert math.isnan(res["epe_nas"].value) and "does not depend on the input" in res["epe_nas"].reason
    assert math.isnan(res["zen"].value) and "no global average pool" in res["zen"].reason
    assert math.isfinite(res["l2_norm"].value)
    flat = suite_zero.epe_nas_from_jacobian(torch.ones(4, 6), torch.tensor([0, 0, 1, 1]), 5)
    assert math.isnan(flat.value) and "is constant" in flat.reason
    net, _ = tiny_pair(kinds=("skip",))  # stem only: the pre-pool features change with the input
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.zeros_(m.weight)
    zero = suite_zero.zen(net, x)  # re-initialised N(0, 1): defined
    assert math.isfinite(zero.value)


def zen_reference(net: nn.Module, x: torch.Tensor) -> float:
    """NASLib `zen.py`, written out: Gaussian init, two Gaussian inputs, the input of the global pool
    read by a forward hook, the BN running variances after both forwards."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        outs: list[torch.Tensor] = []
        pool = next(m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d))
        pool.register_forward_hook(lambda _m, inp, _o: outs.append(inp[0]))
        a = torch.randn(size=list(x.shape))
        b = torch.randn(size=list(x.shape))
        net.train()
        net(a)
        net(a + ZEN_MIXUP_GAMMA * b)
        score = torch.mean(torch.sum(torch.abs(outs[0] - outs[1]), dim=[1, 2, 3]))
        log_bn = sum(
            torch.log(torch.sqrt(torch.mean(m.running_var)))
            for m in net.modules()
            if isinstance(m, nn.BatchNorm2d)
        )
        return float(torch.log(score) + log_bn)


def test_zen_equals_the_hooked_reference_with_the_same_random_state():
    net, _ = tiny_pair()
    x, y = batch()
    torch.manual_seed(11)
    want = zen_reference(copy.deepcopy(net), x)
    torch.manual_seed(11)
    got = suite_zero.compute(copy.deepcopy(net), x, y, ["zen"])["zen"]
    assert got.value == pytest.approx(want, rel=1e-12)


def test_pre_gap_reads_a_spatial_mean_too():
    class MeanPool(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x).mean((2, 3))

    net = MeanPool()
    x, _ = batch()
    feats = pre_gap(net, x)
    assert feats is not None and torch.equal(feats, net.conv(x))


def test_one_compute_gives_the_same_values_as_one_call_per_proxy():
    net, _ = tiny_pair()
    x, y = batch()
    torch.manual_seed(2)
    together = suite_zero.compute(copy.deepcopy(net), x, y, list(suite_zero.SUITE_ZERO))
    for name in suite_zero.SUITE_ZERO:
        torch.manual_seed(2)
        alone = suite_zero.compute(copy.deepcopy(net), x, y, [name])[name]
        assert alone.value == pytest.approx(together[name].value, rel=1e-12), name
