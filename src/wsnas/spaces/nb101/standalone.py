"""The stand-alone NB101 network (f_proxy), as the benchmark trained every cell.

Stem conv3x3-BN-ReLU (3 -> 128); 3 stacks of 3 cells; a 2x2 stride-2 max pool
before stacks 2 and 3, each doubling the cells' output channels (128, 256, 512);
global average pool; dense layer with bias. Cells follow `ops.cell_plan`.
Parameter counts equal the benchmark's `trainable_parameters` (BN scale and
shift count, running statistics do not): e.g. 2,694,282 for the Inception-like
cell. Initialisation is PyTorch's default, not the benchmark's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from wsnas.nn.bn import BNFactory
from wsnas.nn.params import count_params
from wsnas.spaces.nb101.flops import flops_macs, flops_millions
from wsnas.spaces.nb101.graph import MAXPOOL3X3, CellSpec
from wsnas.spaces.nb101.ops import (
    BN_MOMENTUM,
    KERNEL,
    CellPlan,
    ConvBNReLU,
    as_spec,
    benchmark_bn,
    cell_plan,
    max_pool_3x3,
    stacks,
)


class StandaloneCell(nn.Module):
    """One fixed cell: a projection per input->vertex edge, an op per vertex, an optional output projection.

    Modules are keyed by vertex index (`proj["2"]`, `ops["2"]`) so weights map
    one-to-one onto a super-net's slots.
    """

    def __init__(self, spec: CellSpec, C_in: int, C: int, bn: BNFactory) -> None:
        super().__init__()
        self.plan: CellPlan = cell_plan(spec, C_in, C)
        self.proj = nn.ModuleDict()
        self.ops = nn.ModuleDict()
        for v in self.plan.vertices:
            if v.from_input:
                self.proj[str(v.vertex)] = ConvBNReLU(C_in, v.width, 1, bn)
            self.ops[str(v.vertex)] = (
                max_pool_3x3() if v.op == MAXPOOL3X3 else ConvBNReLU(v.width, v.width, KERNEL[v.op], bn)
            )
        self.out_proj: ConvBNReLU | None = ConvBNReLU(C_in, C, 1, bn) if self.plan.out_proj else None
        self.in_dim, self.out_dim = C_in, C

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [x]
        for v in self.plan.vertices:
            h: torch.Tensor | None = None
            for s in v.srcs:  # interior inputs first, then the projection (the benchmark's order)
                t = outs[s]
                if t.shape[1] != v.width:
                    t = t[:, : v.width]
                h = t if h is None else h + t
            if v.from_input:
                t = self.proj[str(v.vertex)](x)
                h = t if h is None else h + t
            assert h is not None  # a pruned spec gives every interior vertex an input
            outs.append(self.ops[str(v.vertex)](h))
        out: torch.Tensor | None = None
        if self.plan.concat:
            parts = [outs[t] for t in self.plan.concat]
            out = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
        if self.out_proj is not None:
            p = self.out_proj(x)
            out = p if out is None else out + p
        assert out is not None
        return out


class StandaloneNet(nn.Module):
    """NB101 macro skeleton around one fixed cell; `forward(x) -> logits`.

    BN defaults to the benchmark's (affine, running statistics, momentum 0.003 in
    PyTorch's convention); pass a super-net's flags to get a network whose
    forward matches the super-net's path.
    """

    def __init__(
        self,
        spec: CellSpec | str | Mapping[str, Any],
        stem_channels: int = 128,
        num_stacks: int = 3,
        cells_per_stack: int = 3,
        num_classes: int = 10,
        bn_affine: bool = True,
        bn_track_running_stats: bool = True,
        bn_momentum: float = BN_MOMENTUM,
    ) -> None:
        super().__init__()
        self.spec = as_spec(spec)
        self.stem_channels, self.num_stacks = stem_channels, num_stacks
        self.cells_per_stack, self.num_classes = cells_per_stack, num_classes
        bn = benchmark_bn(bn_affine, bn_track_running_stats, bn_momentum)
        self.stem = ConvBNReLU(3, stem_channels, 3, bn)
        self.layers, c_prev = stacks(
            stem_channels, num_stacks, cells_per_stack, lambda c_in, c: StandaloneCell(self.spec, c_in, c, bn)
        )
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        return self.classifier(x.mean((2, 3)))


__all__ = [
    "StandaloneCell",
    "StandaloneNet",
    "count_params",
    "flops_macs",
    "flops_millions",
]
