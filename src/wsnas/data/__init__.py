"""Data sets (CIFAR-10, digits): official-format readers, seeded splits, on-device batch loader."""

from typing import Any

from wsnas.data.cifar import (
    CIFAR10_MD5,
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR10_URL,
    Split,
    download_cifar10,
    load_cifar10,
    split_indices,
)
from wsnas.data.datasets import DATASETS, DatasetInfo, Splits, dataset_info, load_splits

_TORCH_NAMES = ("DeviceLoader", "crop_flip")
"""Names from `wsnas.data.device_loader`, imported on first use: torch loads only where batches are made."""


def __getattr__(name: str) -> Any:
    if name in _TORCH_NAMES:
        from wsnas.data import device_loader

        return getattr(device_loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "DeviceLoader",
    "crop_flip",
    "CIFAR10_MD5",
    "CIFAR10_URL",
    "DATASETS",
    "DatasetInfo",
    "Splits",
    "dataset_info",
    "Split",
    "download_cifar10",
    "load_cifar10",
    "load_splits",
    "split_indices",
]
