"""CIFAR-100 from the official "python version" archive (100 fine classes), read without trusting pickle.

Layout: ROOT/cifar-100-python/{train, test, meta}; train and test are pickled dicts
{b"data": uint8 [N, 3072] (R, G, B planes of 32x32), b"fine_labels", b"coarse_labels",
b"filenames", b"batch_label"} with 50,000 and 10,000 images. NAS-Bench-201 trains and
scores on the 100 fine labels, so those are the labels read here.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wsnas.data.archive import fetch_archive, missing_message, read_or_fetch
from wsnas.data.batches import Split, image_batch, read_pickled_dict

FOLDER = "cifar-100-python"
TRAIN_FILE, TEST_FILE, META_FILE = "train", "test", "meta"
ALL_FILES = (TRAIN_FILE, TEST_FILE, META_FILE)
NUM_CLASSES = 100
IMAGE_SHAPE = (3, 32, 32)
CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR100_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"
CIFAR100_MEAN = tuple(x / 255 for x in (129.3, 124.1, 112.4))
"""Per-channel (R, G, B) mean NAS-Bench-201's training normalised CIFAR-100 with (xautodl's figures)."""
CIFAR100_STD = tuple(x / 255 for x in (68.2, 65.4, 70.4))
_urlopen: Callable[..., Any] = urllib.request.urlopen
"""Indirection so tests can serve a local archive instead of the network."""
WHAT = "CIFAR-100"
_KIND = "a CIFAR-100 python file"
_HINT = "delete the folder and fetch it again"


def _read(path: Path) -> Split:
    d = read_pickled_dict(path, WHAT, _KIND, _HINT)
    return image_batch(d, path, WHAT, b"fine_labels", IMAGE_SHAPE, (0, NUM_CLASSES - 1))


def load_cifar100(root: str | os.PathLike, download: bool = False) -> tuple[Split, Split]:
    """(train 50,000, test 10,000) with fine labels from ROOT/cifar-100-python; fetch it first if allowed."""
    root = Path(root).expanduser()
    folder = read_or_fetch(
        root,
        download,
        folder=FOLDER,
        files=ALL_FILES,
        fetch=download_cifar100,
        message=lambda missing: missing_message(
            root,
            what=WHAT,
            official="CIFAR-100 python version",
            folder=FOLDER,
            files=ALL_FILES,
            missing=missing,
            archive="cifar-100-python.tar.gz",
            url=CIFAR100_URL,
            md5=CIFAR100_MD5,
        ),
    )
    read_pickled_dict(folder / META_FILE, WHAT, _KIND, _HINT)  # a broken meta file says the copy is broken
    return _read(folder / TRAIN_FILE), _read(folder / TEST_FILE)


def download_cifar100(root: str | os.PathLike, url: str | None = None, md5: str | None = None) -> Path:
    """Fetch the official archive into ROOT/cifar-100-python atomically; returns that folder."""
    return fetch_archive(
        Path(root).expanduser(),
        what=WHAT,
        url=url or CIFAR100_URL,
        md5=md5 or CIFAR100_MD5,
        folder=FOLDER,
        files=ALL_FILES,
        opener=_urlopen,
    )
