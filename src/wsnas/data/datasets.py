"""Data sets by name (`data.name`): how to read them and how their batches are made.

A `DatasetInfo` says what a network and the loader need to know (classes, input
size, the normalisation, the augmentation: as NAS-Bench-201's training used them for
cifar10, cifar100 and imagenet16_120); `load_splits` reads the official train/test
split, cuts the seeded train/valid hold-out the config asks for and, for CIFAR-100 and
ImageNet16-120, NAS-Bench-201's fixed x-valid/x-test halves of the test set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from wsnas.config import DataConfig
from wsnas.core.errors import DataError
from wsnas.data.cifar import CIFAR10_MEAN, CIFAR10_STD, Split, load_cifar10, split_indices
from wsnas.data.cifar100 import CIFAR100_MEAN, CIFAR100_STD, load_cifar100
from wsnas.data.digits import DIGITS_MEAN, DIGITS_STD, load_digits_splits
from wsnas.data.imagenet16 import IMAGENET16_MEAN, IMAGENET16_STD, load_imagenet16_120
from wsnas.data.nb201_splits import HALVES, has_halves, nb201_halves

if TYPE_CHECKING:  # torch only where batches are made, so commands that need no tensors start fast
    import torch

    from wsnas.data.device_loader import DeviceLoader

EVAL_SPLITS = ("test", "valid", "train", *HALVES)
"""data.eval_split values: the official test set, the seeded hold-out, the training images,
and NAS-Bench-201's fixed halves of the test set (cifar100, imagenet16_120 only)."""


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    image_size: int
    mean: Sequence[float]
    std: Sequence[float]
    pad: int
    """Zero padding of the random-crop augmentation."""
    flip: bool
    """Horizontal flips in the augmentation (not for digits: a flipped 2 is no 2)."""
    read: Callable[[DataConfig], tuple[Split, Split]] = field(repr=False)
    """(train, test) in the data set's official split."""


def _read_cifar10(cfg: DataConfig) -> tuple[Split, Split]:
    return load_cifar10(cfg.root, cfg.download)


def _read_cifar100(cfg: DataConfig) -> tuple[Split, Split]:
    return load_cifar100(cfg.root, cfg.download)


def _read_imagenet16_120(cfg: DataConfig) -> tuple[Split, Split]:
    return load_imagenet16_120(cfg.root, cfg.download)


def _read_digits(cfg: DataConfig) -> tuple[Split, Split]:
    return load_digits_splits()


DATASETS: dict[str, DatasetInfo] = {
    "cifar10": DatasetInfo("cifar10", 10, 32, CIFAR10_MEAN, CIFAR10_STD, 4, True, _read_cifar10),
    "cifar100": DatasetInfo("cifar100", 100, 32, CIFAR100_MEAN, CIFAR100_STD, 4, True, _read_cifar100),
    "imagenet16_120": DatasetInfo(
        "imagenet16_120", 120, 16, IMAGENET16_MEAN, IMAGENET16_STD, 2, True, _read_imagenet16_120
    ),
    "digits": DatasetInfo("digits", 10, 8, DIGITS_MEAN, DIGITS_STD, 1, False, _read_digits),
}
"""CIFAR-100 and ImageNet16 normalise with the statistics NAS-Bench-201's training used
(xautodl's get_datasets); both augment like it: random crop (pad 4 / pad 2) + flip."""


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"data.name={name!r}: known data sets are {', '.join(DATASETS)}") from None


@dataclass(frozen=True, eq=False)
class Splits:
    """The arrays a run needs: train (after portion/hold-out), optional valid, test."""

    train: Split
    valid: Split | None
    test: Split
    train_idx: np.ndarray
    """Indices of `train` into the official training images (for the record)."""
    valid_idx: np.ndarray
    info: DatasetInfo
    halves: dict[str, np.ndarray] | None = None
    """NAS-Bench-201's x-valid/x-test indices into `test` (read when data.eval_split names one)."""

    def eval_split(self, name: str = "test") -> Split:
        """The split the networks are scored on (config data.eval_split)."""
        if name in HALVES:
            if self.halves is None:
                raise DataError(f"data.eval_split={name}: {halves_hint(self.info.name)}")
            return _take(self.test, self.halves[name])
        if name == "test":
            return self.test
        if name == "train":
            return self.train
        if name == "valid":
            if self.valid is None:
                raise DataError("data.eval_split=valid needs data.valid_size > 0")
            return self.valid
        raise DataError(f"data.eval_split={name!r}: allowed values: {', '.join(EVAL_SPLITS)}")

    def loader(
        self,
        split: Split,
        batch_size: int,
        *,
        train: bool,
        device: torch.device,
        seed: int,
        augment: bool = True,
        channels_last: bool = False,
    ) -> DeviceLoader:
        """Training batches (shuffled, augmented, full batches only) or evaluation batches."""
        from wsnas.data.device_loader import DeviceLoader

        info = self.info
        return DeviceLoader(
            split.x,
            split.y,
            batch_size=batch_size,
            device=device,
            shuffle=train,
            drop_last=train,
            augment=train and augment,
            seed=seed,
            channels_last=channels_last,
            pad=info.pad,
            flip=info.flip,
            mean=info.mean,
            std=info.std,
        )


def _take(split: Split, idx: np.ndarray) -> Split:
    if len(idx) == len(split.y) and np.array_equal(idx, np.arange(len(idx))):
        return split
    return Split(split.x[idx], split.y[idx])


def load_splits(cfg: DataConfig, seed: int) -> Splits:
    """Read the data set named by the config and cut the seeded train/valid split."""
    info = dataset_info(cfg.name)
    train, test = info.read(cfg)
    train_idx, valid_idx = split_indices(len(train.y), cfg.valid_size, cfg.train_portion, seed)
    valid = _take(train, valid_idx) if len(valid_idx) else None
    halves = None
    if cfg.eval_split in HALVES:
        if not has_halves(info.name):
            raise DataError(f"data.eval_split={cfg.eval_split}: {halves_hint(info.name)}")
        halves = nb201_halves(info.name, len(test.y), f"data.name={info.name} (data.root={cfg.root})")
    splits = Splits(_take(train, train_idx), valid, test, train_idx, valid_idx, info, halves)
    if cfg.eval_split == "valid" and valid is None:
        raise DataError("data.eval_split=valid needs data.valid_size > 0")
    return splits


def halves_hint(name: str) -> str:
    """Why data set NAME has no x-valid/x-test."""
    return (
        f"data.name={name} has no NAS-Bench-201 x-valid/x-test halves; they exist for cifar100 and "
        "imagenet16_120 (for cifar10 use data.eval_split=test: the benchmark's cifar10/ori-test)"
    )
