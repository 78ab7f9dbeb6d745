"""The stand-alone NB201 network (f_proxy), as the benchmark trained every cell.

Stem conv3x3(3->C, no bias)+BN; N cells at C; residual block to 2C (stride 2);
N cells; residual block to 4C; N cells; BN-ReLU, global average pool, linear.
Parameter counts equal the benchmark's `params` for every cell (0.073306M for
all-`none` up to 1.531546M for all-`nor_conv_3x3` at C=16, N=5, 10 classes).
"""

from __future__ import annotations

import torch
from torch import nn

from wsnas.nn.bn import BNFactory, bn_factory
from wsnas.nn.params import count_params
from wsnas.spaces.nb201.arch import Arch, check_encoding
from wsnas.spaces.nb201.ops import CellPlan, cell_plan, macro_skeleton, make_op


class StandaloneCell(nn.Module):
    """One fixed cell: an op per edge (`none` edges hold a parameter-free Zero).

    Every non-`none` edge is computed, as in the benchmark, so forward hooks see
    the same ops the benchmark's FLOPs counter saw.
    """

    def __init__(self, arch: Arch, C: int, bn: BNFactory) -> None:
        super().__init__()
        self.arch = tuple(int(o) for o in arch)
        self.edges = nn.ModuleList(make_op(op, C, bn) for op in self.arch)
        self._plan: CellPlan = cell_plan(self.arch, prune=False)
        self.in_dim = self.out_dim = C

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x]
        for steps in self._plan:
            out: torch.Tensor | None = None
            for e, src, _ in steps:
                h = nodes[src]
                y = self.edges[e](torch.zeros_like(x) if h is None else h)
                out = y if out is None else out + y
            nodes.append(out)
        return torch.zeros_like(x) if nodes[-1] is None else nodes[-1]


class StandaloneNet(nn.Module):
    """NB201 macro skeleton around one fixed cell; `forward(x) -> logits`.

    BN defaults to the benchmark's (affine, running statistics tracked); pass the
    super-net's flags to get a network whose forward matches a super-net path.
    """

    def __init__(
        self,
        arch: Arch,
        C: int = 16,
        N: int = 5,
        num_classes: int = 10,
        bn_affine: bool = True,
        bn_track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        check_encoding(arch)
        self.arch = tuple(int(o) for o in arch)
        self.C, self.N, self.num_classes = C, N, num_classes
        bn = bn_factory(bn_affine, bn_track_running_stats)
        self.stem, self.cells, self.lastact, c_prev = macro_skeleton(
            C, N, bn, lambda c: StandaloneCell(self.arch, c, bn)
        )
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.cells:
            x = layer(x)
        x = self.global_pooling(self.lastact(x)).flatten(1)
        return self.classifier(x)


__all__ = ["StandaloneCell", "StandaloneNet", "count_params"]
