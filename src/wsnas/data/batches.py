"""Official python-format image batches (CIFAR-10, CIFAR-100, ImageNet16), read without trusting pickle.

Every such file is a pickled dict holding a uint8 array [N, C*H*W] of R, G, B planes and a
list of integer labels. Files written by Python 2 (the official CIFAR archives) come back
with byte-string keys, Python 3 files with str keys; both are read through the shared
allowlist unpickler (`wsnas.groundtruth.unpickle`), so a tampered file cannot run code, and every
failure is a DataError that names the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from wsnas.core.errors import DataError
from wsnas.groundtruth.unpickle import RefusedGlobal, loads_with_arrays


class Split(NamedTuple):
    """Images uint8 [N, 3, H, W] (NCHW, RGB) and labels int64 [N]."""

    x: np.ndarray
    y: np.ndarray


def read_pickled_dict(path: Path, what: str, kind: str, hint: str) -> dict[bytes, Any]:
    """The dict pickled in PATH, keys as bytes. WHAT names the data set ("CIFAR-100"), KIND the
    file it should be ("a CIFAR-100 python file"), HINT what to do about a broken one."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{what} file {path}: cannot read ({e.strerror})") from None
    try:
        obj = loads_with_arrays(raw)
    except RefusedGlobal as e:
        raise DataError(
            f"{what} file {path} is corrupt or not {kind}: global '{e.qualname}' is not allowed "
            "(only numpy arrays and plain containers are read)"
        ) from None
    except Exception as e:  # truncated/garbage pickles raise many different types
        raise DataError(
            f"{what} file {path} is corrupt or not {kind} ({type(e).__name__}: {e}); {hint}"
        ) from None
    if not isinstance(obj, dict):
        raise DataError(f"{what} file {path}: expected a pickled dict, got {type(obj).__name__}")
    return {k.encode("latin1") if isinstance(k, str) else k: v for k, v in obj.items()}


def image_batch(
    d: dict[bytes, Any],
    path: Path,
    what: str,
    label_key: bytes,
    shape: tuple[int, int, int],
    labels: tuple[int, int],
) -> Split:
    """(images [N, *SHAPE], labels) of one read batch; labels must lie in LABELS (inclusive)."""
    for key in (b"data", label_key):
        if key not in d:
            raise DataError(f"{what} file {path}: key {key!r} missing (has {sorted(d)})")
    data, raw_labels = d[b"data"], d[label_key]
    size = int(np.prod(shape))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != size:
        desc = f"{data.dtype} {list(data.shape)}" if isinstance(data, np.ndarray) else type(data)
        raise DataError(f"{what} file {path}: b'data' must be uint8 [N, {size}], got {desc}")
    try:
        y = np.asarray(raw_labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"{what} file {path}: {label_key!r} is not a list of integers") from None
    if y.shape != (data.shape[0],):
        raise DataError(f"{what} file {path}: {y.size} labels for {data.shape[0]} images")
    lo, hi = labels
    if y.size and (y.min() < lo or y.max() > hi):
        got = f"{int(y.min())}..{int(y.max())}"
        raise DataError(f"{what} file {path}: labels must be in {lo}..{hi}, got {got}")
    return Split(data.reshape(-1, *shape), y)


def concat(parts: list[Split]) -> Split:
    """One split from batches read in order."""
    if len(parts) == 1:
        return parts[0]
    return Split(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]))
