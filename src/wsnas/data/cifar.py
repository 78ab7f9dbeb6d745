"""CIFAR-10 from the official "python version" archive, read without trusting pickle.

Layout: ROOT/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}; each
batch is a pickled dict {b"data": uint8 [10000, 3072] (R, G, B planes of 32x32),
b"labels": list of int, b"filenames", b"batch_label"}. The official files were written
by Python 2 (byte strings, `numpy.core.multiarray._reconstruct`); the copies made by
../shared/data/cifar10/make_python_batches.py by Python 3 (`_codecs.encode` for bytes,
`numpy._core.multiarray._reconstruct`). Both are read by a restricted unpickler that
only rebuilds plain numpy arrays, so a tampered file cannot run code.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from wsnas.errors import DataError

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


class Split(NamedTuple):
    """Images uint8 [N, 3, 32, 32] (NCHW, RGB) and labels int64 [N]."""

    x: np.ndarray
    y: np.ndarray


# ---------------------------------------------------------------------------------------------
# Restricted unpickling


def _reconstruct_fn() -> Callable[..., Any]:
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


def _scalar_fn() -> Callable[..., Any]:
    try:
        from numpy._core.multiarray import scalar
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import scalar  # type: ignore[no-redef]
    return scalar


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """Python 3 protocol-2 pickles store bytes as _codecs.encode(str, 'latin1'); nothing else."""
    norm = encoding.lower().replace("-", "").replace("_", "")
    if norm not in ("latin1", "iso88591", "l1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return text.encode("latin1", errors)


_ALLOWED: dict[tuple[str, str], Callable[[], Any]] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct_fn,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct_fn,
    ("numpy.core.multiarray", "scalar"): _scalar_fn,
    ("numpy._core.multiarray", "scalar"): _scalar_fn,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: _latin1_encode,
}


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only the globals a CIFAR batch needs (numpy array rebuilding, latin1 bytes)."""

    def find_class(self, module: str, name: str) -> Any:
        factory = _ALLOWED.get((module, name))
        if factory is None:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed")
        return factory()


def _unpickle(path: Path) -> dict[bytes, Any]:
    """Load one batch file; any failure becomes a DataError naming the file."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"CIFAR-10 file {path}: cannot read ({e.strerror})") from None
    try:
        obj = _SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:  # truncated/garbage pickles raise many different types
        raise DataError(
            f"CIFAR-10 file {path} is corrupt or not a CIFAR-10 python batch "
            f"({type(e).__name__}: {e}); delete the folder and fetch it again"
        ) from None
    if not isinstance(obj, dict):
        raise DataError(f"CIFAR-10 file {path}: expected a pickled dict, got {type(obj).__name__}")
    return {k.encode("latin1") if isinstance(k, str) else k: v for k, v in obj.items()}


def _read_batch(path: Path) -> Split:
    d = _unpickle(path)
    for key in (b"data", b"labels"):
        if key not in d:
            raise DataError(f"CIFAR-10 file {path}: key {key!r} missing (has {sorted(d)})")
    data, labels = d[b"data"], d[b"labels"]
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != int(np.prod(IMAGE_SHAPE))
    ):
        desc = f"{data.dtype} {list(data.shape)}" if isinstance(data, np.ndarray) else type(data)
        raise DataError(f"CIFAR-10 file {path}: b'data' must be uint8 [N, 3072], got {desc}")
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"CIFAR-10 file {path}: b'labels' is not a list of integers") from None
    if y.shape != (data.shape[0],):
        raise DataError(f"CIFAR-10 file {path}: {y.size} labels for {data.shape[0]} images")
    if y.size and (y.min() < 0 or y.max() >= NUM_CLASSES):
        raise DataError(
            f"CIFAR-10 file {path}: labels must be in 0..{NUM_CLASSES - 1}, "
            f"got {int(y.min())}..{int(y.max())}"
        )
    return Split(data.reshape(-1, *IMAGE_SHAPE), y)


def _read_files(folder: Path, names: tuple[str, ...]) -> Split:
    parts = [_read_batch(folder / n) for n in names]
    if len(parts) == 1:
        return parts[0]
    return Split(np.concatenate([p.x for p in parts]), np.concatenate([p.y for p in parts]))


def _missing_message(root: Path, missing: list[str]) -> str:
    folder = root / BATCH_DIR
    what = (
        f"folder {folder} lacks {', '.join(missing)}"
        if folder.is_dir()
        else f"folder {folder} does not exist"
    )
    hint = (
        f"remove the incomplete folder and set data.download=true to fetch {CIFAR10_URL}"
        if folder.is_dir()
        else f"set data.download=true to fetch {CIFAR10_URL} (md5 {CIFAR10_MD5}) there"
    )
    return (
        f"CIFAR-10 not found: {what}. Put the official 'CIFAR-10 python version' files "
        f"({', '.join(ALL_FILES)}) in {folder} (data.root={root}: extract "
        f"cifar-10-python.tar.gz inside it), or {hint}"
    )


def _missing_files(root: Path) -> list[str]:
    folder = root / BATCH_DIR
    return [n for n in ALL_FILES if not (folder / n).is_file()]


def load_cifar10(root: str | os.PathLike, download: bool = False) -> tuple[Split, Split]:
    """(train 50,000, test 10,000) from ROOT/cifar-10-batches-py; fetch it first if allowed.

    Only a missing folder is downloaded: an incomplete one is left for the user to
    inspect, since it is not ours to delete.
    """
    root = Path(root).expanduser()
    missing = _missing_files(root)
    if missing and download and not (root / BATCH_DIR).exists():
        download_cifar10(root)
        missing = _missing_files(root)
    if missing:
        raise DataError(_missing_message(root, missing))
    folder = root / BATCH_DIR
    _unpickle(folder / META_FILE)  # a broken meta file says the copy is broken
    train, test = _read_files(folder, TRAIN_FILES), _read_files(folder, TEST_FILES)
    return train, test


# ---------------------------------------------------------------------------------------------
# Download


def download_cifar10(root: str | os.PathLike, url: str | None = None, md5: str | None = None) -> Path:
    """Fetch the official archive into ROOT/cifar-10-batches-py atomically; returns that folder.

    Temp file -> md5 check -> safe extraction into a temp folder -> rename, so an
    interrupted or corrupt download never leaves a half folder that looks complete.
    """
    root = Path(root).expanduser()
    url = url or CIFAR10_URL
    md5 = md5 or CIFAR10_MD5
    dest = root / BATCH_DIR
    try:
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=root, prefix=".cifar10-download-"))
    except OSError as e:
        raise DataError(f"CIFAR-10 download: cannot write in data.root={root} ({e})") from None
    try:
        archive = work / "cifar-10-python.tar.gz"
        print(f"wsnas: downloading CIFAR-10 from {url} to {root}", file=sys.stderr)
        digest = hashlib.md5()
        try:
            with _urlopen(url, timeout=60) as resp, archive.open("wb") as f:
                while chunk := resp.read(1 << 20):
                    digest.update(chunk)
                    f.write(chunk)
        except OSError as e:
            raise DataError(
                f"CIFAR-10 download from {url} failed ({e}); download it by hand and extract it in {root}"
            ) from None
        if digest.hexdigest() != md5:
            raise DataError(
                f"CIFAR-10 download from {url}: md5 {digest.hexdigest()} != expected {md5} "
                "(corrupt or changed file); nothing was kept"
            )
        extracted = work / "x"
        extracted.mkdir()
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = _safe_members(tar)
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: checked twice
                    tar.extractall(extracted, members=members, filter="data")
                else:  # pragma: no cover - older 3.11 patch releases
                    tar.extractall(extracted, members=members)
        except (tarfile.TarError, OSError, EOFError, ValueError) as e:
            raise DataError(f"CIFAR-10 archive from {url} cannot be extracted: {e}") from None
        missing = [n for n in ALL_FILES if not (extracted / BATCH_DIR / n).is_file()]
        if missing:
            raise DataError(f"CIFAR-10 archive from {url} lacks {BATCH_DIR}/{missing[0]}")
        try:
            os.rename(extracted / BATCH_DIR, dest)
        except OSError:
            if not dest.is_dir():  # else another process finished first: keep theirs
                raise
        return dest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Plain files and folders under cifar-10-batches-py/ only: no links, '..' or absolute paths."""
    members = []
    for m in tar.getmembers():
        parts = Path(m.name).parts
        if not parts or parts[0] != BATCH_DIR:
            continue  # not part of the data set
        if ".." in parts or not (m.isfile() or m.isdir()):
            raise tarfile.TarError(f"unsafe member {m.name!r}")
        members.append(m)
    return members


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
