"""CIFAR-10 from the official "python version" archive, read without trusting pickle.

Layout: ROOT/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}; each
batch is a pickled dict {b"data": uint8 [10000, 3072] (R, G, B planes of 32x32),
b"labels": list of int, b"filenames", b"batch_label"}. The official files were written
by Python 2 (byte strings, `numpy.core.multiarray._reconstruct`); the copies made by
../shared/data/cifar10/make_python_batches.py by Python 3 (`_codecs.encode` for bytes,
`numpy._core.multiarray._reconstruct`). Both are read by the shared allowlist unpickler
(`wsnas.data.batches`), so a tampered file cannot run code. Also: the seeded train/valid split.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.core.errors import DataError
from wsnas.data.archive import fetch_archive, missing_message, read_or_fetch
from wsnas.data.batches import Split, concat, image_batch, read_pickled_dict

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
"""Per-channel (R, G, B) mean of the 50,000 CIFAR-10 training images, pixels scaled to [0, 1]."""
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
"""Per-channel std over all pixels of the training images (the figures most code uses)."""

__all__ = ["CIFAR10_MD5", "CIFAR10_URL", "Split", "download_cifar10", "load_cifar10", "split_indices"]

BATCH_DIR = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
META_FILE = "batches.meta"
ALL_FILES = (*TRAIN_FILES, *TEST_FILES, META_FILE)
NUM_CLASSES = 10
IMAGE_SHAPE = (3, 32, 32)
CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
_urlopen: Callable[..., Any] = urllib.request.urlopen
"""Indirection so tests can serve a local archive instead of the network."""
WHAT = "CIFAR-10"
_HINT = "delete the folder and fetch it again"


def _read_batch(path: Path) -> Split:
    d = read_pickled_dict(path, WHAT, "a CIFAR-10 python batch", _HINT)
    return image_batch(d, path, WHAT, b"labels", IMAGE_SHAPE, (0, NUM_CLASSES - 1))


def _missing_message(root: Path, missing: list[str]) -> str:
    return missing_message(
        root,
        what=WHAT,
        official="CIFAR-10 python version",
        folder=BATCH_DIR,
        files=ALL_FILES,
        missing=missing,
        archive="cifar-10-python.tar.gz",
        url=CIFAR10_URL,
        md5=CIFAR10_MD5,
    )


def load_cifar10(root: str | os.PathLike, download: bool = False) -> tuple[Split, Split]:
    """(train 50,000, test 10,000) from ROOT/cifar-10-batches-py; fetch it first if allowed.

    Only a missing folder is downloaded: an incomplete one is left for the user to
    inspect, since it is not ours to delete.
    """
    root = Path(root).expanduser()
    folder = read_or_fetch(
        root,
        download,
        folder=BATCH_DIR,
        files=ALL_FILES,
        fetch=download_cifar10,
        message=lambda missing: _missing_message(root, missing),
    )
    read_pickled_dict(folder / META_FILE, WHAT, "a CIFAR-10 python batch", _HINT)  # a broken meta file
    train = concat([_read_batch(folder / n) for n in TRAIN_FILES])
    test = concat([_read_batch(folder / n) for n in TEST_FILES])
    return train, test


def download_cifar10(root: str | os.PathLike, url: str | None = None, md5: str | None = None) -> Path:
    """Fetch the official archive into ROOT/cifar-10-batches-py atomically; returns that folder."""
    return fetch_archive(
        Path(root).expanduser(),
        what=WHAT,
        url=url or CIFAR10_URL,
        md5=md5 or CIFAR10_MD5,
        folder=BATCH_DIR,
        files=ALL_FILES,
        opener=_urlopen,
    )


# ---------------------------------------------------------------------------------------------
# Splits


def split_indices(
    n_train: int, valid_size: int, train_portion: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, valid_idx), both sorted int64, from one seeded permutation of n_train.

    The first valid_size permuted images are held out; train uses the first
    round(train_portion * rest) of the remainder, so for one seed a smaller portion
    is a subset of a larger one and the valid set never changes with the portion.
    """
    if not 0 <= valid_size < n_train:
        raise DataError(f"data.valid_size={valid_size} must be in 0..{n_train - 1}")
    if not 0.0 < train_portion <= 1.0:
        raise DataError(f"data.train_portion={train_portion} must be in (0, 1]")
    rest = n_train - valid_size
    n_use = max(1, min(rest, round(train_portion * rest)))
    if valid_size == 0 and n_use == n_train:
        return np.arange(n_train, dtype=np.int64), np.empty(0, dtype=np.int64)
    # A dedicated stream: the split must not move when other seeded draws change.
    perm = np.random.default_rng([seed, 0x5EED_DA7A]).permutation(n_train)
    valid = np.sort(perm[:valid_size])
    train = np.sort(perm[valid_size : valid_size + n_use])
    return train.astype(np.int64), valid.astype(np.int64)
