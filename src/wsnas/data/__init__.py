"""CIFAR-10 data: official-archive reader, seeded splits, on-device batch loader."""

from wsnas.data.cifar import (
    CIFAR10_MD5,
    CIFAR10_URL,
    CifarSplits,
    Split,
    download_cifar10,
    load_cifar10,
    load_splits,
    split_indices,
)
from wsnas.data.device_loader import CIFAR10_MEAN, CIFAR10_STD, DeviceLoader, crop_flip

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "DeviceLoader",
    "crop_flip",
    "CIFAR10_MD5",
    "CIFAR10_URL",
    "CifarSplits",
    "Split",
    "download_cifar10",
    "load_cifar10",
    "load_splits",
    "split_indices",
]
