"""CUDA-only checks (marker `cuda`; skipped without a GPU): what CPU tests cannot see.

- a bf16-autocast, channels-last training step of each super-net gives a finite loss and
  the logits, loss and gradients of the fp32 step within bf16's tolerance, same weights,
  same batch, same path;
- the data stay on the device: DeviceLoader batches are CUDA tensors in the asked layout;
- a whole run on the GPU records bf16 numerics and finite metrics.

`benchmarks/device_check.py` runs these (`pytest -m cuda`) first on a lent GPU.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wsnas.config import LowFidelityConfig, MappingConfig, load_config
from wsnas.data import DeviceLoader
from wsnas.engine.runtime import autocast
from wsnas.spaces import get_space

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

SIZES = {"nb201": (8, 1), "nb101": (32, 1), "darts_nds": (8, 1)}
"""Small super-nets (channels, cells per stage) that still have every op kind."""
OPS_ON = {"nb201": "edges", "nb101": "nodes", "darts_nds": "nodes"}
"""Each space's mapping in its shipped config (configs/<space>.yaml)."""


def _batch(n: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    return g.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8), g.integers(0, 10, size=n)


def _step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, arch, amp: bool):
    model.train()
    model.zero_grad(set_to_none=True)
    with autocast(x.device, amp):
        out = model(x, arch)
        loss = F.cross_entropy(out, y)
    loss.backward()
    grads = torch.cat([p.grad.float().flatten() for p in model.parameters() if p.grad is not None])
    return out.float(), loss.float(), grads


@pytest.mark.parametrize("space_name", list(SIZES))
def test_bf16_channels_last_step_matches_fp32(space_name):
    torch.backends.cudnn.allow_tf32 = False  # the reference is true fp32
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")
    space = get_space(space_name)
    channels, cells = SIZES[space_name]
    torch.manual_seed(0)
    lowfi = LowFidelityConfig(channels=channels, cells_per_stage=cells)
    ref = space.supernet(MappingConfig(ops_on=OPS_ON[space_name]), lowfi).to(dev)
    fast = copy.deepcopy(ref).to(memory_format=torch.channels_last)
    x, y = _batch()
    plain = DeviceLoader(x, y, 32, device=dev)
    last = DeviceLoader(x, y, 32, device=dev, channels_last=True)
    (xa, ya), (xb, yb) = next(iter(plain)), next(iter(last))
    assert xb.is_contiguous(memory_format=torch.channels_last) and torch.equal(xa, xb)
    rng = np.random.default_rng(0)
    for _ in range(3):
        arch = space.sample(rng)
        out32, loss32, g32 = _step(ref, xa, ya, arch, amp=False)
        out16, loss16, g16 = _step(fast, xb, yb, arch, amp=True)
        assert torch.isfinite(loss16) and torch.isfinite(g16).all()
        # bf16 keeps ~3 significant digits, so a correct step is close, not equal (CPU bf16 autocast
        # gave logits within 4% and gradient cosines 0.91-0.997 on these nets); a broken one
        # (wrong layout, a lost cast) is far off: cosine near 0, logits off by their own size
        scale = out32.abs().max().clamp_min(1.0)
        assert (out16 - out32).abs().max() / scale < 0.1, space.format(arch)
        assert abs(loss16.item() - loss32.item()) < 0.05 * max(1.0, loss32.item())
        cos = F.cosine_similarity(g16, g32, dim=0).item()
        assert cos > 0.8, (space.format(arch), cos)


def test_device_loader_keeps_data_on_the_gpu():
    dev = torch.device("cuda")
    x, y = _batch(100)
    loader = DeviceLoader(
        x, y, 32, device=dev, shuffle=True, drop_last=True, augment=True, channels_last=True, seed=1
    )
    assert loader.x.device.type == "cuda" and loader.x.dtype == torch.uint8
    n = 0
    for xb, yb in loader:
        assert xb.device.type == "cuda" and yb.device.type == "cuda"
        assert xb.dtype == torch.float32 and xb.is_contiguous(memory_format=torch.channels_last)
        n += 1
    assert n == 3
    loader.set_epoch(0)
    again = [xb for xb, _ in loader]
    loader.set_epoch(0)
    assert all(torch.equal(a, b) for a, b in zip(again, [xb for xb, _ in loader], strict=True))


def test_a_run_on_the_gpu_is_bf16_and_finite(tmp_path):
    from wsnas.trainers.supernet_trainer import train

    cfg = load_config(
        None,
        [
            "space.name=nb201_mini",
            "data.name=digits",
            "lowfi.channels=8",
            "lowfi.cells_per_stage=1",
            "protocol.epochs=1",
            "protocol.batch_size=64",
            "eval.pool_size=10",
            "runtime.device=cuda",
            "runtime.progress=false",
            f"out_dir={tmp_path}",
            "name=gpu",
        ],
    )
    summary = train(cfg)
    assert summary["identity"]["numerics"] == "bf16"
    assert np.isfinite(summary["final"]["supernet_acc_mean"])
