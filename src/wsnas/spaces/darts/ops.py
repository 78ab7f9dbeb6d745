"""DARTS's cell ops and cell wiring, as the DARTS CIFAR evaluation network (and NDS) builds them.

Ops (`C -> C` channels; `stride` 2 only on inputs 0/1 of a reduction cell):
- `sep_conv_kxk`: (ReLU -> depthwise kxk conv (stride) -> pointwise 1x1 conv -> BN), then the
  same unit once more with stride 1; all convs bias-free, 'same' padding k // 2.
- `dil_conv_kxk`: ReLU -> depthwise kxk conv with dilation 2 (padding 2 * (k // 2)) ->
  pointwise 1x1 conv -> BN (one unit).
- `max_pool_3x3` / `avg_pool_3x3`: 3x3 pool, padding 1 (average without the padding);
  the stand-alone network has no BN after them, the super-net adds one (`pool_bn`), as
  the DARTS search network does, to put pooled and convolved branches on one scale.
- `skip_connect`: identity at stride 1; `FactorizedReduce` at stride 2.
- `none`: zeros (at the op's output resolution).

Cell preprocessing: input 0 (the cell two back) is a ReLU-conv1x1-BN to C, or a
`FactorizedReduce` when the previous cell was a reduction cell (so both inputs
have the same resolution); input 1 is a ReLU-conv1x1-BN. `FactorizedReduce`:
ReLU, then two stride-2 1x1 convs to C/2 each, one on x and one on x shifted by one
pixel, concatenated, then BN; it needs even spatial sizes.

Macro layout (`reduction_layers`): cells 0..L-1; cells L//3 and 2L//3 are
reduction cells (channels doubled, resolution halved). NDS uses this network for
its DARTS models with `width` = C and `depth` = L.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from wsnas.nn.bn import BNFactory, bn_factory
from wsnas.nn.conv import ReLUConvBN
from wsnas.spaces.darts.genotype import NUM_NODES, OPS, PAIRS_PER_NODE, Genotype

NONE, MAX_POOL, AVG_POOL, SKIP = "none", "max_pool_3x3", "avg_pool_3x3", "skip_connect"
SEP_CONV: dict[str, int] = {"sep_conv_3x3": 3, "sep_conv_5x5": 5}
"""Separable conv op -> kernel size."""
DIL_CONV: dict[str, int] = {"dil_conv_3x3": 3, "dil_conv_5x5": 5}
"""Dilated conv op -> kernel size (dilation 2)."""
KERNEL: dict[str, int] = {**SEP_CONV, **DIL_CONV}
POOLS: tuple[str, ...] = (MAX_POOL, AVG_POOL)
DILATION = 2
STEM_MULTIPLIER = 3
"""The stem has 3C channels (DARTS)."""
if set(OPS) != {NONE, SKIP, *POOLS, *KERNEL}:  # the op names below must cover genotype.OPS
    raise ImportError(f"DARTS ops {OPS} do not match the networks' op names")


def reduction_layers(layers: int) -> tuple[int, int]:
    """Indices of the two reduction cells of an L-cell network: L//3 and 2L//3 (DARTS, NDS)."""
    if layers < 3:
        raise ValueError(f"a DARTS network needs at least 3 cells (2 are reduction cells), got {layers}")
    return layers // 3, 2 * layers // 3


def op_stride(reduction: bool, src: int) -> int:
    """Stride of an op reading state `src`: 2 on the cell inputs (0, 1) of a reduction cell."""
    return 2 if reduction and src < 2 else 1


class DilConv(nn.Module):
    """ReLU -> depthwise kxk conv (dilation, stride) -> pointwise 1x1 -> BN."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = DILATION,
        bn: BNFactory | None = None,
    ) -> None:
        super().__init__()
        pad = dilation * (kernel_size // 2)
        self.dw = nn.Conv2d(C_in, C_in, kernel_size, stride, pad, dilation, groups=C_in, bias=False)
        self.pw = nn.Conv2d(C_in, C_out, 1, bias=False)
        self.bn = (bn or bn_factory())(C_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.pw(self.dw(F.relu(x))))


class SepConv(nn.Module):
    """Two stacked ReLU -> depthwise kxk -> pointwise 1x1 -> BN units; only the first has the stride."""

    def __init__(
        self, C_in: int, C_out: int, kernel_size: int, stride: int = 1, bn: BNFactory | None = None
    ) -> None:
        super().__init__()
        bn = bn or bn_factory()
        pad = kernel_size // 2
        self.dw1 = nn.Conv2d(C_in, C_in, kernel_size, stride, pad, groups=C_in, bias=False)
        self.pw1 = nn.Conv2d(C_in, C_in, 1, bias=False)
        self.bn1 = bn(C_in)
        self.dw2 = nn.Conv2d(C_in, C_in, kernel_size, 1, pad, groups=C_in, bias=False)
        self.pw2 = nn.Conv2d(C_in, C_out, 1, bias=False)
        self.bn2 = bn(C_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.pw1(self.dw1(F.relu(x))))
        return self.bn2(self.pw2(self.dw2(F.relu(x))))


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing pixels: two stride-2 1x1 convs on x and x shifted by one."""

    def __init__(self, C_in: int, C_out: int, bn: BNFactory | None = None) -> None:
        super().__init__()
        if C_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {C_out}")
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.bn = (bn or bn_factory())(C_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        return self.bn(torch.cat((self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])), dim=1))


class Zero(nn.Module):
    """The `none` op: zeros at the op's output resolution (so a node of two `none`s has a shape)."""

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


def pool(name: str, stride: int = 1) -> nn.Module:
    """The 3x3 max or average pool (average over the valid pixels only)."""
    if name == MAX_POOL:
        return nn.MaxPool2d(3, stride, 1)
    if name == AVG_POOL:
        return nn.AvgPool2d(3, stride, 1, count_include_pad=False)
    raise ValueError(f"{name!r} is not a DARTS pool")


def make_op(
    name: str, C: int, stride: int = 1, bn: BNFactory | None = None, pool_bn: bool = False
) -> nn.Module:
    """One C -> C cell op by name; `pool_bn` appends a BN to the pools (the super-net's convention)."""
    bn = bn or bn_factory()
    if name in SEP_CONV:
        return SepConv(C, C, SEP_CONV[name], stride, bn)
    if name in DIL_CONV:
        return DilConv(C, C, DIL_CONV[name], stride, DILATION, bn)
    if name in POOLS:
        return nn.Sequential(pool(name, stride), bn(C)) if pool_bn else pool(name, stride)
    if name == SKIP:
        return nn.Identity() if stride == 1 else FactorizedReduce(C, C, bn)
    if name == NONE:
        return Zero(stride)
    raise ValueError(f"unknown DARTS op {name!r}; ops are {', '.join(OPS)}")


def macro_skeleton(
    C: int, layers: int, bn: BNFactory, make_cell: Callable[[int, int, int, bool, bool], nn.Module]
) -> tuple[nn.Sequential, nn.ModuleList, tuple[int, ...]]:
    """DARTS's stem and `layers` cells made by `make_cell(C_prev_prev, C_prev, C, reduction, reduction_prev)`.

    Returns (stem, cells, each cell's output channels): stem conv3x3 (3 -> 3C, no
    bias) + BN; cells `reduction_layers(layers)` double C; a cell reads the outputs
    of the two layers before it (the stem's for the first cells), whose channels
    are the made cells' `out_dim`. Modules are made in forward order, so the
    stand-alone net and the super-net of one seed start from the same stem.
    """
    reductions = reduction_layers(layers)
    c_curr = STEM_MULTIPLIER * C
    stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), bn(c_curr))
    c_pp, c_prev, c_curr = c_curr, c_curr, C
    cells: list[nn.Module] = []
    outs: list[int] = []
    reduction_prev = False
    for i in range(layers):
        reduction = i in reductions
        if reduction:
            c_curr *= 2
        cell = make_cell(c_pp, c_prev, c_curr, reduction, reduction_prev)
        cells.append(cell)
        outs.append(cast(int, cell.out_dim))  # every DARTS cell sets its output channels
        reduction_prev = reduction
        c_pp, c_prev = c_prev, outs[-1]
    return stem, nn.ModuleList(cells), tuple(outs)


def cell_pairs(genotype: Genotype, reduction: bool) -> tuple[tuple[tuple[str, int], ...], tuple[int, ...]]:
    """(pairs, concat) of the genotype's reduction or normal cell."""
    return (
        (genotype.reduce, genotype.reduce_concat) if reduction else (genotype.normal, genotype.normal_concat)
    )


def live_nodes(pairs: tuple[tuple[str, int], ...], concat: tuple[int, ...]) -> tuple[bool, ...]:
    """Per intermediate node, whether its value reaches the cell output (through concat or later nodes)."""
    needed = [False] * (2 + NUM_NODES)
    for s in concat:
        needed[s] = True
    for node in range(NUM_NODES - 1, -1, -1):
        if not needed[2 + node]:
            continue
        for op, src in pairs[PAIRS_PER_NODE * node : PAIRS_PER_NODE * (node + 1)]:
            if op != NONE:
                needed[src] = True
    return tuple(needed[2:])


__all__ = [
    "AVG_POOL",
    "DILATION",
    "DIL_CONV",
    "KERNEL",
    "MAX_POOL",
    "NONE",
    "POOLS",
    "SEP_CONV",
    "SKIP",
    "STEM_MULTIPLIER",
    "DilConv",
    "FactorizedReduce",
    "ReLUConvBN",
    "SepConv",
    "Zero",
    "cell_pairs",
    "live_nodes",
    "macro_skeleton",
    "make_op",
    "op_stride",
    "pool",
    "reduction_layers",
]
