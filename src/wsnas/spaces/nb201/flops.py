"""FLOPs of NB201 networks, counted the way the benchmark's `flop` field was.

Rule (reproduces the NATS records exactly, e.g. cifar10 index 0 -> 15.64737,
index 11 -> 113.95137, index 284 -> 11.71521): multiply-adds of one image, in
millions, over Conv2d and Linear layers only: k_h*k_w*C_in*C_out/groups per
output position for a conv (+C_out per position if it has a bias) and
in*out (+out for the bias) for a linear layer. BN, ReLU, pooling (including the
residual shortcut's AvgPool and the cells' avg_pool_3x3), additions and `none`
edges count zero. Every non-`none` conv edge counts, even one whose output cannot
reach the cell's output, because the benchmark's networks compute it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from wsnas.spaces.nb201.arch import Arch, check_encoding
from wsnas.spaces.nb201.ops import CONV_OPS


def flops_macs(arch: Arch, C: int = 16, N: int = 5, num_classes: int = 10, image_size: int = 32) -> int:
    """Analytic multiply-adds (an integer) of one image through the stand-alone net."""
    check_encoding(arch)
    if image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4 (two stride-2 blocks), got {image_size}")
    cell = sum(CONV_OPS[int(op)] ** 2 for op in arch if int(op) in CONV_OPS)  # sum of k*k
    side = image_size
    total = 9 * 3 * C * side * side  # stem conv
    for stage in range(3):
        c = C * 2**stage
        if stage > 0:
            side //= 2
            hw = side * side
            c_in = c // 2
            total += (9 * c_in * c + 9 * c * c + c_in * c) * hw  # conv_a, conv_b, shortcut 1x1
        total += N * cell * c * c * side * side
    c_last = 4 * C
    return total + c_last * num_classes + num_classes


def flops_millions(arch: Arch, C: int = 16, N: int = 5, num_classes: int = 10, image_size: int = 32) -> float:
    """The benchmark's `flop` field: `flops_macs` / 1e6."""
    return flops_macs(arch, C, N, num_classes, image_size) / 1e6


def count_flops(
    model: nn.Module, arch: Arch | None = None, image_size: int = 32, in_channels: int = 3
) -> float:
    """Multiply-adds (millions) of one image, counted with forward hooks.

    Same rule as `flops_millions`, but it counts what `model` actually runs: on a
    StandaloneNet that equals the benchmark's figure; on a super-net
    (`model(x, arch)`) it leaves out the edges the super-net prunes. The model's
    train/eval mode is restored afterwards.
    """
    total = [0]

    def conv_hook(m: nn.Module, _inp: Sequence[torch.Tensor], out: torch.Tensor) -> None:
        assert isinstance(m, nn.Conv2d)
        positions = out.shape[2] * out.shape[3]
        k_h, k_w = m.kernel_size
        total[0] += k_h * k_w * m.in_channels * m.out_channels // m.groups * positions
        if m.bias is not None:
            total[0] += m.out_channels * positions

    def linear_hook(m: nn.Module, _inp: Sequence[torch.Tensor], _out: torch.Tensor) -> None:
        assert isinstance(m, nn.Linear)
        total[0] += m.in_features * m.out_features + (m.out_features if m.bias is not None else 0)

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    try:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        x = torch.zeros(1, in_channels, image_size, image_size, device=device)
        model.eval()
        with torch.no_grad():
            model(x) if arch is None else model(x, arch)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total[0] / 1e6
