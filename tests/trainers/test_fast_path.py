"""The NB201 fast path computes what the straightforward path computes.

`NB201SuperNet(fast_path=True)` (channels-last on CPU, one ReLU per source node)
must give the same logits, the same gradients (same parameters touched, same
values up to float rounding) and the same training trajectory as
`fast_path=False`, for every mapping factor; evaluation's de-duplication of
archs that run the same path must not change any accuracy.
"""

from __future__ import annotations

import copy
import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.spaces.nb201.arch import OPS
from wsnas.spaces.nb201.ops import CONV1, CONV3, POOL, SKIP, cell_plan
from wsnas.spaces.nb201.supernet import KIND_CONV, NB201SuperNet
from wsnas.trainers.evaluate import same_path_groups, supernet_accuracies

TINY = LowFidelityConfig(channels=4, cells_per_stage=1)
SMALL = LowFidelityConfig(channels=8, cells_per_stage=2)
FULL_PATH = (3, 2, 4, 1, 3, 2)
DEAD_NODE = (0, 3, 3, 1, 1, 1)
DEAD_END = (3, 2, 0, 1, 0, 1)
SHARED_RELU = (CONV3, CONV1, CONV3, CONV3, CONV1, POOL)
"""Node 0 feeds three convs, node 1 two: the ReLU the fast path shares."""
MAPPINGS = {
    "default": {},
    "no-affine": {"bn_affine": False},
    "tracked": {"bn_track_running_stats": True},
    "nodes": {"ops_on": "nodes"},
    "nodes-wsbn": {"ops_on": "nodes", "wsbn": True},
}


def _archs(n_random: int = 6, seed: int = 0) -> list[tuple[int, ...]]:
    rng = np.random.default_rng(seed)
    fixed = [FULL_PATH, DEAD_NODE, DEAD_END, SHARED_RELU, (0,) * 6, (CONV3,) * 6, (SKIP,) * 6]
    return fixed + [tuple(int(o) for o in rng.integers(0, len(OPS), 6)) for _ in range(n_random)]


def _pair(
    dtype: torch.dtype = torch.float32, lowfi: LowFidelityConfig = TINY, **mapping: object
) -> tuple[NB201SuperNet, NB201SuperNet]:
    """(fast, plain) super-nets with identical weights, BN affine params made non-trivial."""
    torch.manual_seed(0)
    fast = NB201SuperNet(MappingConfig(**mapping), lowfi)
    with torch.no_grad():
        for m in fast.modules():
            if isinstance(m, nn.BatchNorm2d) and m.affine:
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    fast.to(dtype)
    plain = copy.deepcopy(fast)
    plain.fast_path = False
    assert fast.fast_path and not plain.fast_path
    return fast, plain


def _x(n: int = 6, side: int = 16, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.randn(n, 3, side, side, generator=torch.Generator().manual_seed(1)).to(dtype)


def _grads(net: nn.Module) -> dict[str, torch.Tensor | None]:
    return {n: (None if p.grad is None else p.grad.clone()) for n, p in net.named_parameters()}


def _assert_same_grads(
    a: dict[str, torch.Tensor | None], b: dict[str, torch.Tensor | None], tol: float, msg: str
) -> None:
    assert a.keys() == b.keys()
    for name in a:
        ga, gb = a[name], b[name]
        assert (ga is None) == (gb is None), f"{msg}: {name} touched by one path only"
        if ga is not None:
            torch.testing.assert_close(ga, gb, rtol=tol, atol=tol, msg=f"{msg}: {name}")


@pytest.mark.parametrize(
    "mapping",
    [  # 15-30 s each: only the default mapping in the fast tier
        pytest.param(m, id=k, marks=() if k == "default" else pytest.mark.slow) for k, m in MAPPINGS.items()
    ],
)
def test_fast_equals_plain_forward_and_backward(mapping: dict[str, object]) -> None:
    fast, plain = _pair(**mapping)
    x = _x()
    for arch in _archs():
        for train in (True, False):
            fast.train(train)
            plain.train(train)
            fast.zero_grad(set_to_none=True)
            plain.zero_grad(set_to_none=True)
            yf, yp = fast(x, arch), plain(x, arch)
            torch.testing.assert_close(yf, yp, rtol=1e-5, atol=1e-5, msg=str(arch))
            if train:
                yf.square().sum().backward()
                yp.square().sum().backward()
                _assert_same_grads(_grads(fast), _grads(plain), 1e-4, str(arch))
    for (name, bf), (_, bp) in zip(fast.named_buffers(), plain.named_buffers(), strict=True):
        torch.testing.assert_close(bf, bp, rtol=1e-5, atol=1e-6, msg=name)  # running stats too


@pytest.mark.slow  # 9-30 s on 2 loaded cores; the fast tier keeps the [default] case below
def test_fast_equals_plain_in_float64() -> None:
    """In float64 rounding vanishes: any difference in what is computed would show."""
    fast, plain = _pair(torch.float64, SMALL)
    x = _x(dtype=torch.float64)
    for arch in _archs(10, seed=3):
        fast.zero_grad(set_to_none=True)
        plain.zero_grad(set_to_none=True)
        yf, yp = fast(x, arch), plain(x, arch)
        torch.testing.assert_close(yf, yp, rtol=1e-10, atol=1e-10, msg=str(arch))
        F.cross_entropy(yf, torch.arange(6) % 10).backward()
        F.cross_entropy(yp, torch.arange(6) % 10).backward()
        _assert_same_grads(_grads(fast), _grads(plain), 1e-10, str(arch))


def test_fast_path_drop_path_draws_the_same_masks() -> None:
    fast, plain = _pair(dropout_path=0.3, dropout_global=0.2)
    x = _x()
    for arch in (FULL_PATH, SHARED_RELU, DEAD_NODE):
        torch.manual_seed(5)
        yf = fast(x, arch)
        torch.manual_seed(5)
        yp = plain(x, arch)
        torch.testing.assert_close(yf, yp, rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # 9-30 s on 2 loaded cores; the fast tier keeps the [default] case below
def test_fast_path_training_trajectory_matches() -> None:
    """Ten SGD steps (momentum, weight decay, clipping) on random paths end at the same weights.

    In float64: in float32 the two trajectories drift apart by rounding alone (small BN
    batches amplify 1e-7 differences to 1e-3 within ten steps), which would hide nothing
    and prove nothing.
    """
    fast, plain = _pair(torch.float64, lowfi=SMALL)
    opts = [torch.optim.SGD(n.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4) for n in (fast, plain)]
    rng = np.random.default_rng(7)
    g = torch.Generator().manual_seed(2)
    for _ in range(10):
        arch = tuple(int(o) for o in rng.integers(0, len(OPS), 6))
        x = torch.randn(8, 3, 16, 16, generator=g, dtype=torch.float64)
        y = torch.randint(0, 10, (8,), generator=g)
        for net, opt in zip((fast, plain), opts, strict=True):
            net.train()
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(x, arch), y).backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
    for (name, pf), (_, pp) in zip(fast.named_parameters(), plain.named_parameters(), strict=True):
        torch.testing.assert_close(pf, pp, rtol=1e-10, atol=1e-10, msg=name)


@pytest.mark.slow  # 9-30 s on 2 loaded cores; the fast tier keeps the [default] case below
def test_fast_path_equals_extracted_standalone() -> None:
    fast, _ = _pair(lowfi=SMALL)
    x = _x(4, 32)
    for arch in _archs(4, seed=9):
        for train in (False, True):
            fast.train(train)
            sa = fast.extract_standalone(arch)
            torch.testing.assert_close(fast(x, arch), sa(x), rtol=1e-5, atol=1e-5, msg=str(arch))


def test_fast_plan_shares_one_relu_per_source(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, _ = _pair()
    cell = next(c for c in fast.cells if hasattr(c, "fast_plan"))
    plan = cell.fast_plan(SHARED_RELU)
    conv_sources = [s[0] for node in plan for s in node if s[1] == KIND_CONV]
    assert sorted(conv_sources) == [0, 0, 0, 1, 1]
    calls: list[int] = []
    relu = F.relu

    def counting_relu(t: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        calls.append(1)
        return relu(t, inplace)

    monkeypatch.setattr(F, "relu", counting_relu)
    cell(torch.randn(2, 4, 8, 8), plan, True)
    assert len(calls) == 2  # one ReLU per source node, not one per conv edge
    # the plan follows cell_plan: same edges, same sources, same order
    assert [[s[0] for s in node] for node in plan] == [
        [src for _, src, _ in node] for node in cell_plan(SHARED_RELU)
    ]


@pytest.mark.slow  # 9-30 s on 2 loaded cores; the fast tier keeps the [default] case below
def test_fast_path_accepts_any_memory_format_and_dtype_of_input() -> None:
    fast, plain = _pair()
    fast.eval()
    plain.eval()
    x = _x()
    y = plain(x, FULL_PATH)
    torch.testing.assert_close(fast(x, FULL_PATH), y, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        fast(x.contiguous(memory_format=torch.channels_last), FULL_PATH), y, rtol=1e-5, atol=1e-5
    )
    view = x[:, :, ::2, ::2]  # not contiguous in any format
    torch.testing.assert_close(fast(view, FULL_PATH), plain(view, FULL_PATH), rtol=1e-5, atol=1e-5)


def test_switching_fast_path_rebuilds_the_plan_cache() -> None:
    net = NB201SuperNet(MappingConfig(), TINY)
    net.eval()
    x = _x(2)
    y = net(x, FULL_PATH)
    assert FULL_PATH in net._plans
    net.fast_path = False
    assert net._plans == {}
    torch.testing.assert_close(net(x, FULL_PATH), y, rtol=1e-5, atol=1e-5)
    net.fast_path = False  # no change, keeps the cache
    assert FULL_PATH in net._plans
    net.fast_path = True
    assert net._plans == {}
    torch.testing.assert_close(net(x, FULL_PATH), y, rtol=1e-5, atol=1e-5)


def test_pickled_supernet_keeps_its_mode_and_old_pickles_default_to_fast() -> None:
    net = NB201SuperNet(MappingConfig(), TINY, fast_path=False)
    assert pickle.loads(pickle.dumps(net)).fast_path is False
    state = net.__getstate__()
    del state["_fast"]  # as pickled before the flag existed
    old = NB201SuperNet.__new__(NB201SuperNet)
    old.__setstate__(state)
    assert old.fast_path is True


# ---- evaluation -------------------------------------------------------------------------------


def test_same_path_groups() -> None:
    net = NB201SuperNet(MappingConfig(), TINY)
    # DEAD_END with a different dead edge 0->1 runs the same path; so do all archs whose
    # node 3 has no input (all-none), whatever their other edges
    archs = [DEAD_END, (1, 2, 0, 1, 0, 1), FULL_PATH, (0,) * 6, (3, 3, 3, 0, 0, 0), DEAD_END]
    assert same_path_groups(net, archs) == [0, 0, 2, 3, 3, 0]
    assert same_path_groups(nn.Linear(2, 2), archs) == list(range(6))  # no path_key: no grouping


@pytest.mark.slow  # 9-30 s on 2 loaded cores; the fast tier keeps the [default] case below
def test_dedup_does_not_change_accuracies() -> None:
    fast, plain = _pair(lowfi=SMALL)
    rng = np.random.default_rng(11)
    archs = [DEAD_END, (1, 2, 0, 1, 0, 1), (0,) * 6, (3, 3, 3, 0, 0, 0)]
    archs += [tuple(int(o) for o in rng.integers(0, len(OPS), 6)) for _ in range(8)]
    g = torch.Generator().manual_seed(4)
    batches = [
        (torch.randn(16, 3, 16, 16, generator=g), torch.randint(0, 10, (16,), generator=g)) for _ in range(3)
    ]
    a = supernet_accuracies(fast, archs, batches, amp=False)
    b = supernet_accuracies(fast, archs, batches, amp=False, dedup=False)
    c = supernet_accuracies(plain, archs, batches, amp=False, dedup=False)
    np.testing.assert_array_equal(a, b)
    assert a[0] == a[1] and a[2] == a[3]
    # fast vs straightforward: logits agree to ~1e-6, so an argmax may flip only on a near-tie
    assert np.abs(a - c).max() <= 100.0 / 48 + 1e-9


# ---- the reference implementation (benchmark-only dependency) --------------------------------


def test_reference_supernet_with_our_weights_gives_our_logits(monkeypatch: pytest.MonkeyPatch) -> None:
    """compare_reference.py times the same computation: the xautodl random-path super-net
    holding wsnas's weights must produce wsnas's logits for the same arch."""
    pytest.importorskip("xautodl", reason="benchmark-only dependency (pip install --no-deps xautodl)")
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_reference.py"
    monkeypatch.syspath_prepend(str(path.parent))  # as when run as a script: its folder on sys.path
    spec = importlib.util.spec_from_file_location("compare_reference", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ours = NB201SuperNet(MappingConfig(), SMALL)
    ref = mod.build_reference(SMALL.channels, SMALL.cells_per_stage, track_running_stats=False)
    mod.copy_weights(ours, ref)
    x = _x(8, 32)
    for arch in _archs(4, seed=5):
        for train in (True, False):
            ours.train(train)
            ref.train(train)
            mod.set_reference_arch(ref, arch)
            torch.testing.assert_close(ours(x, arch), ref(x)[1], rtol=1e-4, atol=1e-4, msg=str(arch))
