"""ImageNet16-120: the downsampled 16x16 ImageNet files NAS-Bench-201 uses, first 120 classes.

Layout: ROOT/ImageNet16/{train_data_batch_1..10, val_data}, as distributed with the
downsampled ImageNet ("Imagenet16_train", "Imagenet16_val"; Chrabaszcz et al. 2017): each a
pickled dict {"data": uint8 [N, 768] (R, G, B planes of 16x16), "labels": 1-based ints 1..1000,
train batches also "mean"}. NAS-Bench-201 keeps the images with label <= 120 (151,700
training and 6,000 validation images) and trains on label - 1. The files cannot be
downloaded automatically (ImageNet's terms): they are put there by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from wsnas.core.errors import DataError
from wsnas.data.archive import missing_files
from wsnas.data.batches import Split, concat, image_batch, read_pickled_dict

FOLDER = "ImageNet16"
TRAIN_FILES = tuple(f"train_data_batch_{i}" for i in range(1, 11))
VALID_FILE = "val_data"
ALL_FILES = (*TRAIN_FILES, VALID_FILE)
NUM_CLASSES = 120
"""Classes kept: labels 1..120 of the 1,000."""
ALL_CLASSES = 1000
IMAGE_SHAPE = (3, 16, 16)
OFFICIAL_SIZES = {"train": 151_700, "valid": 6_000}
"""Images with label <= 120 in the official files (NAS-Bench-201 asserts the training count)."""
IMAGENET16_MEAN = tuple(x / 255 for x in (122.68, 116.66, 104.01))
"""Per-channel (R, G, B) mean NAS-Bench-201's training normalised ImageNet16 with (xautodl's figures)."""
IMAGENET16_STD = tuple(x / 255 for x in (63.22, 61.26, 65.09))
WHAT = "ImageNet16-120"
_KIND = "a downsampled-ImageNet 16x16 python file"
_HINT = "copy the file again from the original download"


def _read_kept(path: Path) -> Split:
    """The images of one file with label <= 120, labels shifted to 0..119 (file order kept)."""
    d = read_pickled_dict(path, WHAT, _KIND, _HINT)
    batch = image_batch(d, path, WHAT, b"labels", IMAGE_SHAPE, (1, ALL_CLASSES))
    keep = batch.y <= NUM_CLASSES
    return Split(np.ascontiguousarray(batch.x[keep]), batch.y[keep] - 1)


def load_imagenet16_120(root: str | os.PathLike, download: bool = False) -> tuple[Split, Split]:
    """(train, valid) of the 120 kept classes from ROOT/ImageNet16; DOWNLOAD cannot fetch these."""
    root = Path(root).expanduser()
    folder = root / FOLDER
    missing = missing_files(folder, ALL_FILES)
    if missing:
        found = (
            f"folder {folder} lacks {', '.join(missing)}"
            if folder.is_dir()
            else (f"folder {folder} does not exist")
        )
        auto = " (data.download cannot fetch it: ImageNet is distributed by hand)" if download else ""
        raise DataError(
            f"{WHAT} not found: {found}{auto}. Put the downsampled ImageNet 16x16 files "
            f"({', '.join(ALL_FILES)}; from image-net.org's 'Imagenet16_train' and 'Imagenet16_val' "
            f"downloads, the files NAS-Bench-201 uses) in {folder} (data.root={root})"
        )
    train = concat([_read_kept(folder / n) for n in TRAIN_FILES])  # one file at a time: ~100 MB each
    valid = _read_kept(folder / VALID_FILE)
    for split, name in ((train, "training"), (valid, "validation")):
        if not len(split.y):
            raise DataError(f"{WHAT} files in {folder}: no {name} image has a label <= {NUM_CLASSES}")
    return train, valid
