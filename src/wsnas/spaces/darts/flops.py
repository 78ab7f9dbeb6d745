"""FLOPs of the stand-alone DARTS network, computed from the genotype alone.

Rule (the same as NB201's and NB101's here): multiply-adds of one image, in
millions, over convolutions and the linear classifier only. A conv costs
k_h * k_w * C_in * C_out / groups per output position (so a depthwise kxk conv
costs k*k*C), the classifier in*out + out. BN, ReLU, pools, identities, `none`
ops, additions and concatenations count zero; the auxiliary head is left out (it
runs only in training). Every op of the genotype counts, including ops of nodes
that do not reach the cell output, because the stand-alone network computes them.
`count_flops` (forward hooks, shared with NB201) gives the same number on a
`StandaloneNet`.

Per cell with C channels and output side s (input side 2s in a reduction cell):
preprocessing costs C_pp * C * s_in^2 (1x1 conv or `FactorizedReduce`, whose two
halves each cost C_pp * C/2) and C_prev * C * s_in^2; `sep_conv_kxk` costs
2 (k*k*C + C*C) s_out^2, `dil_conv_kxk` (k*k*C + C*C) s_out^2, a stride-2
`skip_connect` (`FactorizedReduce`) C*C s_out^2.
"""

from __future__ import annotations

from wsnas.spaces.darts.genotype import Genotype, parse_genotype
from wsnas.spaces.darts.ops import (
    DIL_CONV,
    SEP_CONV,
    SKIP,
    STEM_MULTIPLIER,
    cell_pairs,
    op_stride,
    reduction_layers,
)
from wsnas.spaces.nb201.flops import count_flops


def _cell_ops_macs(genotype: Genotype, reduction: bool, C: int, side_out: int) -> int:
    pairs, _ = cell_pairs(genotype, reduction)
    total = 0
    for op, src in pairs:
        if op in SEP_CONV:
            k = SEP_CONV[op]
            total += 2 * (k * k * C + C * C)
        elif op in DIL_CONV:
            k = DIL_CONV[op]
            total += k * k * C + C * C
        elif op == SKIP and op_stride(reduction, src) == 2:
            total += C * C
    return total * side_out * side_out


def flops_macs(
    genotype: Genotype | str, C: int = 36, layers: int = 20, num_classes: int = 10, image_size: int = 32
) -> int:
    """Analytic multiply-adds (an integer) of one image through `StandaloneNet(genotype, C, layers)`."""
    g = parse_genotype(genotype)
    if image_size % 4:
        raise ValueError(f"image_size must be a multiple of 4 (two stride-2 reductions), got {image_size}")
    reductions = reduction_layers(layers)
    side = image_size
    c_stem = STEM_MULTIPLIER * C
    total = 9 * 3 * c_stem * side * side
    c_pp, c_prev, c_curr = c_stem, c_stem, C
    for i in range(layers):
        reduction = i in reductions
        if reduction:
            c_curr *= 2
        side_in = side
        side_out = side // 2 if reduction else side
        total += (c_pp + c_prev) * c_curr * side_in * side_in  # preprocess0 (conv or FR), preprocess1
        total += _cell_ops_macs(g, reduction, c_curr, side_out)
        multiplier = len(cell_pairs(g, reduction)[1])
        c_pp, c_prev, side = c_prev, multiplier * c_curr, side_out
    return total + c_prev * num_classes + num_classes


def flops_millions(
    genotype: Genotype | str, C: int = 36, layers: int = 20, num_classes: int = 10, image_size: int = 32
) -> float:
    """`flops_macs` / 1e6 (default: a 32x32 CIFAR-10 image through DARTS's C=36, 20-cell network)."""
    return flops_macs(genotype, C, layers, num_classes, image_size) / 1e6


__all__ = ["count_flops", "flops_macs", "flops_millions"]
