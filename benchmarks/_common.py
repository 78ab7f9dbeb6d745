"""Pieces the benchmark scripts share: device sync and name, the paper-protocol projection."""

from __future__ import annotations

import argparse
import platform

import torch


def sync(device: torch.device) -> None:
    """Wait for queued CUDA work, so a clock read after it measures it (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def add_protocol_args(p: argparse.ArgumentParser) -> None:
    """The paper protocol the measured rates are projected to (`projected_hours`)."""
    p.add_argument("--protocol-epochs", type=int, default=400)
    p.add_argument("--protocol-train-images", type=int, default=50_000)
    p.add_argument("--protocol-evals", type=int, default=1, help="pool evaluations in the protocol")
    p.add_argument("--protocol-archs", type=int, default=200)
    p.add_argument("--protocol-eval-images", type=int, default=10_000)


def projected_hours(train_rate: float, eval_rate: float, a: argparse.Namespace, digits: int = 3) -> float:
    """Paper protocol wall time: train images x epochs / train rate + evals x archs x images / eval rate."""
    train_s = a.protocol_train_images * a.protocol_epochs / train_rate
    eval_s = a.protocol_evals * a.protocol_archs * a.protocol_eval_images / eval_rate
    return round((train_s + eval_s) / 3600.0, digits)
