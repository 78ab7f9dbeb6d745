"""Which network and which input normalisation the zero-cost estimators score (`--network`).

`benchmark` (the default): the space's stand-alone network (`space.standalone`), the network the
benchmark trained, on images normalised as the benchmark's training normalised them.
`zero_cost_authors`: the NB201 network and data preprocessing Abdelfattah et al.'s published NB201
numbers were measured with (`spaces.nb201.zc_reference`; SamsungLabs/zero-cost-nas
`foresight/dataset.py` for the normalisation); what each changes:
docs/estimators.md#the-zero-cost-authors-network-network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wsnas.core.errors import ConfigError
from wsnas.spaces.nb201.zc_reference import ZCReferenceNet

NETWORKS = ("benchmark", "zero_cost_authors")
DEFAULT_NETWORK = "benchmark"

_ZC_CIFAR = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
ZC_NORMALISATION: dict[str, tuple[Sequence[float], Sequence[float]]] = {
    "cifar10": _ZC_CIFAR,
    "cifar100": _ZC_CIFAR,
    "imagenet16_120": (
        tuple(x / 255 for x in (122.68, 116.66, 104.01)),
        tuple(x / 255 for x in (63.22, 61.26, 65.09)),
    ),
}
"""(mean, std) per data set of the authors' `get_cifar_dataloaders` (CIFAR-10 and CIFAR-100 share
theirs; ImageNet16-120's equal the benchmark's)."""

ZC_SPACES = ("nb201",)
"""The spaces the zero-cost authors' own network exists for."""


def check_network(name: str, space: Any, data: str, has_zero_cost: bool) -> None:
    """ConfigError unless network NAME can score on SPACE with data set DATA, and changes something."""
    if name not in NETWORKS:
        raise ConfigError(f"--network: got {name!r}; use one of {', '.join(NETWORKS)}")
    if name == DEFAULT_NETWORK:
        return
    if space.name not in ZC_SPACES:
        raise ConfigError(
            f"--network {name}: space {space.name} has no zero-cost authors' network (they published "
            f"numbers on their own network for {', '.join(ZC_SPACES)} only); use --network benchmark"
        )
    if data not in ZC_NORMALISATION:
        raise ConfigError(
            f"--network {name}: the zero-cost authors' preprocessing exists for "
            f"{', '.join(ZC_NORMALISATION)}, not data.name={data}"
        )
    if not has_zero_cost:
        raise ConfigError(f"--network {name}: changes only the zero-cost estimators, and this run has none")


def build_network(name: str, space: Any, arch: Any, channels: int, cells: int, num_classes: int) -> Any:
    """The network of ARCH the zero-cost estimators score under network NAME (checked by check_network)."""
    if name == "zero_cost_authors":
        return ZCReferenceNet(arch, C=channels, N=cells, num_classes=num_classes)
    return space.standalone(arch, channels, cells, num_classes)


def normalisation(name: str, data: str) -> tuple[Sequence[float], Sequence[float]] | None:
    """(mean, std) of network NAME's preprocessing on DATA; None: the data set's own (`DatasetInfo`)."""
    return ZC_NORMALISATION[data] if name == "zero_cost_authors" else None
