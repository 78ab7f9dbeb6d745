"""Measured forward latency of a network on the run's device: a cost axis for hardware-aware users.

`latency_b1` times one image, `latency` the run's minibatch: inference (eval mode, no gradient),
`LATENCY_WARMUP` untimed forwards first (allocator, kernel selection, caches), then the median of
`LATENCY_REPEATS` timed forwards, in seconds; on a GPU each timing is bracketed by synchronisations.
The value depends on the device, its load and the thread count, so it belongs to the run's device
identity (docs/estimators.md); as a score it reads like `flops` (bigger networks take longer).
"""

from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from wsnas.estimators.proxies.common import check_names
from wsnas.estimators.zero_cost import Score
from wsnas.nn.pool import conv_avg_pools

LATENCY = ("latency_b1", "latency")

LATENCY_WARMUP = 1
"""Untimed forwards before the timed ones, per batch size."""

LATENCY_REPEATS = 3
"""Timed forwards per batch size; their median is the value."""


def compute(net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str]) -> dict[str, Score]:
    """latency_b1 (the first image of X) / latency (all of X) of NET in seconds (module doc)."""
    names = check_names(names, LATENCY, "latency")
    conv_avg_pools(net)  # the network as the proxies run it (wsnas.nn.pool)
    net.eval()
    out: dict[str, Score] = {}
    for n in names:
        out[n] = Score.checked(forward_seconds(net, x[:1] if n == "latency_b1" else x), n)
    return out


def device_label(device: torch.device | str) -> str:
    """What a latency was measured on, for the run's identity: the GPU's name, or the CPU's model
    (a resume or a shard on another kind of machine would mix two machines' timings)."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{device.type}: {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return f"{device.type}: {platform.processor() or platform.machine()}"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_seconds(
    net: nn.Module, x: torch.Tensor, warmup: int = LATENCY_WARMUP, repeats: int = LATENCY_REPEATS
) -> float:
    """The median wall time of REPEATS no-gradient forwards of X after WARMUP untimed ones."""
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            _sync(x.device)
            t0 = time.perf_counter()
            net(x)
            _sync(x.device)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    return statistics.median(times)
