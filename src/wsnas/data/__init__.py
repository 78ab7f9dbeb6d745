"""Data sets (CIFAR-10, digits): official-format readers, seeded splits, on-device batch loader."""

from wsnas.data.cifar import (
    CIFAR10_MD5,
    CIFAR10_URL,
    Split,
    download_cifar10,
    load_cifar10,
    split_indices,
)
from wsnas.data.datasets import DATASETS, DatasetInfo, Splits, dataset_info, load_splits
from wsnas.data.device_loader import CIFAR10_MEAN, CIFAR10_STD, DeviceLoader, crop_flip

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
