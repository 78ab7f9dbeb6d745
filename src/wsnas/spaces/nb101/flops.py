"""FLOPs and parameter counts of stand-alone NB101 networks, computed from the spec alone.

The benchmark records no FLOPs, so the rule is ours, the same as for NB201:
multiply-adds of one image, over convolutions and the dense layer only. A conv
costs k*k*C_in*C_out per output position (all convs here are bias-free, stride
1, 'same' padding), the dense layer in*out + out. BN, ReLU, max pools,
additions, truncations and concatenations count zero. Spatial size: the image
side in stack 1, halved (rounded up) by each 2x2 max pool.

`num_params` is the closed form of `standalone.count_params` (the benchmark's
`trainable_parameters`): conv weights, BN scale and shift per conv, dense
weights and bias.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsnas.spaces.nb101.graph import CellSpec
from wsnas.spaces.nb101.ops import KERNEL, as_spec, cell_plan


def _cell_costs(spec: CellSpec, C_in: int, C: int) -> tuple[int, int]:
    """(multiply-adds per output position, trainable parameters) of one cell."""
    plan = cell_plan(spec, C_in, C)
    macs = params = 0
    for v in plan.vertices:
        if v.from_input:
            macs += C_in * v.width
            params += C_in * v.width + 2 * v.width
        k = KERNEL.get(v.op)
        if k is not None:
            macs += k * k * v.width * v.width
            params += k * k * v.width * v.width + 2 * v.width
    if plan.out_proj:
        macs += C_in * C
        params += C_in * C + 2 * C
    return macs, params


def _walk(
    spec: CellSpec,
    stem_channels: int,
    num_stacks: int,
    cells_per_stack: int,
    num_classes: int,
    image_size: int,
) -> tuple[int, int]:
    side = image_size
    macs = 9 * 3 * stem_channels * side * side
    params = 9 * 3 * stem_channels + 2 * stem_channels
    c_prev = c = stem_channels
    for stack in range(num_stacks):
        if stack > 0:
            side = (side + 1) // 2
            c *= 2
        for _ in range(cells_per_stack):
            m, p = _cell_costs(spec, c_prev, c)
            macs += m * side * side
            params += p
            c_prev = c
    macs += c_prev * num_classes + num_classes
    params += c_prev * num_classes + num_classes
    return macs, params


def flops_macs(
    spec: CellSpec | str | Mapping[str, Any],
    stem_channels: int = 128,
    num_stacks: int = 3,
    cells_per_stack: int = 3,
    num_classes: int = 10,
    image_size: int = 32,
) -> int:
    """Multiply-adds (an integer) of one image through the stand-alone network."""
    return _walk(as_spec(spec), stem_channels, num_stacks, cells_per_stack, num_classes, image_size)[0]


def flops_millions(
    spec: CellSpec | str | Mapping[str, Any],
    stem_channels: int = 128,
    num_stacks: int = 3,
    cells_per_stack: int = 3,
    num_classes: int = 10,
    image_size: int = 32,
) -> float:
    """`flops_macs` / 1e6 (default: a 32x32 CIFAR-10 image through the benchmark's network)."""
    return flops_macs(spec, stem_channels, num_stacks, cells_per_stack, num_classes, image_size) / 1e6


def num_params(
    spec: CellSpec | str | Mapping[str, Any],
    stem_channels: int = 128,
    num_stacks: int = 3,
    cells_per_stack: int = 3,
    num_classes: int = 10,
) -> int:
    """Trainable parameters of the stand-alone network without building it."""
    return _walk(as_spec(spec), stem_channels, num_stacks, cells_per_stack, num_classes, 32)[1]


__all__ = ["flops_macs", "flops_millions", "num_params"]
