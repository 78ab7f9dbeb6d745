"""The mixed op runs the super-net's own modules: one-hot weights give the single path (forward and
gradients), general weights give the weighted sum computed by hand, and wsnas's DARTS and GDAS
forwards equal xautodl's search models holding the same weights."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.nn.bn import bn_factory
from wsnas.spaces.mini.supernet import MiniSuperNet
from wsnas.spaces.nb201.arch import EDGES, OPS
from wsnas.spaces.nb201.ops import CONV_OPS, NONE, POOL, SKIP
from wsnas.spaces.nb201.supernet import NB201SuperCell, NB201SuperNet

SMALL = LowFidelityConfig(channels=4, cells_per_stage=1)
K = len(OPS)


def _x(n: int = 6, size: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _archs(n: int, slots: int = 6, seed: int = 1) -> list[tuple[int, ...]]:
    rng = np.random.default_rng(seed)
    return [tuple(int(o) for o in rng.integers(0, K, size=slots)) for _ in range(n)]


def _one_hot(arch: tuple[int, ...]) -> list[torch.Tensor]:
    return list(F.one_hot(torch.tensor(arch), K).float())


ALL = [tuple(range(K))] * 6


@pytest.mark.parametrize(
    "mapping",
    [
        MappingConfig(),
        MappingConfig(bn_track_running_stats=True, bn_affine=False),
        MappingConfig(ops_on="nodes", wsbn=True),
        MappingConfig(super_kernel=True),
    ],
    ids=["default", "bn-tracked-no-affine", "nodes-wsbn", "super-kernel"],
)
def test_one_hot_mixed_op_is_the_single_path(mapping):
    torch.manual_seed(0)
    net = NB201SuperNet(mapping, SMALL)
    x, y = _x(), torch.randint(0, 10, (6,), generator=torch.Generator().manual_seed(3))
    for arch in [*_archs(6), (3, 3, 3, 3, 3, 3), (1, 0, 0, 2, 4, 1)]:
        net.zero_grad()
        F.cross_entropy(net(x, arch), y).backward()
        single = {n: (p.grad.clone() if p.grad is not None else None) for n, p in net.named_parameters()}
        out_single = net(x, arch).detach()
        net.zero_grad()
        out_mixed = net.forward_mixed(x, _one_hot(arch), ALL)
        F.cross_entropy(out_mixed, y).backward()
        torch.testing.assert_close(out_mixed.detach(), out_single, rtol=1e-5, atol=1e-5, msg=str(arch))
        for n, p in net.named_parameters():
            g_single, g_mixed = single[n], p.grad
            if g_single is None:  # a module the path does not run: the mixed op's gradient is 0 there
                assert g_mixed is None or torch.count_nonzero(g_mixed) == 0, (arch, n)
            else:
                torch.testing.assert_close(g_mixed, g_single, rtol=1e-4, atol=1e-5, msg=f"{arch} {n}")


def test_mini_one_hot_mixed_op_is_the_single_path():
    torch.manual_seed(0)
    net = MiniSuperNet(NB201SuperNet(MappingConfig(), SMALL))
    x = _x()
    for arch in _archs(8, slots=3, seed=4):
        torch.testing.assert_close(
            net.forward_mixed(x, _one_hot(arch), [tuple(range(K))] * 3), net(x, arch), rtol=1e-5, atol=1e-5
        )


def _by_hand(cell: NB201SuperCell, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Node j = sum over edges i->j and ops k of w[e, k] * op_k(node i), each op run as its module."""
    nodes = [x]
    for j in (1, 2, 3):
        total = torch.zeros_like(x)
        for e, (src, dst) in enumerate(EDGES):
            if dst != j:
                continue
            h = nodes[src]
            for k in range(K):
                if k == NONE:
                    continue
                if k == SKIP:
                    y = h
                elif k == POOL:
                    y = cell.pool(h)
                else:
                    assert k in CONV_OPS
                    module, edge_bn = cell.edge_op(e, k)
                    y = module(h)
                    if edge_bn is not None:
                        y = edge_bn(y)
                total = total + w[e, k] * y
        nodes.append(total)
    return nodes[-1]


@pytest.mark.parametrize(
    "mapping", [MappingConfig(), MappingConfig(ops_on="nodes", wsbn=True)], ids=["edges", "nodes-wsbn"]
)
def test_general_weights_give_the_weighted_sum(mapping):
    torch.manual_seed(1)
    cell = NB201SuperCell(4, mapping, bn_factory())
    x = torch.randn(5, 4, 6, 6)
    w = torch.softmax(torch.randn(6, K), dim=-1)
    torch.testing.assert_close(
        cell.forward_mixed(x, list(w), ALL), _by_hand(cell, x, w), rtol=1e-5, atol=1e-6
    )


# ---- xautodl as an oracle ------------------------------------------------------------------------


def _reference_module():
    pytest.importorskip("xautodl", reason="test-only oracle (pip install --no-deps xautodl)")
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_reference.py"
    spec = importlib.util.spec_from_file_location("compare_reference_oracle", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(path.parent))
    return mod


def test_darts_forward_equals_xautodl_tiny_network_darts():
    ref_mod = _reference_module()
    torch.manual_seed(0)
    ours = NB201SuperNet(MappingConfig(), SMALL)
    ref = ref_mod.build_reference(SMALL.channels, SMALL.cells_per_stage, name="DARTS-V1")
    ref_mod.copy_weights(ours, ref)
    x = _x(8, 16)
    with torch.no_grad():
        ref.arch_parameters.copy_(torch.randn(6, K))
    alphas = ref.arch_parameters.detach().clone()
    ours.train()
    ref.train()
    mine = ours.forward_mixed(x, list(torch.softmax(alphas, dim=-1)), ALL)
    torch.testing.assert_close(mine, ref(x)[1], rtol=1e-4, atol=1e-5)


def test_gdas_forward_equals_xautodl_tiny_network_gdas():
    """The same Gumbel draw (torch's RNG at the same state), the same hard weights and logits."""
    from wsnas.algorithms.gdas import gumbel_hard

    ref_mod = _reference_module()
    torch.manual_seed(0)
    ours = NB201SuperNet(MappingConfig(), SMALL)
    ref = ref_mod.build_reference(SMALL.channels, SMALL.cells_per_stage, name="GDAS")
    ref_mod.copy_weights(ours, ref)
    with torch.no_grad():
        ref.arch_parameters.copy_(torch.randn(6, K))
    ref.set_tau(3.0)
    alphas = ref.arch_parameters.detach().clone().requires_grad_(True)
    x = _x(8, 16)
    for seed in range(3):
        torch.manual_seed(100 + seed)
        expected = ref(x)[1]
        torch.manual_seed(100 + seed)
        hard, index = gumbel_hard(alphas, 3.0)
        mine = ours.forward_mixed(x, list(hard), [(int(i),) for i in index])
        torch.testing.assert_close(mine, expected, rtol=1e-4, atol=1e-5)
