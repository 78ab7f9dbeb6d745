"""The `nb201` search space: NAS-Bench-201's cell (6 edges, 5 ops), its networks and ground truth."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.spaces.base import COMMON_FACTORS, SPACES, EdgeOpSpace, SuperNet
from wsnas.spaces.factors import Above, Factor
from wsnas.spaces.nb201.arch import EDGES, OPS, Arch, canonical_id, format_arch, parse_arch, unique_classes
from wsnas.spaces.nb201.benchmark import LOADER

if TYPE_CHECKING:
    from wsnas.spaces.nb201.standalone import StandaloneNet

DROPOUT_PATH_AT = Factor(
    ("edges", "cell"),
    requires=(("mapping.dropout_path", Above(0.0)),),
    why="nothing is dropped without a path-dropout rate",
)
"""Path dropout on each edge (the paper's text) or on each cell's output scaled by depth (the authors'
NB201 code); shared with nb201_mini, which runs this super-net."""

NB201_FACTORS: dict[str, Factor] = {
    **COMMON_FACTORS,
    "mapping.ops_on": Factor(("edges", "nodes")),
    "mapping.wsbn": Factor(
        (False, True),
        requires=(("mapping.ops_on", "nodes"),),
        why="every edge already has its own BN (no op is shared)",
    ),
    "mapping.super_kernel": Factor((False, True)),
    "mapping.dropout_path_at": DROPOUT_PATH_AT,
}
"""The NB201 super-net's factors (docs/factors.md); WSBN acts only where ops are shared.
The super-kernel merges the kernel group nor_conv_3x3 / nor_conv_1x1 of every op set."""


@SPACES.register("nb201")
class NB201Space(EdgeOpSpace):
    """NAS-Bench-201 cell space: 5^6 = 15,625 encodings, 6,466 unique cells."""

    name = "nb201"
    title = "NASBench-201"
    loader = LOADER
    factors = NB201_FACTORS
    why_not = {
        "mapping.dynamic_channels": "every NB201 op keeps its channels",
    }
    ops = OPS
    edges = EDGES
    mixed_op_why_not = None  # NB201SuperNet.forward_mixed
    proxy = {  # the benchmark's 200-epoch schedule (NAS-Bench-201 paper, Table 2)
        "lr": 0.1,
        "epochs": 200,
        "batch_size": 256,
        "weight_decay": 5e-4,
        "nesterov": True,
        "channels": 16,
        "cells": 5,
    }

    def parse(self, text: str) -> Arch:
        return parse_arch(text)

    def format(self, arch: Arch) -> str:
        return format_arch(arch)

    def canonical(self, arch: Arch | str) -> str:
        return canonical_id(parse_arch(arch) if isinstance(arch, str) else arch)

    def build_supernet(
        self, mapping: MappingConfig, lowfi: LowFidelityConfig, num_classes: int = 10
    ) -> SuperNet:
        """The NB201 super-net (f_ws) for the mapping and low-fidelity factors."""
        from wsnas.spaces.nb201.supernet import NB201SuperNet  # torch: only where a network is built

        return NB201SuperNet(mapping, lowfi, num_classes=num_classes)

    def standalone(
        self, arch: Arch, channels: int = 16, cells: int = 5, num_classes: int = 10
    ) -> StandaloneNet:
        """The benchmark's stand-alone network (f_proxy) of one cell."""
        from wsnas.spaces.nb201.standalone import StandaloneNet

        return StandaloneNet(arch, C=channels, N=cells, num_classes=num_classes)

    def arch_facts(self, arch: Arch, data: str = "cifar10") -> dict[str, Any]:
        """Params and FLOPs (millions) of the benchmark's stand-alone network on data set DATA
        (its classes and input size: cifar10, cifar100, imagenet16_120), as the benchmark reports them."""
        from wsnas.data.datasets import dataset_info
        from wsnas.nn.params import count_params
        from wsnas.spaces.nb201.flops import flops_millions

        info = dataset_info(data)
        params = count_params(self.standalone(arch, num_classes=info.num_classes))
        flops = flops_millions(arch, num_classes=info.num_classes, image_size=info.image_size)
        return {"params_m": round(params / 1e6, 6), "flops_m": round(flops, 6)}

    def arch_facts_on(self, arch: Arch, data: str) -> dict[str, Any] | None:
        return self.arch_facts(arch, data=data)

    def unique_classes(self) -> tuple[tuple[str, ...], tuple[tuple[Arch, ...], ...]]:
        return unique_classes()

    def info(self) -> dict:
        return {
            **super().info(),
            "unique_rule": "NAS-Bench-201 expression rule (none/# pruning, skip identity, sorted terms)",
        }
