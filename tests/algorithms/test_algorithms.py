"""The search algorithms' own steps: DARTS-V2's unrolled gradient, GDAS's hard sample and temperature,
SETN's candidates, the distribution's scores, and the refusals a config meets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from wsnas.algorithms import darts
from wsnas.algorithms.darts import DartsV2, unrolled_grad
from wsnas.algorithms.gdas import GDAS, gumbel_hard, tau_at
from wsnas.algorithms.setn import SETN
from wsnas.config import LowFidelityConfig, MappingConfig, load_config
from wsnas.core.errors import ConfigError
from wsnas.spaces import get_space
from wsnas.spaces.algorithms import get_algorithm, resolved_settings
from wsnas.spaces.check import check_config
from wsnas.spaces.mini.supernet import MiniSuperNet
from wsnas.spaces.nb201.supernet import NB201SuperNet

MINI = [
    "space.name=nb201_mini",
    "data.name=digits",
    "lowfi.channels=4",
    "lowfi.cells_per_stage=1",
    "runtime.device=cpu",
    "data.valid_size=200",
]


def _algo(cls, name, **settings):
    spec = get_algorithm(name)
    return cls(spec, {**spec.defaults, **settings}, get_space("nb201_mini"), torch.device("cpu"))


def _tiny_double() -> MiniSuperNet:
    torch.manual_seed(0)
    net = MiniSuperNet(NB201SuperNet(MappingConfig(), LowFidelityConfig(channels=2, cells_per_stage=1)))
    return net.double()


def test_darts_v2_unrolled_gradient_matches_finite_differences(monkeypatch):
    """d/da L_val(w - lr (m * buf + dL_train/dw + wd w), a), by central differences on a, in float64.

    The Hessian-vector term is itself a finite difference; with the reference's step (R = 0.01/||v||)
    it crosses ReLU kinks of this 2-channel net, so the check of the formula takes a small one."""
    monkeypatch.setattr(darts, "FD_R", 1e-6)
    net = _tiny_double()
    algo = _algo(DartsV2, "darts_v2")
    algo.alphas = torch.nn.Parameter(torch.randn(3, 5, dtype=torch.float64) * 0.5)
    gen = torch.Generator().manual_seed(2)
    xt, yt = (
        torch.randn(6, 3, 8, 8, generator=gen, dtype=torch.float64),
        torch.randint(0, 10, (6,), generator=gen),
    )
    xv, yv = (
        torch.randn(6, 3, 8, 8, generator=gen, dtype=torch.float64),
        torch.randint(0, 10, (6,), generator=gen),
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    F.cross_entropy(
        net.forward_mixed(xt, list(torch.softmax(algo.alphas, -1).detach()), [tuple(range(5))] * 3), yt
    ).backward()
    opt.step()  # momentum buffers exist now, as after the first step of a run
    grad, _ = unrolled_grad(algo, net, (xv, yv), (xt, yt), opt)

    names = [n for n, _ in net.named_parameters()]
    params = dict(net.named_parameters())
    buffers = {n: b.clone() for n, b in net.named_buffers()}
    lr, wd, mom = 0.1, 5e-4, 0.9

    def loss_at(a: torch.Tensor) -> float:
        w = list(torch.softmax(a, -1))
        act = [tuple(range(5))] * 3

        def call(state, x):
            return functional_call(_Wrap(net, w, act), {f"inner.{k}": v for k, v in state.items()}, (x,))

        p = {n: params[n].detach().clone().requires_grad_(True) for n in names}
        lt = F.cross_entropy(call({**p, **buffers}, xt), yt)
        g = torch.autograd.grad(lt, list(p.values()), allow_unused=True)
        unrolled = {}
        for (n, v), gi in zip(p.items(), g, strict=True):
            gi = torch.zeros_like(v) if gi is None else gi
            buf = opt.state[params[n]].get("momentum_buffer", torch.zeros_like(v))
            unrolled[n] = (v - lr * (mom * buf + gi + wd * v)).detach()
        return float(F.cross_entropy(call({**unrolled, **buffers}, xv), yv))

    eps = 1e-5
    a0 = algo.alphas.detach().clone()
    for i, j in [(0, 0), (0, 2), (1, 3), (2, 4), (2, 1)]:
        up, down = a0.clone(), a0.clone()
        up[i, j] += eps
        down[i, j] -= eps
        fd = (loss_at(up) - loss_at(down)) / (2 * eps)
        assert float(grad[i, j]) == pytest.approx(fd, rel=2e-2, abs=1e-6), (i, j)


class _Wrap(torch.nn.Module):
    def __init__(self, inner, w, act):
        super().__init__()
        self.inner, self.w, self.act = inner, w, act

    def forward(self, x):
        return self.inner.forward_mixed(x, self.w, self.act)


def test_gdas_hard_sample_runs_the_chosen_path_and_reaches_every_logit():
    torch.manual_seed(0)
    net = MiniSuperNet(NB201SuperNet(MappingConfig(), LowFidelityConfig(channels=4, cells_per_stage=1)))
    algo = _algo(GDAS, "gdas")
    algo.begin_epoch(0, 10)
    x = torch.randn(4, 3, 8, 8)
    torch.manual_seed(5)
    weights, active = algo.mixing()
    arch = tuple(a[0] for a in active)
    out = net.forward_mixed(x, weights, active)
    torch.testing.assert_close(out, net(x, arch), rtol=1e-5, atol=1e-5)
    out.sum().backward()
    assert algo.alphas.grad is not None and torch.count_nonzero(algo.alphas.grad) == algo.alphas.numel()


def test_gdas_draw_is_one_hot_valued():
    hard, index = gumbel_hard(torch.randn(6, 5, requires_grad=True), 0.5)
    torch.testing.assert_close(hard.detach(), F.one_hot(index, 5).float(), rtol=0, atol=1e-6)


def test_gdas_temperature_schedule_end_points():
    assert tau_at(0, 250, 10.0, 0.1) == 10.0
    assert tau_at(249, 250, 10.0, 0.1) == pytest.approx(0.1)
    assert tau_at(0, 1, 10.0, 0.1) == 10.0
    algo = _algo(GDAS, "gdas", tau_max=4.0, tau_min=1.0)
    algo.begin_epoch(3, 4)
    assert algo.tau == pytest.approx(1.0)


def test_log_probs_are_the_sum_of_per_edge_log_softmax():
    algo = _algo(GDAS, "gdas")
    with torch.no_grad():
        algo.alphas.copy_(torch.randn(3, 5))
    archs = [(0, 1, 2), (4, 4, 4), (3, 0, 1)]
    logp = torch.log_softmax(algo.alphas.detach().double(), -1)
    want = [float(sum(logp[e, o] for e, o in enumerate(a))) for a in archs]
    np.testing.assert_allclose(algo.log_probs(archs), want, rtol=1e-12)
    assert np.exp(algo.log_probs(get_space("nb201_mini").all_archs())).sum() == pytest.approx(1.0)


def test_setn_takes_the_most_probable_candidates_and_keeps_the_best_scored():
    algo = _algo(SETN, "setn", select_num=4)
    with torch.no_grad():
        algo.alphas.zero_()
        algo.alphas[0, 3] = algo.alphas[1, 2] = algo.alphas[2, 1] = 5.0
    top = algo.top_k(4)
    assert top[0] == (3, 2, 1) and len(set(top)) == 4
    scores = {top[2]: 90.0}
    chosen = algo.derive(None, lambda arch, batch: scores.get(arch, 10.0), lambda: (None, None))
    assert chosen == top[2]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["algorithm.name=gdas", "data.valid_size=0"], "data.valid_size is 0"),
        (["algorithm.name=darts_v1", "sampler.name=fairnas"], "per-step rule"),
        (["algorithm.name=darts_v1", "algorithm.tau_max=2"], "does not read it"),
        (["algorithm.name=gdas", "algorithm.tau_min=5", "algorithm.tau_max=1"], "above algorithm.tau_max"),
        (["algorithm.name=gdas", "landmark.num_archs=4"], "landmark"),
        (["algorithm.name=darts_v2", "fewshot.split=default"], "few-shot"),
        (["algorithm.select_num=3"], "algorithm.name is none"),
        (["algorithm.name=gdaz"], "did you mean 'gdas'"),
    ],
)
def test_refusals_name_the_reason(overrides, match):
    with pytest.raises(ConfigError, match=match):
        check_config(load_config(None, [*MINI, *overrides]))


@pytest.mark.parametrize("name", ["darts_v1", "darts_v2", "gdas", "setn", "drnas"])
def test_mixed_op_algorithms_run_on_nb101_and_darts_nds_but_not_darts_ops_on_nodes(name):
    base = ["data.valid_size=100", f"algorithm.name={name}"]
    check_config(load_config(None, ["space.name=nb101", "mapping.ops_on=nodes", *base]))
    check_config(load_config(None, ["space.name=darts_nds", "mapping.ops_on=edges", *base]))
    with pytest.raises(ConfigError, match="ops_on=nodes keeps a node's ops in its two"):
        check_config(load_config(None, ["space.name=darts_nds", "mapping.ops_on=nodes", *base]))


def test_setn_honours_the_sampler_and_defaults_are_the_references():
    cfg = check_config(load_config(None, [*MINI, "algorithm.name=setn", "sampler.name=random_a"]))
    assert resolved_settings(cfg) == {
        "arch_lr": 3e-4,
        "arch_betas": (0.5, 0.999),
        "arch_weight_decay": 1e-3,
        "select_num": 100,
    }
    cfg = load_config(None, [*MINI, "algorithm.name=gdas", "algorithm.arch_lr=0.01"])
    assert resolved_settings(cfg)["arch_lr"] == 0.01 and resolved_settings(cfg)["tau_max"] == 10.0
