"""The zero-cost authors' NB201 network: the one Abdelfattah et al. scored their published NB201 numbers on.

Written from SamsungLabs/zero-cost-nas `foresight/models/nasbench2.py` (NAS201Model,
get_model_from_arch_str) and `nasbench2_ops.py` (SearchCell, ReLUConvBN, reduction, stem, top).
It differs from the benchmark's stand-alone network (`standalone.StandaloneNet`) only inside the
cells:

- super-net style cells: every edge builds all five ops, in the authors' order `ZC_OP_ORDER`, and
  a mask keeps the architecture's one; masked ops are built (their weights are among the layers a
  proxy sums over, with no gradient) but never run, and a kept `none` runs as `x * 0`;
- a cell convolution carries a bias (their `bias=not affine` with `affine=False`), and its BN has
  neither affine parameters nor running statistics (batch statistics in train and eval mode).

Stem, residual blocks, last BN-ReLU, pooling and classifier are the benchmark's (the authors' use
PyTorch's default BN there too). Their copy of the net without BN (`get_prunable_copy(bn=False)`,
synflow's network) rebuilds it with `use_bn=False`, which drops the stem's, the cells' and the last
BN but keeps the residual blocks': `bn_false_drops` names those layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wsnas.nn.bn import bn_factory
from wsnas.spaces.nb201.arch import EDGES, NUM_NODES, OPS, Arch, check_encoding
from wsnas.spaces.nb201.ops import ResidualBlock, Zero, avg_pool_3x3, macro_skeleton

ZC_OP_ORDER: tuple[str, ...] = ("none", "avg_pool_3x3", "nor_conv_3x3", "nor_conv_1x1", "skip_connect")
"""The order of the ops on every edge in the authors' cell (their OPS dict), so of the mask."""

Mask = tuple[tuple[bool, ...], ...]
"""Per edge (in `EDGES` order), per op (in `ZC_OP_ORDER`), whether the op runs."""


def arch_mask(arch: Arch) -> Mask:
    """The one-hot mask of ARCH (the authors' `gen_searchcell_mask_from_arch_str`, per edge)."""
    check_encoding(arch)
    return tuple(tuple(ZC_OP_ORDER[k] == OPS[int(op)] for k in range(len(ZC_OP_ORDER))) for op in arch)


class ZCConv(nn.Module):
    """ReLU -> Conv2d with bias -> BatchNorm2d without affine parameters or running statistics."""

    def __init__(self, C: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(C, C, kernel_size, padding=kernel_size // 2, bias=True)
        self.bn = nn.BatchNorm2d(C, affine=False, track_running_stats=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(F.relu(x)))


def make_zc_op(name: str, C: int) -> nn.Module:
    """One of the authors' cell ops by name."""
    if name == "none":
        return Zero()
    if name == "avg_pool_3x3":
        return avg_pool_3x3()
    if name == "nor_conv_3x3":
        return ZCConv(C, 3)
    if name == "nor_conv_1x1":
        return ZCConv(C, 1)
    if name == "skip_connect":
        return nn.Identity()
    raise ValueError(f"unknown NB201 op {name!r}")


class ZCMaskedCell(nn.Module):
    """All five ops on each of the six edges; a node is the sum of the kept ops on its edges.

    A mask need not be one-hot: it is the authors' `keep_mask`, which may keep several ops per edge
    (their super-net) or none (then the edge adds nothing; a node with no kept op is zero).
    """

    def __init__(self, C: int, mask: Mask) -> None:
        super().__init__()
        if len(mask) != len(EDGES) or any(len(m) != len(ZC_OP_ORDER) for m in mask):
            raise ValueError(f"mask: need {len(EDGES)} edges x {len(ZC_OP_ORDER)} ops, got {mask}")
        self.mask = tuple(tuple(bool(k) for k in m) for m in mask)
        self.ops = nn.ModuleList(make_zc_op(n, C) for _ in EDGES for n in ZC_OP_ORDER)
        """Edge e's op k (in `ZC_OP_ORDER`) is ops[e * 5 + k], built in the authors' order."""
        self.in_dim = self.out_dim = C

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for dst in range(1, NUM_NODES):
            k = len(ZC_OP_ORDER)
            outs = [
                self.ops[e * k + i](nodes[src])
                for e, (src, to) in enumerate(EDGES)
                if to == dst
                for i in range(k)
                if self.mask[e][i]
            ]
            nodes.append(sum(outs[1:], outs[0]) if outs else torch.zeros_like(x))
        return nodes[-1]


class ZCReferenceNet(nn.Module):
    """The authors' NB201 network of one cell (or mask); `forward(x) -> logits`.

    Same attributes as `StandaloneNet` (stem, cells, lastact, global_pooling, classifier).
    """

    def __init__(
        self,
        arch: Arch | None = None,
        C: int = 16,
        N: int = 5,
        num_classes: int = 10,
        mask: Mask | None = None,
    ) -> None:
        super().__init__()
        if (arch is None) == (mask is None):
            raise ValueError("ZCReferenceNet: give exactly one of arch and mask")
        self.arch = None if arch is None else tuple(int(o) for o in arch)
        self.mask = arch_mask(arch) if arch is not None else mask
        assert self.mask is not None
        keep = self.mask
        self.C, self.N, self.num_classes = C, N, num_classes
        self.stem, self.cells, self.lastact, c_prev = macro_skeleton(
            C, N, bn_factory(affine=True, track_running_stats=True), lambda c: ZCMaskedCell(c, keep)
        )
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for layer in self.cells:
            x = layer(x)
        x = self.global_pooling(self.lastact(x)).flatten(1)
        return self.classifier(x)

    def bn_false_drops(self) -> list[nn.Module]:
        """The BN layers the authors' copy without BN leaves out: every one but the residual blocks'."""
        keep = {id(m) for b in self.cells if isinstance(b, ResidualBlock) for m in b.modules()}
        return [m for m in self.modules() if isinstance(m, nn.BatchNorm2d) and id(m) not in keep]
