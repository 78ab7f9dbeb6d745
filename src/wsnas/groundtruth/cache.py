"""Where converted ground-truth tables live, and when they must be rebuilt.

A cache file is keyed by (space, metric, schedule) and records the source it was
imported from (path, size, mtime, sha256). Opening a benchmark trusts the cache
while the source's size and mtime are unchanged (no hashing); if they changed,
the source is re-hashed: same content -> the cache is re-stamped, new content ->
it is re-imported. A source that is gone leaves the cache in use (official files
are several GB; users may delete them after importing).

Folder sources (NATS-Bench "simple" archives, one file per cell) are checksummed
over the bytes of their `meta*` files plus the sorted list of (name, size) of all
other files directly inside: hashing 15,625 record files would take minutes and
a record is never rewritten in place without changing its size or mtime.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

from wsnas.core.cachedir import cache_root
from wsnas.core.errors import BenchmarkError
from wsnas.core.version import VERSION as __version__
from wsnas.groundtruth.loaders import HasGroundTruth
from wsnas.groundtruth.table import Benchmark

_CHUNK = 1 << 20


def _safe(part: str) -> str:
    """File-name-safe spelling: '/' -> '__', anything unusual -> '_'."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", str(part).replace("/", "__")).lstrip(".")
    return s or "_"


def cache_path(space: str, metric: str, schedule: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """e.g. <root>/nb201/cifar10__ori-test__200.npz"""
    return cache_root(cache_dir) / _safe(space) / f"{_safe(metric)}__{_safe(schedule)}.npz"


# -- source fingerprints ----------------------------------------------------------


def _is_meta(name: str) -> bool:
    return name.startswith("meta")


def _folder_files(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted((e for e in it if e.is_file() and not e.name.startswith(".")), key=lambda e: e.name)


def stat_source(path: Path) -> tuple[str, int, int]:
    """(kind, size, mtime_ns) without reading contents; a folder sums its files."""
    st = path.stat()
    if not path.is_dir():
        return "file", st.st_size, st.st_mtime_ns
    size, mtime = 0, st.st_mtime_ns
    for e in _folder_files(path):
        est = e.stat()
        size += est.st_size
        mtime = max(mtime, est.st_mtime_ns)
    return "folder", size, mtime


def hash_source(path: Path) -> str:
    """sha256 of a file, or of a folder's meta files + (name, size) list (see module doc)."""
    h = hashlib.sha256()
    if not path.is_dir():
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        return h.hexdigest()
    entries = _folder_files(path)
    for e in entries:
        if _is_meta(e.name):
            h.update(f"meta\t{e.name}\n".encode())
            with open(e.path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
    for e in entries:
        if not _is_meta(e.name):
            h.update(f"{e.name}\t{e.stat().st_size}\n".encode())
    return h.hexdigest()


def fingerprint(path: Path) -> dict[str, Any]:
    """Metadata keys that identify a source: source, source_kind/size/mtime_ns/sha256."""
    path = path.expanduser().resolve()
    kind, size, mtime = stat_source(path)
    return {
        "source": str(path),
        "source_kind": kind,
        "source_size": size,
        "source_mtime_ns": mtime,
        "source_sha256": hash_source(path),
    }


def check_source(meta: dict[str, Any], source: str | os.PathLike | None = None) -> str:
    """Is a cache still true to its source? 'valid', 'touched', 'changed' or 'missing'.

    SOURCE defaults to the recorded path. 'touched': size/mtime or path differ but
    the checksum matches (the cache is right; its stamp is stale).
    """
    recorded = meta.get("source")
    target = Path(source).expanduser().resolve() if source is not None else None
    if target is None:
        if not recorded:
            return "missing"
        target = Path(recorded)
    if not target.exists():
        return "missing"
    kind, size, mtime = stat_source(target)
    if (
        str(target) == recorded
        and kind == meta.get("source_kind")
        and size == meta.get("source_size")
        and mtime == meta.get("source_mtime_ns")
    ):
        return "valid"
    return "touched" if hash_source(target) == meta.get("source_sha256") else "changed"


# -- import and open --------------------------------------------------------------


def import_benchmark(
    space: HasGroundTruth,
    source: str | os.PathLike,
    metric: str | None = None,
    schedule: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    replace: bool = False,
) -> tuple[Benchmark, Path]:
    """Read SOURCE with the space's loader and write the cache; returns (table, cache path).

    METRIC/SCHEDULE default to the space's (`BenchLoader.default_metric/default_schedule`);
    a wsnas table file (`.npz`, e.g. made by `wsnas bench build`) defaults to its own.
    A table covering fewer cells than the cached one for the same metric and schedule is
    refused unless REPLACE: a truncated file must never shrink a complete table silently.
    """
    loader, name = space.loader, space.name
    src = Path(source).expanduser().resolve()
    if not src.exists():
        raise BenchmarkError(f"ground-truth source {src}: no such file or folder")
    built = Benchmark.load(src) if src.suffix == ".npz" else None
    if built is not None:
        metric = built.metric if metric is None else metric
        schedule = built.schedule if schedule is None else schedule
    metric = loader.resolve_metric(metric)
    schedule = loader.default_schedule if schedule is None else schedule
    stamp = fingerprint(src)
    t0 = time.perf_counter()
    if built is not None:
        bench = check_built(built, src, name, metric, str(schedule))
    else:
        bench = loader.read(src, metric, str(schedule))
    bench = bench.with_meta(
        **stamp,
        space=name,
        metric=metric,
        schedule=str(schedule),
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        wsnas_version=__version__,
        import_seconds=round(time.perf_counter() - t0, 3),
    )
    path = cache_path(name, metric, str(schedule), cache_dir)
    if not replace:
        refuse_shrinking(bench, path, src)
    bench.save(path)
    return bench.bind(space), path


def refuse_shrinking(new: Benchmark, path: Path, src: Path) -> None:
    """BenchmarkError when the table cached at PATH covers more cells than NEW (read from SRC).

    Runs scored against the cached table keep its content checksum in their identity, so even
    after `--replace` they are never resumed or reused against the smaller table."""
    if not path.exists():
        return
    try:
        old = Benchmark.load(path)
    except BenchmarkError:
        return  # an unreadable cache is replaced
    if new.size >= old.size:
        return
    raise BenchmarkError(
        f"ground-truth source {src} covers {new.size} {old.space} cells for metric {old.metric!r}, "
        f"schedule {old.schedule}; the cached table {path} covers {old.size} (from {old.source}). "
        "Refusing to replace a more complete table with a partial one (a truncated or incomplete "
        f"file?); to replace it anyway: `wsnas bench import {old.space} {src} --metric {old.metric} "
        f"--schedule {old.schedule} --replace`"
    )


def check_built(bench: Benchmark, path: Path, space: str, metric: str, schedule: str) -> Benchmark:
    """A wsnas table file as the source of SPACE's (METRIC, SCHEDULE) ground truth."""
    found = (bench.space, bench.metric, bench.schedule)
    if found != (space, metric, schedule):
        raise BenchmarkError(
            f"ground-truth table {path} holds space {found[0]!r}, metric {found[1]!r}, schedule "
            f"{found[2]!r}; asked for {space!r}, {metric!r}, {schedule!r} (pass --metric/--schedule)"
        )
    stale = ("format", "format_version")  # and the source stamp: the importer writes its own
    keep = {k: v for k, v in bench.meta.items() if not k.startswith("source") and k not in stale}
    return Benchmark(bench.index, bench.arch, bench.canonical, bench.acc, bench.params, bench.flops, keep)


def open_benchmark(
    space: HasGroundTruth,
    source: str | os.PathLike | None = None,
    metric: str | None = None,
    schedule: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Benchmark:
    """The ground truth for (space, metric, schedule): from the cache while it is
    true to its source, else (re-)imported from SOURCE or the recorded source.
    METRIC/SCHEDULE default to the space's (NB201 cifar10/ori-test 200, NB101 test 108)."""
    loader, name = space.loader, space.name
    metric = loader.resolve_metric(metric)
    schedule = str(loader.default_schedule if schedule is None else schedule)
    path = cache_path(name, metric, schedule, cache_dir)
    shipped = (metric, schedule) == (loader.resolve_metric(None), str(loader.default_schedule))
    if source is None and shipped and loader.default_source is not None:  # the cache must match it
        source = loader.default_source
    cached: Benchmark | None = None
    if path.exists():
        try:
            cached = Benchmark.load(path)
        except BenchmarkError:
            if source is None:
                raise
        if cached is not None and (cached.space, cached.metric, cached.schedule) != (
            name,
            metric,
            schedule,
        ):
            cached = None
    if cached is not None:
        status = check_source(cached.meta, source)
        if status == "valid" or (status == "missing" and source is None):
            return cached.bind(space)
        if status == "touched":
            target = Path(source) if source is not None else Path(str(cached.source))
            cached = cached.with_meta(**fingerprint(target))
            cached.save(path)
            return cached.bind(space)
        if source is None:
            source = cached.source
    if source is None:
        hint = f" --cache-dir {path.parent.parent}" if path.parent.parent != cache_root() else ""
        raise BenchmarkError(
            f"no {name} ground truth cached for metric {metric!r}, schedule {schedule} "
            f"(looked for {path}); run `wsnas bench import {name} SOURCE --metric {metric} "
            f"--schedule {schedule}{hint}` once with the official file ({loader.sources})"
        )
    bench, _ = import_benchmark(space, source, metric, schedule, cache_dir)
    return bench
