"""nb201_mini: NAS-Bench-201's cell with 3 nodes instead of 4 (3 edges, the same 5 ops).

5^3 = 125 encodings, small enough to train every one stand-alone on a laptop;
its ground truth (scikit-learn's digits, see wsnas.spaces.mini.benchmark) ships
with the package, so the whole study runs offline.

Arch strings follow NB201's notation with two nodes: `|op~0|+|op~0|op~1|`
(node 1; node 2 = the cell's output). Networks embed the cell into NB201's
4-node cell as (a, b, c) -> (a, b, c, none, none, skip_connect): node 3 equals
node 2, so the NB201 stand-alone net, super-net, FLOPs rule and unique-cell rule
apply unchanged. One consequence: with `mapping.dropout_path > 0` the embedded
2->3 identity is an edge too, so drop-path can also drop a cell's whole output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.spaces.base import COMMON_FACTORS, SPACES, EdgeOpSpace, SuperNet
from wsnas.spaces.factors import Factor
from wsnas.spaces.mini.benchmark import LOADER
from wsnas.spaces.mini.cell import EDGES, OPS, Arch, embed, format_arch, parse_arch, unique_classes
from wsnas.spaces.nb201 import arch as nb201
from wsnas.spaces.nb201.space import DROPOUT_PATH_AT

if TYPE_CHECKING:
    from wsnas.spaces.nb201.standalone import StandaloneNet

MINI_FACTORS: dict[str, Factor] = {
    **COMMON_FACTORS,
    "mapping.super_kernel": Factor((False, True)),
    "mapping.dropout_path_at": DROPOUT_PATH_AT,
}
"""Its edges carry NB201's ops, so the kernel group nor_conv_3x3 / nor_conv_1x1 (OFA super-kernel) acts;
it runs NB201's super-net, so path dropout can sit on edges or on cell outputs as there."""


@SPACES.register("nb201_mini")
class MiniSpace(EdgeOpSpace):
    """3-node NB201 cells: 125 encodings; ground truth on digits shipped with wsnas."""

    name = "nb201_mini"
    title = "NB201-mini"
    loader = LOADER
    factors = MINI_FACTORS
    why_not = {
        "mapping.ops_on": "ops on nodes share an op set only among a node's inputs from nodes >= 1, and "
        "node 2 of the 3-node cell has one such input, so nothing would be shared",
        "mapping.wsbn": "WSBN splits the BN of a shared op, and no op is shared in the 3-node cell",
        "mapping.dynamic_channels": "every NB201 op keeps its channels",
    }
    ops = OPS
    edges = EDGES
    mixed_op_why_not = None  # MiniSuperNet.forward_mixed
    proxy = {
        "lr": 0.1,
        "epochs": 40,
        "batch_size": 64,
        "weight_decay": 5e-4,
        "nesterov": True,
        "channels": 16,
        "cells": 1,
    }

    def parse(self, text: str) -> Arch:
        return parse_arch(text)

    def format(self, arch: Any) -> str:
        return format_arch(arch)

    def canonical(self, arch: Any) -> str:
        """NB201's rule on the embedded cell, i.e. the expression of node 2."""
        return nb201.canonical_id(embed(parse_arch(arch) if isinstance(arch, str) else arch))

    def build_supernet(
        self, mapping: MappingConfig, lowfi: LowFidelityConfig, num_classes: int = 10
    ) -> SuperNet:
        """The nb201_mini super-net: NB201's, with node 3 = node 2."""
        from wsnas.spaces.mini.supernet import MiniSuperNet  # torch: only where a network is built
        from wsnas.spaces.nb201.supernet import NB201SuperNet

        return MiniSuperNet(NB201SuperNet(mapping, lowfi, num_classes=num_classes))

    def standalone(
        self, arch: Any, channels: int = 16, cells: int = 1, num_classes: int = 10
    ) -> StandaloneNet:
        """NB201's stand-alone skeleton around the embedded cell."""
        from wsnas.spaces.nb201.standalone import StandaloneNet

        return StandaloneNet(embed(arch), C=channels, N=cells, num_classes=num_classes)

    def arch_facts(self, arch: Any, channels: int = 16, cells: int = 1) -> dict[str, Any]:
        """Params and FLOPs (millions) of the stand-alone net on 8x8 digits (the mini benchmark's)."""
        from wsnas.nn.params import count_params
        from wsnas.spaces.nb201.flops import flops_millions

        params = count_params(self.standalone(arch, channels, cells))
        flops = flops_millions(embed(arch), C=channels, N=cells, image_size=8)
        return {"params_m": round(params / 1e6, 6), "flops_m": round(flops, 6)}

    def unique_classes(self) -> tuple[tuple[str, ...], tuple[tuple[Arch, ...], ...]]:
        return unique_classes()

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),
            "unique_rule": "NAS-Bench-201's, on the cell embedded as node 3 = node 2",
        }
