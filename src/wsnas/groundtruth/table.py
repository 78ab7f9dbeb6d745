"""The ground-truth table: one row per benchmark cell with known accuracy.

Importing an official benchmark file takes seconds to minutes, so the result is
kept as a small `.npz` cache (no pickle) that loads in milliseconds. The table is
space-agnostic: NB201, NB101 and DARTS-NDS readers all produce one.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from wsnas.core.atomic import atomic_write
from wsnas.core.errors import BenchmarkError

FORMAT = "wsnas-benchmark"
FORMAT_VERSION = 1
COLUMNS: tuple[str, ...] = ("index", "arch", "canonical", "acc", "params", "flops")
"""Arrays stored per row; `meta` (a 1-element JSON string array) holds the rest."""
REQUIRED_META: tuple[str, ...] = ("space", "metric", "schedule")
_STRING_COLUMNS = ("arch", "canonical")
_KINDS = {"index": "i", "arch": "U", "canonical": "U", "acc": "f", "params": "f", "flops": "f"}


class Codec(Protocol):
    """What a table needs of its space to accept any spelling of an arch string."""

    def parse(self, text: str) -> Any: ...

    def format(self, arch: Any) -> str: ...


class Benchmark:
    """Read-only ground truth: official index, arch string, canonical id, accuracy.

    Rows are in official index order and hold only cells whose ground truth is
    known. Columns are attributes (`index`, `arch`, `canonical`, `acc`, `params`,
    `flops`; read-only numpy arrays); `acc_of(key)` looks one cell up.
    `rank` counts rows with strictly higher accuracy (0 = best, ties share the
    smaller rank), which is the r of the paper's P>R with r_max = `size`.
    """

    def __init__(
        self,
        index: Iterable[int] | np.ndarray,
        arch: Iterable[str] | np.ndarray,
        canonical: Iterable[str] | np.ndarray,
        acc: Iterable[float] | np.ndarray,
        params: Iterable[float] | np.ndarray | None = None,
        flops: Iterable[float] | np.ndarray | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        acc_arr = np.array(list(acc) if not isinstance(acc, np.ndarray) else acc, np.float64)
        n = len(acc_arr)
        cols = {
            "index": np.array(index, dtype=np.int64),
            "arch": _str_array(arch),
            "canonical": _str_array(canonical),
            "acc": acc_arr,
            "params": np.full(n, np.nan) if params is None else np.array(params, np.float64),
            "flops": np.full(n, np.nan) if flops is None else np.array(flops, np.float64),
        }
        self._init(cols, dict(meta or {}), "benchmark table")

    def _init(self, cols: dict[str, np.ndarray], meta: dict[str, Any], where: str) -> None:
        self._cols = {c: _frozen(cols[c]) for c in COLUMNS}
        self.index: np.ndarray = self._cols["index"]
        self.arch: np.ndarray = self._cols["arch"]
        self.canonical: np.ndarray = self._cols["canonical"]
        self.acc: np.ndarray = self._cols["acc"]
        self.params: np.ndarray = self._cols["params"]
        self.flops: np.ndarray = self._cols["flops"]
        self._meta = meta
        self._by_arch: dict[str, int] | None = None
        self._by_canonical: dict[str, tuple[int, int]] | None = None
        self._ranks: np.ndarray | None = None
        self.codec: Codec | None = None
        """The space's codec (set by `open_benchmark`), so lookups accept any spelling of an arch."""
        self._validate(where, need_meta=where != "benchmark table")

    @property
    def columns(self) -> Mapping[str, np.ndarray]:
        """Read-only column arrays by name: index, arch, canonical, acc, params, flops."""
        return MappingProxyType(self._cols)

    # -- metadata ---------------------------------------------------------------

    @property
    def meta(self) -> dict[str, Any]:
        """A copy of the metadata (space, metric, schedule, source, ...)."""
        return json.loads(json.dumps(self._meta))

    @property
    def space(self) -> str:
        """The space the table belongs to (its codec reads the archs)."""
        return str(self._meta.get("space", ""))

    @property
    def metric(self) -> str:
        """The GT metric of the table, e.g. `cifar10/ori-test`."""
        return str(self._meta.get("metric", ""))

    @property
    def schedule(self) -> str:
        """The benchmark's training schedule the GT comes from, e.g. `200` (epochs)."""
        return str(self._meta.get("schedule", ""))

    @property
    def source(self) -> str | None:
        """The file the table was imported from, if recorded."""
        return self._meta.get("source")

    def with_meta(self, **updates: Any) -> Benchmark:
        """Same rows, metadata updated (the arrays are shared, not copied)."""
        new = object.__new__(Benchmark)
        new._init(dict(self._cols), {**self._meta, **updates}, "benchmark table")
        new._by_arch, new._by_canonical, new._ranks = self._by_arch, self._by_canonical, self._ranks
        new.codec = self.codec
        return new

    def bind(self, codec: Codec) -> Benchmark:
        """Use CODEC (the table's space) to normalise arch strings in lookups; returns self."""
        self.codec = codec
        return self

    # -- size and lookups -------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of rows (cells with ground truth): r_max of P>R."""
        return int(self._cols["acc"].shape[0])

    def __len__(self) -> int:
        return self.size

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return key in self._arch_map() or key in self._canonical_map()

    def __repr__(self) -> str:
        return (
            f"Benchmark(space={self.space!r}, metric={self.metric!r}, "
            f"schedule={self.schedule!r}, size={self.size})"
        )

    def _arch_map(self) -> dict[str, int]:
        if self._by_arch is None:
            self._by_arch = {a: i for i, a in enumerate(self._cols["arch"].tolist())}
        return self._by_arch

    def _canonical_map(self) -> dict[str, tuple[int, int]]:
        """canonical id -> (first row in official order, number of rows)."""
        if self._by_canonical is None:
            first: dict[str, int] = {}
            count: dict[str, int] = {}
            for i, c in enumerate(self._cols["canonical"].tolist()):
                first.setdefault(c, i)
                count[c] = count.get(c, 0) + 1
            self._by_canonical = {c: (first[c], count[c]) for c in first}
        return self._by_canonical

    def _rank_array(self) -> np.ndarray:
        if self._ranks is None:
            acc = self._cols["acc"]
            self._ranks = _frozen(self.size - np.searchsorted(np.sort(acc), acc, side="right"))
        return self._ranks

    def row(self, key: str) -> int:
        """Row position of an arch string, or of the first row of a canonical id."""
        by_arch = self._arch_map()
        if key in by_arch:
            return by_arch[key]
        by_canon = self._canonical_map()
        if key in by_canon:
            return by_canon[key][0]
        normal = self._normalise(key)
        if normal is not None and normal in by_arch:
            return by_arch[normal]
        raise BenchmarkError(
            f"{self.space or 'benchmark'} ground truth ({self.metric}, schedule "
            f"{self.schedule}) has no row for {key!r}: not an arch string with ground "
            f"truth nor a canonical id of this table"
        )

    def rows(self, keys: Iterable[str]) -> np.ndarray:
        """Row positions of many keys (for vectorised access to the columns)."""
        return np.fromiter((self.row(k) for k in keys), dtype=np.int64)

    def _normalise(self, key: str) -> str | None:
        """Re-format KEY with the bound codec; raises the space's ArchError if malformed."""
        if self.codec is None:
            return None
        return self.codec.format(self.codec.parse(key))

    def query(self, key: str) -> dict[str, Any]:
        """Everything about one cell; KEY is an arch string or a canonical id.

        A canonical id answers with its first row in official order; `count` says
        how many rows (isomorphic encodings with ground truth) share that id.
        Unknown params/flops are None.
        """
        return self._record(self.row(key))

    def _record(self, i: int) -> dict[str, Any]:
        c = self._cols
        canon = str(c["canonical"][i])
        return {
            "index": int(c["index"][i]),
            "arch": str(c["arch"][i]),
            "canonical": canon,
            "acc": float(c["acc"][i]),
            "rank": int(self._rank_array()[i]),
            "params": _opt(c["params"][i]),
            "flops": _opt(c["flops"][i]),
            "count": self._canonical_map()[canon][1],
        }

    def acc_of(self, key: str) -> float:
        """Ground-truth accuracy (%) of an arch string or canonical id."""
        return float(self._cols["acc"][self.row(key)])

    def rank(self, key: str) -> int:
        """Rows with strictly higher accuracy than KEY's (0 = best)."""
        return int(self._rank_array()[self.row(key)])

    def ranks(self) -> np.ndarray:
        """Rank of every row (read-only)."""
        return self._rank_array()

    def best(self) -> dict[str, Any]:
        """The highest-accuracy row (the first in official order on ties)."""
        if self.size == 0:
            raise BenchmarkError("benchmark table is empty")
        return self._record(int(np.argmax(self._cols["acc"])))

    def ids(self) -> list[str]:
        """Unique canonical ids with ground truth, in official order of first row."""
        return list(self._canonical_map())

    # -- persistence ------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write one `.npz` atomically: a temp file in the same folder, then rename."""
        path = Path(path)
        missing = [k for k in REQUIRED_META if k not in self._meta]
        if missing:
            raise BenchmarkError(f"cannot save benchmark to {path}: metadata lacks {missing}")
        meta = {**self._meta, "format": FORMAT, "format_version": FORMAT_VERSION}
        arrays = dict(self._cols)
        for c in _STRING_COLUMNS:  # utf-8 bytes: a quarter of numpy's 4-byte unicode
            arrays[c] = np.char.encode(arrays[c], "utf-8") if arrays[c].size else arrays[c]
        arrays["meta"] = np.array([json.dumps(meta, sort_keys=True)])
        with atomic_write(path, fsync=True) as f:
            _write_npz(f, arrays)
        self._meta = meta
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Benchmark:
        """Read and validate a cache written by `save`; BenchmarkError names the file."""
        path = Path(path)
        if not path.is_file():
            raise BenchmarkError(f"benchmark cache {path}: no such file")
        try:
            with np.load(path, allow_pickle=False) as z:
                names = set(z.files)
                missing = [c for c in (*COLUMNS, "meta") if c not in names]
                if missing:
                    raise BenchmarkError(
                        f"benchmark cache {path}: not a wsnas benchmark (missing arrays {', '.join(missing)})"
                    )
                arrays = {c: z[c] for c in (*COLUMNS, "meta")}
            for c in _STRING_COLUMNS:
                arrays[c] = _decode(arrays[c])
        except BenchmarkError:
            raise
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
            raise BenchmarkError(f"benchmark cache {path}: unreadable ({e})") from None
        meta_arr = arrays.pop("meta")
        try:
            meta = json.loads(str(meta_arr.reshape(-1)[0]))
        except (ValueError, IndexError) as e:
            raise BenchmarkError(f"benchmark cache {path}: metadata is not JSON ({e})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise BenchmarkError(f"benchmark cache {path}: not a {FORMAT} file")
        if meta.get("format_version") != FORMAT_VERSION:
            raise BenchmarkError(
                f"benchmark cache {path}: format version {meta.get('format_version')!r}, "
                f"this wsnas reads {FORMAT_VERSION}; re-import it with `wsnas bench import`"
            )
        new = object.__new__(cls)
        new._init(arrays, meta, f"benchmark cache {path}")
        return new

    def _validate(self, where: str, need_meta: bool) -> None:
        acc = self._cols["acc"]
        n = acc.shape[0] if acc.ndim == 1 else -1
        for c in COLUMNS:
            a = self._cols[c]
            if a.ndim != 1 or a.shape[0] != n:
                raise BenchmarkError(f"{where}: column {c!r} has shape {a.shape}, expected ({n},)")
            if a.dtype.kind != _KINDS[c] and not (n == 0 and c in ("arch", "canonical")):
                raise BenchmarkError(f"{where}: column {c!r} has dtype {a.dtype}")
        if need_meta and (missing := [k for k in REQUIRED_META if k not in self._meta]):
            raise BenchmarkError(f"{where}: metadata lacks {', '.join(missing)}")
        if not np.isfinite(acc).all():
            bad = int(np.flatnonzero(~np.isfinite(acc))[0])
            raise BenchmarkError(f"{where}: accuracy of row {bad} is not a finite number")
        if n and len(np.unique(self._cols["index"])) != n:
            raise BenchmarkError(f"{where}: official indices are not unique")
        if n and len(set(self._cols["arch"].tolist())) != n:  # set: 15x faster than np.unique
            raise BenchmarkError(f"{where}: arch strings are not unique")


def _write_npz(f: Any, arrays: dict[str, np.ndarray]) -> None:
    """Uncompressed: loading 15,625 rows must cost milliseconds, not a decompression."""
    np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as its allow_pickle


def _decode(a: np.ndarray) -> np.ndarray:
    """Stored utf-8 bytes -> unicode (ASCII fast path)."""
    if a.dtype.kind != "S":
        return a
    try:
        return a.astype(str)
    except UnicodeDecodeError:
        return np.char.decode(a, "utf-8")


def _str_array(values: Iterable[str] | np.ndarray) -> np.ndarray:
    a = np.array(values)
    if a.dtype.kind == "U":
        return a
    if a.size == 0:
        return np.zeros(0, dtype="<U1")
    if a.dtype.kind == "O" and all(isinstance(v, str) for v in a.tolist()):
        return a.astype(str)
    raise BenchmarkError(f"benchmark table: expected strings, got dtype {a.dtype}")


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _opt(x: float) -> float | None:
    return None if np.isnan(x) else float(x)
