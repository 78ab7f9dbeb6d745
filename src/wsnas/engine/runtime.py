"""Device choice, threads, AMP and RNG state: what differs between CPU and CUDA."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import numpy as np
import torch

from wsnas.config import RuntimeConfig
from wsnas.core.errors import ConfigError
from wsnas.core.threads import default_threads


def resolve_device(cfg: RuntimeConfig) -> torch.device:
    name = cfg.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"key 'runtime.device': got {cfg.device!r}; use auto, cpu, cuda or cuda:N"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"key 'runtime.device': got {cfg.device!r} but CUDA is not available")
    return dev


def setup_runtime(cfg: RuntimeConfig) -> torch.device:
    """Pick the device and thread count (unset: the cores this process may use, `default_threads`);
    enable the fast CUDA kernels."""
    torch.set_num_threads(cfg.threads or default_threads())
    dev = resolve_device(cfg)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return dev


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when enabled; a no-op on CPU (keeps CPU runs exact)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def memory_format(device: torch.device, channels_last: bool) -> torch.memory_format:
    return torch.channels_last if channels_last and device.type == "cuda" else torch.contiguous_format


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state(np_rng: np.random.Generator) -> dict[str, Any]:
    """Every RNG a run draws from, for an exact resume, as tensors and plain containers.

    Plain so that a checkpoint loads with `torch.load(weights_only=True)`: numpy's
    legacy global state (an ndarray of uint32 words) is kept as an int64 tensor.
    """
    name, words, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "torch": torch.get_rng_state(),
        "numpy_global": {
            "name": str(name),
            "words": torch.from_numpy(np.asarray(words, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "sampler": np_rng.bit_generator.state,
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any], np_rng: np.random.Generator) -> None:
    """Restore `rng_state` (also the tuple form of numpy's state that older checkpoints hold)."""
    random.setstate(_python_state(state["python"]))
    torch.set_rng_state(state["torch"])
    g = state["numpy_global"]
    if isinstance(g, dict):
        words = np.asarray(g["words"].numpy(), dtype=np.uint32)
        g = (g["name"], words, g["pos"], g["has_gauss"], g["gauss"])
    np.random.set_state(g)
    np_rng.bit_generator.state = state["sampler"]
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _python_state(s: Any) -> tuple[Any, ...]:
    """random.setstate wants tuples (a list would do after a round trip through plain containers)."""
    version, internal, gauss_next = s
    return (version, tuple(int(v) for v in internal), gauss_next)
