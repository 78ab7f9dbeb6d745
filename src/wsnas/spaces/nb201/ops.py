"""NAS-Bench-201's cell ops, residual block and the per-arch execution plan of a cell.

Ops follow the benchmark: `nor_conv_kxk` = ReLU -> Conv(no bias) -> BN;
`avg_pool_3x3` = 3x3 average pool, stride 1, padding 1, count_include_pad=False
(the benchmark adds a 1x1 preprocess conv only when C_in != C_out, which never
happens inside a cell); `skip_connect` = identity; `none` = zero.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from wsnas.nn.bn import BNFactory
from wsnas.nn.conv import ReLUConvBN
from wsnas.spaces.nb201.arch import EDGES, NUM_NODES, OPS, Arch, check_encoding

NONE, SKIP, CONV1, CONV3, POOL = (
    OPS.index(n) for n in ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
)
CONV_OPS: dict[int, int] = {CONV1: 1, CONV3: 3}
"""Op index -> kernel size of the parametric ops."""

EdgeStep = tuple[int, int, int]
"""(edge index, source node, op index) of one edge a cell computes."""
CellPlan = tuple[tuple[EdgeStep, ...], ...]
"""Per node 1..3, the edges summed into it; an empty tuple means the node is zero."""


class Zero(nn.Module):
    """The `none` op; networks here skip such edges instead of calling it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def avg_pool_3x3() -> nn.AvgPool2d:
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


def make_op(op: int, C: int, bn: BNFactory | None = None) -> nn.Module:
    """One stride-1, C -> C cell op by its index in `OPS`."""
    if op in CONV_OPS:
        return ReLUConvBN(C, C, CONV_OPS[op], 1, bn)
    if op == POOL:
        return avg_pool_3x3()
    if op == SKIP:
        return nn.Identity()
    if op == NONE:
        return Zero()
    raise ValueError(f"unknown NB201 op index {op}")


class ResidualBlock(nn.Module):
    """The benchmark's reduction block between stages.

    ReLU-conv3x3(stride)-BN -> ReLU-conv3x3-BN, plus a shortcut: AvgPool(2) then a
    bias-free 1x1 conv without BN when stride is 2, a ReLU-conv1x1-BN when only
    the width changes, else the identity.
    """

    def __init__(self, C_in: int, C_out: int, stride: int = 2, bn: BNFactory | None = None):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"residual block stride must be 1 or 2, got {stride}")
        self.conv_a = ReLUConvBN(C_in, C_out, 3, stride, bn)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, bn)
        self.downsample: nn.Module | None
        if stride == 2:
            self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(C_in, C_out, 1, bias=False))
        elif C_in != C_out:
            self.downsample = ReLUConvBN(C_in, C_out, 1, 1, bn)
        else:
            self.downsample = None
        self.in_dim, self.out_dim, self.stride = C_in, C_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))


def macro_skeleton(
    C: int, N: int, bn: BNFactory, make_cell: Callable[[int], nn.Module]
) -> tuple[nn.Sequential, nn.ModuleList, nn.Sequential, int]:
    """NB201's macro skeleton around cells made by `make_cell(channels)`.

    Returns (stem, layers, lastact, channels out): stem conv3x3(3->C, no bias)+BN;
    N cells at C, a stride-2 residual block to 2C, N cells, one to 4C, N cells;
    BN-ReLU. Modules are made in forward order, so a seed gives the same weights
    to the stand-alone net and the super-net.
    """
    stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), bn(C))
    layers: list[nn.Module] = []
    c_prev = C
    for stage in range(3):
        c = C * 2**stage
        if stage > 0:
            layers.append(ResidualBlock(c_prev, c, 2, bn))
        layers.extend(make_cell(c) for _ in range(N))
        c_prev = c
    return stem, nn.ModuleList(layers), nn.Sequential(bn(c_prev), nn.ReLU()), c_prev


def cell_plan(arch: Arch, prune: bool = True) -> CellPlan:
    """Which edges a cell computes for `arch`, grouped by target node.

    `none` edges are always left out, and a node without inputs is zero. A conv
    edge out of a zero node is still computed, because ReLU-Conv-BN of zeros is
    BN(0), not 0 (the benchmark's networks compute it too). With `prune`, also
    leave out edges that add exact zeros (skip/pool of a zero node) and edges
    whose result cannot reach node 3; the cell's output is unchanged.
    """
    check_encoding(arch)
    arch = tuple(int(o) for o in arch)
    incoming: list[list[EdgeStep]] = [[] for _ in range(NUM_NODES)]
    live = [True] + [False] * (NUM_NODES - 1)
    for e, (src, dst) in enumerate(EDGES):
        op = arch[e]
        if op == NONE or (prune and not live[src] and op not in CONV_OPS):
            continue
        incoming[dst].append((e, src, op))
        live[dst] = True
    if prune:
        needed = [False] * (NUM_NODES - 1) + [True]
        for node in range(NUM_NODES - 1, 0, -1):
            if not needed[node]:
                incoming[node] = []
                continue
            for _, src, _ in incoming[node]:
                needed[src] = True
    return tuple(tuple(steps) for steps in incoming[1:])
