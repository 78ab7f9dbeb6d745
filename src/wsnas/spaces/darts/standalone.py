"""The stand-alone DARTS CIFAR network of a genotype (f_proxy), as DARTS and NDS train it.

Stem conv3x3 (3 -> 3C, bias-free) + BN; L cells, cells L//3 and 2L//3 reduction
cells (channels doubled, resolution halved); global average pool; linear. A cell
preprocesses its two inputs (`ops` module doc), computes its 4 nodes as the sum
of two ops each and concatenates the nodes of its concat list, so it outputs
len(concat) * C channels. NDS's `width` is C and its `depth` is L (`nds_macro`).
The optional auxiliary head (DARTS CIFAR: on the output of cell 2L//3, 8x8 input)
is ReLU, 5x5 average pool stride 3, conv1x1 to 128 + BN + ReLU, conv2x2 to 768 +
BN + ReLU, linear; it runs only in training (`forward_aux`).

Parameter counts follow DARTS's `count_parameters_in_MB`: every parameter except
the auxiliary head's (BN scale/shift count, running statistics do not). The
DARTS-V2 genotype at C=36, 20 cells has 3,349,342 (DARTS's "3.3M").
Drop-path (`drop_path`, DARTS's `drop_path_prob`): in training, each op's output
except an identity `skip_connect` is zeroed per sample with that probability.
"""

from __future__ import annotations

import torch
from torch import nn

from wsnas.nn.bn import BNFactory, bn_factory
from wsnas.nn.drop import drop_path
from wsnas.spaces.darts.genotype import PAIRS_PER_NODE, Genotype, parse_genotype
from wsnas.spaces.darts.ops import (
    FactorizedReduce,
    ReLUConvBN,
    cell_pairs,
    macro_skeleton,
    make_op,
    op_stride,
    reduction_layers,
)

DARTS_V2 = Genotype(
    normal=(
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("skip_connect", 0),
        ("dil_conv_3x3", 2),
    ),
    normal_concat=(2, 3, 4, 5),
    reduce=(
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
    ),
    reduce_concat=(2, 3, 4, 5),
)
"""The cell DARTS (second order) found; DARTS's CIFAR-10 model: C=36, 20 cells, 3.3M params."""
DARTS_V2_PARAMS = 3_349_342
"""`count_params` of DARTS-V2 at C=36, 20 cells, 10 classes (DARTS prints 3.349342 MB)."""


def nds_macro(width: int, depth: int) -> dict[str, int]:
    """NDS's (width, depth) of a DARTS model as this network's arguments: C = width, layers = depth."""
    return {"C": int(width), "layers": int(depth)}


class StandaloneCell(nn.Module):
    """One fixed DARTS cell; `ops[k]` is the op of genotype pair k (DARTS's order)."""

    def __init__(
        self,
        genotype: Genotype,
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        bn: BNFactory,
        pool_bn: bool = False,
    ) -> None:
        super().__init__()
        self.reduction, self.reduction_prev = reduction, reduction_prev
        self.preprocess0: nn.Module = (
            FactorizedReduce(C_prev_prev, C, bn) if reduction_prev else ReLUConvBN(C_prev_prev, C, bn=bn)
        )
        self.preprocess1 = ReLUConvBN(C_prev, C, bn=bn)
        pairs, concat = cell_pairs(genotype, reduction)
        self.pairs, self.concat = tuple(pairs), tuple(concat)
        self.ops = nn.ModuleList(make_op(op, C, op_stride(reduction, src), bn, pool_bn) for op, src in pairs)
        self.C, self.multiplier = C, len(self.concat)
        self.out_dim = self.multiplier * C

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        p = drop_prob if self.training else 0.0
        for node in range(len(self.pairs) // PAIRS_PER_NODE):
            out: torch.Tensor | None = None
            for k in range(PAIRS_PER_NODE * node, PAIRS_PER_NODE * (node + 1)):
                op = self.ops[k]
                h = op(states[self.pairs[k][1]])
                if p > 0.0 and not isinstance(op, nn.Identity):
                    h = drop_path(h, p)
                out = h if out is None else out + h
            assert out is not None
            states.append(out)
        return torch.cat([states[s] for s in self.concat], dim=1)


class AuxiliaryHeadCIFAR(nn.Module):
    """DARTS's CIFAR auxiliary classifier (expects an 8x8 input)."""

    def __init__(self, C: int, num_classes: int, bn: BNFactory) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(C, 128, 1, bias=False),
            bn(128),
            nn.ReLU(),
            nn.Conv2d(128, 768, 2, bias=False),
            bn(768),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class StandaloneNet(nn.Module):
    """DARTS CIFAR network around one genotype (or its DARTS/NDS text); `forward(x) -> logits`.

    Defaults: DARTS's CIFAR-10 model (C=36, 20 cells, no auxiliary head). BN
    defaults to DARTS's evaluation network (affine, running statistics); `pool_bn`
    (off in DARTS) puts a BN after the pools, as the super-net does, so that a
    super-net path can be copied into this network exactly.
    """

    def __init__(
        self,
        genotype: Genotype | str,
        C: int = 36,
        layers: int = 20,
        auxiliary: bool = False,
        num_classes: int = 10,
        drop_path: float = 0.0,
        bn_affine: bool = True,
        bn_track_running_stats: bool = True,
        pool_bn: bool = False,
    ) -> None:
        super().__init__()
        self.genotype = parse_genotype(genotype)
        self.C, self.layers, self.auxiliary, self.num_classes = C, layers, auxiliary, num_classes
        self.drop_path_prob = float(drop_path)
        """DARTS anneals this per epoch; set it on the instance."""
        bn = bn_factory(bn_affine, bn_track_running_stats)
        self.aux_layer = reduction_layers(layers)[1]
        self.stem, self.cells, outs = macro_skeleton(
            C,
            layers,
            bn,
            lambda c_pp, c_prev, c, reduction, reduction_prev: StandaloneCell(
                self.genotype, c_pp, c_prev, c, reduction, reduction_prev, bn, pool_bn
            ),
        )
        self.auxiliary_head: AuxiliaryHeadCIFAR | None = (
            AuxiliaryHeadCIFAR(outs[self.aux_layer], num_classes, bn) if auxiliary else None
        )
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(outs[-1], num_classes)

    def forward_aux(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits, auxiliary logits); the latter only in training with the auxiliary head."""
        aux: torch.Tensor | None = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.aux_layer and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(s1)
        return self.classifier(self.global_pooling(s1).flatten(1)), aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_aux(x)[0]


def count_params(model: nn.Module, auxiliary: bool = False) -> int:
    """Trainable parameters, by default without the auxiliary head (DARTS's reported count)."""
    return sum(
        p.numel()
        for name, p in model.named_parameters()
        if p.requires_grad and (auxiliary or not name.startswith("auxiliary_head."))
    )


__all__ = [
    "DARTS_V2",
    "DARTS_V2_PARAMS",
    "AuxiliaryHeadCIFAR",
    "StandaloneCell",
    "StandaloneNet",
    "count_params",
    "nds_macro",
]
