"""NAS-Bench-201's fixed halves of the CIFAR-100 test set and the ImageNet16-120 validation set.

NAS-Bench-201 trains on the official training images and scores each cell on three sets:
the whole original test set ("ori-test") and two fixed halves of it, "x-valid" and "x-test".
The halves are published as index lists in the benchmark's repository,
configs/nas-benchmark/{cifar100-test-split.txt, imagenet-16-120-test-split.txt}: a JSON object
{"xvalid": ["int", ["1", "3", ...]], "xtest": ["int", [...]]} of positions in the test set's
file order (ImageNet16-120: in the order of the kept validation images, label <= 120).

wsnas ships them as one small table (`nb201_test_splits.npz`: per data set, a packed bit
mask of the x-valid half; x-test is the rest) made by `python -m wsnas.data.nb201_splits
CIFAR100_FILE IMAGENET16_FILE`, which reads the official files and refuses anything that
is not two disjoint halves covering the set. The source (repository, commit, paths) is
recorded inside the table and printed by `source()`.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.core.atomic import atomic_write
from wsnas.core.errors import DataError

TABLE = Path(__file__).resolve().parent / "nb201_test_splits.npz"
HALVES = ("x-valid", "x-test")
"""The names the benchmark's metrics use (e.g. cifar100/x-test)."""
OFFICIAL = {
    "cifar100": ("configs/nas-benchmark/cifar100-test-split.txt", 10_000),
    "imagenet16_120": ("configs/nas-benchmark/imagenet-16-120-test-split.txt", 6_000),
}
"""data.name -> (path of the official index file in NAS-Bench-201's repository, images it splits)."""
SOURCE_REPO = "https://github.com/D-X-Y/AutoDL-Projects"
SOURCE_COMMIT = "a84f48388215d043d94c12c912e6a1defafca891"
_KEYS = {"xvalid": "x-valid", "xtest": "x-test"}


def parse_split_file(text: str, where: str) -> dict[str, np.ndarray]:
    """{"x-valid": idx, "x-test": idx} (int64, as listed) from an official split file's text."""
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise DataError(f"NAS-Bench-201 split file {where}: not JSON ({e})") from None
    if not isinstance(obj, dict) or set(obj) != set(_KEYS):
        got = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise DataError(f"NAS-Bench-201 split file {where}: expected keys xvalid, xtest, got {got}")
    out = {}
    for key, half in _KEYS.items():
        entry = obj[key]
        typed = isinstance(entry, list) and len(entry) == 2 and entry[0] == "int"
        if not (typed and isinstance(entry[1], list)):
            raise DataError(f'NAS-Bench-201 split file {where}: "{key}" must be ["int", [indices]]')
        try:
            idx = np.array([int(str(v)) for v in entry[1]], dtype=np.int64)
        except ValueError:
            raise DataError(f'NAS-Bench-201 split file {where}: "{key}" holds a non-integer index') from None
        out[half] = idx
    return out


def check_halves(halves: dict[str, np.ndarray], n: int, where: str) -> np.ndarray:
    """The x-valid mask over N images; DataError unless the halves are disjoint, in range and cover all."""
    mask = np.zeros(n, dtype=np.int8)
    for half in HALVES:
        idx = halves[half]
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise DataError(f"NAS-Bench-201 split file {where}: {half} index out of 0..{n - 1}")
        if np.unique(idx).size != idx.size:
            raise DataError(f"NAS-Bench-201 split file {where}: {half} repeats an index")
        np.add.at(mask, idx, 1)
    if not (mask == 1).all():
        raise DataError(
            f"NAS-Bench-201 split file {where}: x-valid and x-test must split the {n} images into "
            f"two disjoint halves ({int((mask == 0).sum())} in neither, {int((mask > 1).sum())} in both)"
        )
    valid = np.zeros(n, dtype=bool)
    valid[halves["x-valid"]] = True
    return valid


def make_table(files: dict[str, Path]) -> bytes:
    """The shipped table's bytes from the official files (data.name -> path)."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"repository": SOURCE_REPO, "commit": SOURCE_COMMIT, "files": {}}
    for name, path in files.items():
        official, n = OFFICIAL[name]
        raw = Path(path).read_bytes()
        mask = check_halves(parse_split_file(raw.decode(), str(path)), n, str(path))
        arrays[f"{name}_xvalid_bits"] = np.packbits(mask)
        arrays[f"{name}_n"] = np.array(n, dtype=np.int64)
        meta["files"][name] = {"path": official, "sha256": hashlib.sha256(raw).hexdigest(), "chars": len(raw)}
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub: **kwds as allow_pickle
    return buf.getvalue()


@cache
def _table() -> dict[str, np.ndarray]:
    try:
        with np.load(TABLE, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise DataError(
            f"wsnas's NAS-Bench-201 split table {TABLE} cannot be read ({e}); reinstall wsnas"
        ) from None


def source() -> dict:
    """Where the shipped halves come from: repository, commit, file of each data set."""
    return json.loads(str(_table()["meta"]))


def has_halves(name: str) -> bool:
    return name in OFFICIAL


def nb201_halves(name: str, n_test: int, where: str) -> dict[str, np.ndarray]:
    """{"x-valid": idx, "x-test": idx} (sorted int64) into data set NAME's test images.

    N_TEST is how many test images were read (from WHERE): the halves only apply to the
    complete official set.
    """
    if name not in OFFICIAL:
        raise DataError(
            f"data.name={name} has no NAS-Bench-201 x-valid/x-test halves (only {', '.join(OFFICIAL)})"
        )
    t = _table()
    n = int(t[f"{name}_n"])
    if n_test != n:
        raise DataError(
            f"{where}: NAS-Bench-201's x-valid/x-test halves index the {n:,} official images, "
            f"but {n_test:,} were read; use the complete official files"
        )
    valid = np.unpackbits(t[f"{name}_xvalid_bits"], count=n).astype(bool)
    return {
        "x-valid": np.flatnonzero(valid).astype(np.int64),
        "x-test": np.flatnonzero(~valid).astype(np.int64),
    }


def main(argv: list[str]) -> int:
    """python -m wsnas.data.nb201_splits CIFAR100_SPLIT_FILE IMAGENET16_SPLIT_FILE [OUT]"""
    if len(argv) not in (2, 3):
        print(main.__doc__, file=sys.stderr)
        return 2
    out = Path(argv[2]) if len(argv) == 3 else TABLE
    data = make_table({"cifar100": Path(argv[0]), "imagenet16_120": Path(argv[1])})
    with atomic_write(out, "wb") as f:
        f.write(data)
    out.chmod(0o644)  # package data: readable by everyone
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover - the maintainers' one-off
    raise SystemExit(main(sys.argv[1:]))
