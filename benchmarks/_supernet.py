"""A super-net training step and a pool evaluation, timed: what train_throughput.py and device_check.py share.

The step is `wsnas.trainers.supernet_trainer.Trainer.train_step` without the trainer's logging (sampler
paths, autocast, gradient sum, clip 5, SGD), on `DeviceLoader` batches (uint8 on the
device, batched augmentation), so images/s is end to end. Data is synthetic
(uniform uint8 pixels, random labels): the work per image is that of CIFAR-10, the
accuracies mean nothing.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from _common import sync

from wsnas.config import LowFidelityConfig, MappingConfig, SamplerConfig, load_config
from wsnas.data import DeviceLoader
from wsnas.engine.identity import numerics
from wsnas.engine.runtime import autocast, memory_format
from wsnas.spaces import get_space
from wsnas.spaces.samplers import build_sampler
from wsnas.trainers.evaluate import supernet_accuracies

PAPER_SIZES: dict[str, tuple[int, int]] = {
    "nb201": (16, 5),  # C=16, N=5 cells per stage
    "nb101": (128, 3),  # stem 128, 3 stages x 3 cells
    "darts_nds": (16, 2),  # 16 channels, 3 x 2 + 2 = 8 cells
}
"""(lowfi.channels, lowfi.cells_per_stage) of each space's super-net at the paper's size."""
CONFIGS = Path(__file__).resolve().parents[1] / "src" / "wsnas" / "configs"


def shipped_mapping(space_name: str) -> MappingConfig:
    """The mapping of the space's shipped config (configs/<space>.yaml): NB101 and DARTS put ops on nodes."""
    path = CONFIGS / f"{space_name}.yaml"
    return load_config(path).mapping if path.exists() else MappingConfig()


@dataclass
class Setup:
    """One super-net on a device with its optimizer and sampler, ready to step."""

    space: Any
    model: torch.nn.Module
    device: torch.device
    amp: bool
    channels_last: bool
    optimizer: torch.optim.Optimizer
    sampler: Any
    rng: np.random.Generator

    @property
    def numerics(self) -> str:
        """bf16 / tf32 / fp32, as `wsnas.engine.identity.numerics` names what a run computes in."""
        return numerics(self.device, self.amp)


def build(
    space_name: str,
    channels: int,
    cells: int,
    device: torch.device,
    *,
    amp: bool,
    channels_last: bool,
    seed: int = 0,
    sampler: str = "random_nas",
    fast_path: bool = True,
) -> Setup:
    torch.manual_seed(seed)
    space = get_space(space_name)
    lowfi = LowFidelityConfig(channels=channels, cells_per_stage=cells)
    model = space.supernet(shipped_mapping(space_name), lowfi)
    if hasattr(model, "fast_path"):
        model.fast_path = fast_path
    mf = memory_format(device, channels_last)
    model.to(device, memory_format=mf)
    opt = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, weight_decay=5e-4)
    return Setup(
        space,
        model,
        device,
        amp and device.type == "cuda",
        mf == torch.channels_last,
        opt,
        build_sampler(space, SamplerConfig(name=sampler)),
        np.random.default_rng(seed),
    )


def synthetic(gen: np.random.Generator, n: int, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """n CIFAR-shaped uint8 images (3 x size x size) and labels 0..9."""
    x = gen.integers(0, 256, size=(n, 3, size, size), dtype=np.uint8)
    return x, gen.integers(0, 10, size=n).astype(np.int64)


def train_loader(s: Setup, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int = 0) -> DeviceLoader:
    return DeviceLoader(
        x,
        y,
        batch_size,
        device=s.device,
        shuffle=True,
        drop_last=True,
        augment=True,
        channels_last=s.channels_last,
        seed=seed,
    )


def eval_batches(s: Setup, x: np.ndarray, y: np.ndarray, batch_size: int) -> list[Any]:
    return list(DeviceLoader(x, y, batch_size, device=s.device, channels_last=s.channels_last))


def train_step(s: Setup, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    """One step as the trainer takes it; returns the last path's loss (on the device, not read)."""
    s.optimizer.zero_grad(set_to_none=True)
    for arch in s.sampler.step_paths(s.rng):
        with autocast(s.device, s.amp):
            loss = F.cross_entropy(s.model(xb, arch), yb)
        loss.backward()
    torch.nn.utils.clip_grad_norm_(s.model.parameters(), 5.0)
    s.optimizer.step()
    return loss


def time_train(s: Setup, loader: DeviceLoader, steps: int, warmup: int, epoch: int = 0) -> float:
    """Training images/s over `steps` steps after `warmup` untimed ones (one pass of the loader)."""
    s.model.train()
    loader.set_epoch(epoch)
    it = iter(loader)
    t0 = time.perf_counter()
    for step in range(warmup + steps):
        if step == warmup:
            sync(s.device)
            t0 = time.perf_counter()
        xb, yb = next(it)
        train_step(s, xb, yb)
    sync(s.device)
    return steps * loader.batch_size / (time.perf_counter() - t0)


def time_eval(s: Setup, archs: list[Any], batches: list[Any]) -> float:
    """Evaluation images/s (archs x images) of `supernet_accuracies`, as the trainer scores a pool."""
    sync(s.device)
    t0 = time.perf_counter()
    supernet_accuracies(s.model, archs, batches, s.amp)
    sync(s.device)
    return len(archs) * sum(int(yb.numel()) for _, yb in batches) / (time.perf_counter() - t0)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> tuple[float, str]:
    """(MiB, what was measured): CUDA max allocated since the last reset, or the process's max RSS."""
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1), "cuda max_allocated"
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "process max RSS"
