"""The algorithms' own steps where slots differ in size (NB101's op and input rows): GDAS's and
DrNAS's draws stay on each slot's choices and their gradients reach every real logit and no
padding; DARTS-V2's unrolled gradient on the NB101 mixed cell against finite differences."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from wsnas.algorithms import darts
from wsnas.algorithms.darts import DartsV2, unrolled_grad
from wsnas.algorithms.drnas import DrNAS
from wsnas.algorithms.gdas import GDAS
from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.spaces.algorithms import get_algorithm
from wsnas.spaces.nb101.space import NB101Space
from wsnas.spaces.nb101.supernet import NB101SuperNet

SPACE = NB101Space(max_vertices=5, max_edges=9)
"""3 interior vertices: op rows of 3, input rows of 2, 3 and 4 choices (padded to 4)."""


def _algo(cls, name):
    spec = get_algorithm(name)
    return cls(spec, dict(spec.defaults), SPACE, torch.device("cpu"))


def _net(dtype=torch.float32) -> NB101SuperNet:
    torch.manual_seed(0)
    return NB101SuperNet(MappingConfig(ops_on="nodes"), LowFidelityConfig(channels=5, cells_per_stage=1)).to(
        dtype
    )


@pytest.mark.parametrize(("cls", "name"), [(GDAS, "gdas"), (DrNAS, "drnas")])
def test_draws_stay_on_each_slots_choices_and_gradients_skip_the_padding(cls, name):
    algo = _algo(cls, name)
    algo.begin_epoch(0, 4)
    assert algo.relax.sizes == (3, 3, 3, 2, 3, 4) and algo.alphas.shape == (6, 4)
    net, x = _net(), torch.randn(4, 3, 8, 8)
    torch.manual_seed(1)
    weights, active = algo.mixing()
    assert [len(w) for w in weights] == list(algo.relax.sizes)
    for w in weights:
        assert float(w.detach().sum()) == pytest.approx(1.0, abs=1e-5)
    net.forward_mixed(x, weights, active).sum().backward()
    grad = algo.alphas.grad
    assert grad is not None and torch.isfinite(grad).all()
    assert torch.count_nonzero(grad[~algo.mask]) == 0
    assert torch.count_nonzero(grad[algo.mask]) == int(algo.mask.sum())
    logp = algo.log_slot_probs()
    assert (logp[~algo.mask.numpy()] == float("-inf")).all()


def test_darts_v2_unrolled_gradient_on_the_nb101_cell_matches_finite_differences(monkeypatch):
    monkeypatch.setattr(darts, "FD_R", 1e-6)  # a small step: the check is of the formula (as on NB201)
    net = _net(torch.float64)
    algo = _algo(DartsV2, "darts_v2")
    algo.alphas = torch.nn.Parameter(torch.randn(6, 4, dtype=torch.float64) * 0.5)
    gen = torch.Generator().manual_seed(2)
    xt, xv = (torch.randn(4, 3, 8, 8, generator=gen, dtype=torch.float64) for _ in range(2))
    yt, yv = (torch.randint(0, 10, (4,), generator=gen) for _ in range(2))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    w, act = algo.mixing()
    F.cross_entropy(net.forward_mixed(xt, [v.detach() for v in w], act), yt).backward()
    opt.step()
    grad, _ = unrolled_grad(algo, net, (xv, yv), (xt, yt), opt)

    names = [n for n, _ in net.named_parameters()]
    params, buffers = dict(net.named_parameters()), {n: b.clone() for n, b in net.named_buffers()}

    def loss_at(a: torch.Tensor) -> float:
        probs = torch.softmax(a.masked_fill(~algo.mask, float("-inf")), -1)
        rows = [r[:n] for r, n in zip(probs, algo.relax.sizes, strict=True)]

        def call(state, x):
            return functional_call(_Wrap(net, rows, act), {f"inner.{k}": v for k, v in state.items()}, (x,))

        p = {n: params[n].detach().clone().requires_grad_(True) for n in names}
        g = torch.autograd.grad(
            F.cross_entropy(call({**p, **buffers}, xt), yt), list(p.values()), allow_unused=True
        )
        unrolled = {}
        for (n, v), gi in zip(p.items(), g, strict=True):
            gi = torch.zeros_like(v) if gi is None else gi
            buf = opt.state[params[n]].get("momentum_buffer", torch.zeros_like(v))
            unrolled[n] = (v - 0.1 * (0.9 * buf + gi + 5e-4 * v)).detach()
        return float(F.cross_entropy(call({**unrolled, **buffers}, xv), yv))

    eps, a0 = 1e-5, algo.alphas.detach().clone()
    for i, j in [(0, 0), (2, 2), (3, 1), (5, 3), (4, 0)]:
        up, down = a0.clone(), a0.clone()
        up[i, j] += eps
        down[i, j] -= eps
        fd = (loss_at(up) - loss_at(down)) / (2 * eps)
        assert float(grad[i, j]) == pytest.approx(fd, rel=2e-2, abs=1e-6), (i, j)
    assert float(grad[3, 2]) == 0.0 and float(grad[3, 3]) == 0.0  # padding of vertex 1's input row


class _Wrap(torch.nn.Module):
    def __init__(self, inner, w, act):
        super().__init__()
        self.inner, self.w, self.act = inner, w, act

    def forward(self, x):
        return self.inner.forward_mixed(x, self.w, self.act)
