"""NAS-Bench-201 ground truth from the official files, without their packages.

Readers for the NATS-Bench topology "simple" folder, the full NATS file, the
NAS-Bench-201 `.pth` (v1.0 and v1.1) and a CSV export. All pickled data goes
through an allowlist (containers, OrderedDict, numpy scalars; for `.pth` also
numpy arrays and tensors): these files come from the internet and a plain
unpickler would run whatever they name.

Layout (learned from the public API, see REFERENCE.md): a record is an
ArchResults dict {arch_index, arch_str, dataset_seed {dataset: [seeds]},
all_results {(dataset, seed): result}}, a result holds `eval_acc1es`
{"<eval>@<epoch>": acc%}, `params` (M), `flop` (M) and `epochs`. The `.pth`
keys each cell's two schedules as 'less' (12 epochs) and 'full' (200); NATS uses
'12' and '200'. v1.0 `.pth` has 12-epoch results for cifar10-valid only and 1-3
seeds per cell; v1.1 has all four datasets for both schedules.

GT = mean over the dataset's seeds of eval_acc1es[f"{eval}@{epochs - 1}"].
"""

from __future__ import annotations

import bz2
import codecs
import csv
import functools
import io
import math
import os
import pickle
import re
import types
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from wsnas.bench.loaders import BenchLoader
from wsnas.bench.table import Benchmark
from wsnas.errors import ArchError, BenchmarkError, did_you_mean
from wsnas.spaces.nb201.arch import canonical_id, parse_arch

DATASETS: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
SCHEDULES: dict[str, int] = {"12": 12, "200": 200}
"""Schedule name -> training epochs; GT is read at epoch (epochs - 1)."""
PTH_SCHEDULE_KEYS: dict[str, str] = {"12": "less", "200": "full"}
CSV_COLUMNS: dict[str, str] = {
    "cifar10_test": "cifar10/ori-test",
    "cifar100_test": "cifar100/x-test",
    "imagenet16_120_test": "ImageNet16-120/x-test",
    "cifar10_valid_xvalid": "cifar10-valid/x-valid",
    "cifar10_valid_xtest": "cifar10-valid/ori-test",
}
"""CSV export column -> metric (verified on the real data against the NATS records)."""
_SHORT_NAMES: dict[str, str] = {
    "cifar10/valid": "cifar10-valid/x-valid",
    "cifar10/test": "cifar10/ori-test",
    "cifar100/valid": "cifar100/x-valid",
    "cifar100/test": "cifar100/x-test",
    "ImageNet16-120/valid": "ImageNet16-120/x-valid",
    "ImageNet16-120/test": "ImageNet16-120/x-test",
}
"""The official API's 'valid'/'test' shorthands."""
META_FILE = "meta.pickle.pbz2"
RECORD_RE = re.compile(r"^(\d{6})\.pickle\.pbz2$")
PARALLEL_MIN_RECORDS = 64
SOURCES = "a NAS-Bench-201 .pth, a NATS-Bench topology folder or .pickle.pbz2, or a CSV"


# -- metric names -----------------------------------------------------------------


def normalize_metric(metric: str) -> str:
    """'dataset/eval-name' in NATS spelling; CSV column names and shorthands mapped."""
    m = str(metric).strip()
    if m in CSV_COLUMNS:
        return CSV_COLUMNS[m]
    if "/" not in m:
        return m
    ds, _, ev = m.partition("/")
    ds = next((d for d in DATASETS if d.lower() == ds.lower()), ds)
    m = f"{ds}/{ev}"
    return _SHORT_NAMES.get(m, m)


def _split_metric(metric: str, where: str) -> tuple[str, str]:
    ds, sep, ev = metric.partition("/")
    if not sep or not ds or not ev:
        raise BenchmarkError(
            f"{where}: metric {metric!r} must be 'dataset/eval-name' (e.g. cifar10/ori-test)"
        )
    return ds, ev


def _epochs(schedule: str, where: str) -> int:
    if schedule not in SCHEDULES:
        raise BenchmarkError(
            f"{where}: unknown schedule {schedule!r}; NAS-Bench-201 has "
            f"{', '.join(SCHEDULES)}{did_you_mean(schedule, SCHEDULES)}"
        )
    return SCHEDULES[schedule]


# -- restricted unpickling ----------------------------------------------------------


def _numpy_multiarray(name: str) -> Any:
    """numpy's pickle helper NAME: numpy._core.multiarray (2.x) or numpy.core.multiarray (1.x)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    return getattr(multiarray, name)


def _numpy_scalar() -> Any:
    return _numpy_multiarray("scalar")


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
"""Files name numpy's helpers under the numpy that wrote them (2020 files: 1.x)."""
_BUILTINS = ("builtins", "__builtin__")
"""Protocol <= 2 pickles (torch.save's default) write builtins as Python 2's __builtin__."""

_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    **{(m, "set"): set for m in _BUILTINS},
    **{(m, "frozenset"): frozenset for m in _BUILTINS},
    ("_codecs", "encode"): codecs.encode,
    **{(m, "scalar"): _numpy_scalar() for m in _NUMPY_MODULES},
    ("numpy", "dtype"): np.dtype,
}
"""Everything the official pickles need; any other global is refused."""


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle names a global outside the allowlist."""

    def __init__(self, qualname: str, allowed: str) -> None:
        super().__init__(f"refused global {qualname} (only {allowed} are allowed)")
        self.qualname = qualname


class _Peekable:
    """A seekable stream (BytesIO) with peek(): without peek the C unpickler reads a frameless
    (protocol 2, torch.save's) pickle with one read() call per opcode, with it one per 128 KiB:
    2x faster on the zip format, whose pickle torch hands over as a BytesIO. It still read()s
    only what it consumed, so the stream is left right after the pickle."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self.read = f.read
        self.readline = f.readline
        self.readinto = f.readinto

    def peek(self, n: int = 1) -> bytes:
        pos = self._f.tell()
        data = self._f.read(max(n, 1))
        self._f.seek(pos)
        return data


class _AllowlistUnpickler(pickle.Unpickler):
    """The C unpickler, resolving globals only from the allowlist (so no code can run)."""

    allowed_kinds: ClassVar[str] = "containers, OrderedDict and numpy scalars"

    def __init__(self, file: Any, **kwargs: Any) -> None:
        if not hasattr(file, "peek") and hasattr(file, "readinto") and getattr(file, "seekable", bool)():
            file = _Peekable(file)
        super().__init__(file, **kwargs)

    def allowed(self) -> Mapping[tuple[str, str], Any]:
        return _ALLOWED_GLOBALS

    def find_class(self, module: str, name: str) -> Any:
        try:
            obj = self.allowed()[(module, name)]
        except KeyError:
            raise _RefusedGlobal(f"{module}.{name}", self.allowed_kinds) from None
        # A plain Python function could have its attributes (__defaults__) changed by a BUILD
        # opcode; hand out a fresh wrapper so a file cannot alter it for the rest of the process.
        return functools.partial(obj) if isinstance(obj, types.FunctionType) else obj


def load_pbz2(path: Path) -> Any:
    """A bz2-compressed pickle through the allowlist; BenchmarkError names the file."""
    try:
        raw = bz2.decompress(path.read_bytes())
    except OSError as e:
        raise BenchmarkError(f"{path}: cannot read ({e.strerror or e})") from None
    except (ValueError, EOFError) as e:
        raise BenchmarkError(f"{path}: not a valid bz2 file or truncated ({e})") from None
    try:
        return _AllowlistUnpickler(io.BytesIO(raw)).load()
    except _RefusedGlobal as e:
        raise BenchmarkError(f"{path}: {e}") from None
    except Exception as e:  # truncated or garbled pickles raise many types
        raise BenchmarkError(f"{path}: corrupt pickle ({type(e).__name__}: {e})") from None


@functools.cache
def _torch_allowed_globals() -> dict[tuple[str, str], Any]:
    """The allowlist plus numpy arrays and what torch.save writes for a tensor (built once torch loads).

    Storage classes are left out on purpose: torch.load's own find_class turns typed storage
    names into inert StorageType records before asking ours, and the classes themselves are
    mutable Python classes.
    """
    import torch

    allowed = dict(_ALLOWED_GLOBALS)
    for m in _BUILTINS:
        allowed[(m, "bytearray")] = bytearray
        allowed[(m, "complex")] = complex
    for m in _NUMPY_MODULES:
        allowed[(m, "_reconstruct")] = _numpy_multiarray("_reconstruct")
    allowed[("numpy", "ndarray")] = np.ndarray
    for n in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter"):
        if hasattr(torch._utils, n):
            allowed[("torch._utils", n)] = getattr(torch._utils, n)
    allowed[("torch", "Size")] = torch.Size
    allowed[("torch", "device")] = torch.device
    allowed.update({("torch", n): v for n, v in vars(torch).items() if isinstance(v, torch.dtype)})
    return allowed


class _TorchFileUnpickler(_AllowlistUnpickler):
    """The allowlist for torch files; torch.load subclasses this (pickle_module.Unpickler)."""

    allowed_kinds: ClassVar[str] = "containers, OrderedDict, numpy scalars/arrays and tensors"

    def allowed(self) -> Mapping[tuple[str, str], Any]:
        return _torch_allowed_globals()


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return _TorchFileUnpickler(file, **kwargs).load()


def _restricted_loads(data: bytes, **kwargs: Any) -> Any:
    return _restricted_load(io.BytesIO(data), **kwargs)


RESTRICTED_PICKLE = types.ModuleType(
    "wsnas_restricted_pickle", "torch.load's pickle_module: the C unpickler behind the allowlist."
)
"""Passed as torch.load(pickle_module=...): torch then subclasses its Unpickler for the main
pickle and calls its load() for the legacy format's header records, so every object in either
torch format goes through the allowlist, at C-unpickler speed: ~18x faster than torch's pure-Python
weights_only unpickler on a synthetic v1.1-layout file (benchmarks/bench_pth_read.py)."""
RESTRICTED_PICKLE.Unpickler = _TorchFileUnpickler  # type: ignore[attr-defined]
RESTRICTED_PICKLE.load = _restricted_load  # type: ignore[attr-defined]
RESTRICTED_PICKLE.loads = _restricted_loads  # type: ignore[attr-defined]
RESTRICTED_PICKLE.UnpicklingError = pickle.UnpicklingError  # type: ignore[attr-defined]


def _torch_safe_globals() -> list[Any]:
    """numpy scalar/dtype reconstruction for torch's weights_only unpickler, numpy 1.x and 2.x names."""
    scalar = _numpy_scalar()
    allowed: list[Any] = [
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        np.dtype,
    ]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        allowed += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return allowed


# -- per-cell summaries -------------------------------------------------------------


@dataclass(frozen=True)
class CellGT:
    """One cell's ground truth for the chosen metric and schedule."""

    acc: float
    params: float
    flops: float
    n_seeds: int


def _num(x: Any) -> float:
    if x is None:
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _eval_names(result: dict) -> Iterable[str]:
    names = result.get("eval_names")
    if isinstance(names, list | tuple):
        return [str(n) for n in names]
    acc = result.get("eval_acc1es")
    return {str(k).split("@")[0] for k in acc} if isinstance(acc, dict) else ()


def summarise_record(
    rec: Any, dataset: str, eval_name: str, epochs: int, where: str
) -> tuple[CellGT | None, set[str]]:
    """(GT or None if this cell lacks the metric, metrics this cell offers)."""
    if not isinstance(rec, dict) or not {"all_results", "dataset_seed"} <= set(rec):
        keys = sorted(map(str, rec))[:8] if isinstance(rec, dict) else type(rec).__name__
        raise BenchmarkError(f"{where}: not an ArchResults record (found {keys})")
    seeds_of, results = rec["dataset_seed"], rec["all_results"]
    if not isinstance(seeds_of, dict) or not isinstance(results, dict):
        raise BenchmarkError(f"{where}: dataset_seed/all_results are not dicts")
    offered: set[str] = set()
    for ds, seeds in seeds_of.items():
        if not isinstance(seeds, list | tuple):
            raise BenchmarkError(f"{where}: dataset_seed[{ds!r}] is not a list of seeds")
        first = results.get((ds, seeds[0])) if seeds else None
        if isinstance(first, dict):
            offered.update(f"{ds}/{n}" for n in _eval_names(first))
    seeds = list(seeds_of.get(dataset) or [])
    if not seeds:
        return None, offered
    key = f"{eval_name}@{epochs - 1}"
    accs, params, flops = [], [], []
    for seed in seeds:
        res = results.get((dataset, seed))
        if not isinstance(res, dict) or not isinstance(res.get("eval_acc1es"), dict):
            raise BenchmarkError(f"{where}: no result dict for ({dataset!r}, {seed!r})")
        ran = res.get("epochs")
        if ran is not None and _num(ran) != epochs:
            raise BenchmarkError(f"{where}: ({dataset!r}, {seed!r}) ran {ran} epochs, expected {epochs}")
        evals = res["eval_acc1es"]
        if key not in evals:
            if any(str(k).startswith(f"{eval_name}@") for k in evals):
                raise BenchmarkError(f"{where}: ({dataset!r}, {seed!r}) lacks {key!r}")
            return None, offered
        acc = _num(evals[key])
        if not math.isfinite(acc):
            raise BenchmarkError(f"{where}: ({dataset!r}, {seed!r}) {key} = {evals[key]!r} is not a number")
        accs.append(acc)
        params.append(_num(res.get("params")))
        flops.append(_num(res.get("flop")))
    return CellGT(
        acc=float(np.mean(accs)),
        params=_nanmean(params),
        flops=_nanmean(flops),
        n_seeds=len(seeds),
    ), offered


def _nanmean(xs: Sequence[float]) -> float:
    vals = [x for x in xs if not math.isnan(x)]
    return float(np.mean(vals)) if vals else math.nan


def _schedule_record(entry: Any, schedule: str, where: str) -> Any:
    """The ArchResults of one schedule from a cell entry ('less'/'full' or '12'/'200')."""
    if not isinstance(entry, dict):
        raise BenchmarkError(f"{where}: expected a dict of schedules, got {type(entry).__name__}")
    for key in (schedule, PTH_SCHEDULE_KEYS[schedule], int(schedule)):
        if key in entry:
            return entry[key]
    return None


# -- assembling the table -----------------------------------------------------------


def _check_meta_archs(archs: Any, where: str) -> list[str]:
    if not isinstance(archs, list | tuple) or not archs:
        raise BenchmarkError(f"{where}: meta_archs is not a non-empty list of arch strings")
    if not all(isinstance(a, str) for a in archs):
        raise BenchmarkError(f"{where}: meta_archs holds non-strings")
    try:
        parse_arch(archs[0])
    except ArchError:
        raise BenchmarkError(
            f"{where}: not a NAS-Bench-201 topology benchmark (meta_archs[0] = {archs[0]!r})"
        ) from None
    if len(set(archs)) != len(archs):
        raise BenchmarkError(f"{where}: meta_archs has duplicate arch strings")
    return list(archs)


def _unknown_metric(metric: str, offered: set[str], schedule: str, where: str) -> BenchmarkError:
    ds, ev = _split_metric(metric, where)
    datasets = sorted({m.split("/")[0] for m in offered})
    listing = ", ".join(sorted(offered)) or "none"
    if ds not in datasets:
        return BenchmarkError(
            f"{where}: unknown dataset {ds!r} for schedule {schedule}; datasets: "
            f"{', '.join(datasets) or 'none'}{did_you_mean(ds, datasets)}; metrics: {listing}"
        )
    return BenchmarkError(
        f"{where}: unknown metric {metric!r} for schedule {schedule}; metrics: {listing}"
        f"{did_you_mean(metric, offered)}"
    )


def build_table(
    archs: Sequence[str] | Mapping[int, str],
    cells: dict[int, CellGT],
    n_total: int,
    extra_meta: dict[str, Any],
    where: str,
) -> Benchmark:
    """Rows in official index order for the cells with GT; arch strings validated."""
    order = sorted(cells)
    arch_strs, canon = [], []
    for i in order:
        try:
            canon.append(canonical_id(parse_arch(archs[i])))
        except ArchError as e:
            raise BenchmarkError(f"{where}: cell {i}: {e}") from None
        arch_strs.append(archs[i])
    seeds = Counter(cells[i].n_seeds for i in order if cells[i].n_seeds > 0)
    return Benchmark(
        index=np.array(order, dtype=np.int64),
        arch=arch_strs,
        canonical=canon,
        acc=np.array([cells[i].acc for i in order]),
        params=np.array([cells[i].params for i in order]),
        flops=np.array([cells[i].flops for i in order]),
        meta={
            "n_total": int(n_total),
            "n_missing": int(n_total - len(order)),
            "seed_counts": {str(k): v for k, v in sorted(seeds.items())},
            **extra_meta,
        },
    )


def _collect(
    entries: Iterable[tuple[int, Any]],
    archs: Sequence[str],
    metric: str,
    schedule: str,
    where: str,
    label: str,
) -> tuple[dict[int, CellGT], set[str]]:
    """Summaries of (index, cell entry) pairs from an in-memory benchmark dict."""
    ds, ev = _split_metric(metric, where)
    epochs = _epochs(schedule, where)
    cells: dict[int, CellGT] = {}
    offered: set[str] = set()
    for idx, entry in entries:
        i = _as_index(idx, len(archs), where)
        rec = _schedule_record(entry, schedule, f"{where}: {label} {i}")
        if rec is None:
            continue
        _check_identity(rec, i, archs, f"{where}: {label} {i}")
        gt, off = summarise_record(rec, ds, ev, epochs, f"{where}: {label} {i}")
        offered |= off
        if gt is not None:
            cells[i] = gt
    return cells, offered


def _as_index(idx: Any, n: int, where: str) -> int:
    try:
        i = int(idx)
    except (TypeError, ValueError):
        raise BenchmarkError(f"{where}: cell key {idx!r} is not an index") from None
    if not 0 <= i < n:
        raise BenchmarkError(f"{where}: cell index {i} outside meta_archs (0..{n - 1})")
    return i


def _check_identity(rec: Any, i: int, archs: Sequence[str], where: str) -> None:
    if not isinstance(rec, dict):
        return
    if "arch_str" in rec and isinstance(rec["arch_str"], str) and rec["arch_str"] != archs[i]:
        raise BenchmarkError(
            f"{where}: record arch {rec['arch_str']!r} differs from meta_archs[{i}] {archs[i]!r}"
        )
    if "arch_index" in rec and isinstance(rec["arch_index"], int) and rec["arch_index"] != i:
        raise BenchmarkError(f"{where}: record says arch_index {rec['arch_index']}")


def _finish(
    cells: dict[int, CellGT],
    offered: set[str],
    archs: Sequence[str],
    metric: str,
    schedule: str,
    extra_meta: dict[str, Any],
    where: str,
) -> Benchmark:
    if not offered:
        raise BenchmarkError(f"{where}: no cell has results for schedule {schedule}")
    if metric not in offered:
        raise _unknown_metric(metric, offered, schedule, where)
    if not cells:
        raise BenchmarkError(f"{where}: no cell has ground truth for {metric}, schedule {schedule}")
    return build_table(archs, cells, len(archs), extra_meta, where)


# -- NATS-Bench ---------------------------------------------------------------------


def _read_record_file(
    path: str, index: int, dataset: str, eval_name: str, schedule: str
) -> tuple[int, CellGT | None, set[str], str | None, Any]:
    """One NNNNNN.pickle.pbz2 -> summary (top level so worker processes can run it)."""
    where = str(path)
    data = load_pbz2(Path(path))
    if not isinstance(data, dict):
        raise BenchmarkError(f"{where}: expected a dict of schedules, got {type(data).__name__}")
    rec = _schedule_record(data, schedule, where)
    if rec is None:
        return index, None, set(), None, None
    arch = rec.get("arch_str") if isinstance(rec, dict) else None
    aidx = rec.get("arch_index") if isinstance(rec, dict) else None
    gt, offered = summarise_record(rec, dataset, eval_name, SCHEDULES[schedule], where)
    return index, gt, offered, arch, aidx


def _run_record(args: tuple[str, int, str, str, str]) -> tuple:
    return _read_record_file(*args)


def read_nats_folder(folder: Path, metric: str, schedule: str, workers: int | None = None) -> Benchmark:
    """NATS-tss-v1_0-3ffb9-simple/: meta.pickle.pbz2 + one NNNNNN.pickle.pbz2 per cell.

    Cells without a record file have no GT (counted in meta n_missing). Large
    folders are read by a process pool (`workers`, default: all cores).
    """
    where = str(folder)
    ds, ev = _split_metric(metric, where)
    _epochs(schedule, where)
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise BenchmarkError(
            f"{where}: not a NATS-Bench 'simple' folder (no {META_FILE}); sources: {SOURCES}"
        )
    meta = load_pbz2(meta_path)
    if not isinstance(meta, dict) or "meta_archs" not in meta:
        raise BenchmarkError(f"{meta_path}: not a NATS-Bench meta file (no meta_archs)")
    archs = _check_meta_archs(meta["meta_archs"], str(meta_path))
    jobs: list[tuple[str, int, str, str, str]] = []
    with os.scandir(folder) as it:
        for e in it:
            m = RECORD_RE.match(e.name)
            if m:
                i = _as_index(m.group(1), len(archs), e.path)
                jobs.append((e.path, i, ds, ev, schedule))
    jobs.sort(key=lambda j: j[1])
    if not jobs:
        raise BenchmarkError(f"{where}: no NNNNNN.pickle.pbz2 record files")
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    if n_workers > 1 and len(jobs) >= PARALLEL_MIN_RECORDS:
        with ProcessPoolExecutor(n_workers, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(_run_record, jobs, chunksize=max(1, len(jobs) // (8 * n_workers))))
    else:
        results = [_run_record(j) for j in jobs]
    cells: dict[int, CellGT] = {}
    offered: set[str] = set()
    for (path, *_), (i, gt, off, arch, aidx) in zip(jobs, results, strict=True):
        _check_identity({"arch_str": arch, "arch_index": aidx}, i, archs, path)
        offered |= off
        if gt is not None:
            cells[i] = gt
    extra = {"reader": "nats-tss-simple", "n_records": len(jobs)}
    return _finish(cells, offered, archs, metric, schedule, extra, where)


def read_nats_file(path: Path, metric: str, schedule: str) -> Benchmark:
    """The single-file NATS archive (NATS-tss-v1_0-3ffb9.pickle.pbz2)."""
    where = str(path)
    data = load_pbz2(path)
    return _from_benchmark_dict(data, metric, schedule, where, "nats-tss-file")


# -- NAS-Bench-201 .pth -------------------------------------------------------------


def _torch_forces_weights_only() -> bool:
    """TORCH_FORCE_WEIGHTS_ONLY_LOAD makes torch refuse any pickle_module; use its own unpickler then."""
    return os.getenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0").lower() in ("1", "y", "yes", "true")


def _is_torchscript(f: Any) -> bool:
    """True for a TorchScript zip, which torch.load(weights_only=False) would hand to torch.jit.load."""
    import torch

    start = f.tell()
    if f.read(4) != b"PK\x03\x04":
        f.seek(start)
        return False
    f.seek(start)
    records = torch._C.PyTorchFileReader(f).get_all_records()  # the reader torch.load uses
    f.seek(start)
    return any(r == "constants.pkl" or r.startswith("code/") for r in records)


def load_torch_file(path: Path) -> Any:
    """A torch.save file (zip or legacy format) through the allowlist; BenchmarkError names the file."""
    import torch  # lazy: only .pth sources need it

    where = str(path)
    try:
        if _torch_forces_weights_only():
            with torch.serialization.safe_globals(_torch_safe_globals()):
                return torch.load(path, map_location="cpu", weights_only=True)
        with open(path, "rb") as f:  # one handle for the TorchScript check and the load
            if _is_torchscript(f):
                raise BenchmarkError(f"{where}: a TorchScript archive, not a NAS-Bench-201 benchmark file")
            return torch.load(f, map_location="cpu", weights_only=False, pickle_module=RESTRICTED_PICKLE)
    except BenchmarkError:
        raise
    except _RefusedGlobal as e:
        raise BenchmarkError(
            f"{where}: holds objects outside the allowlist ({e.qualname}); not a NAS-Bench-201 benchmark file"
        ) from None
    except Exception as e:
        text = str(e)
        refused = re.search(r"GLOBAL ([\w.]+)", text)  # torch's weights_only unpickler
        if refused:
            raise BenchmarkError(
                f"{where}: holds objects outside the allowlist ({refused.group(1)}); "
                f"not a NAS-Bench-201 benchmark file"
            ) from None
        first = next((ln for ln in text.splitlines() if ln.strip()), type(e).__name__)
        raise BenchmarkError(
            f"{where}: not a readable torch file, truncated or corrupt ({type(e).__name__}: {first[:200]})"
        ) from None


def read_pth(path: Path, metric: str, schedule: str) -> Benchmark:
    """NAS-Bench-201-v1_0-e61699.pth / v1_1-096897.pth (legacy torch format) or any torch.save file."""
    data = load_torch_file(path)
    return _from_benchmark_dict(data, metric, schedule, str(path), "nas-bench-201-pth")


def _from_benchmark_dict(data: Any, metric: str, schedule: str, where: str, reader: str) -> Benchmark:
    if not isinstance(data, dict):
        raise BenchmarkError(f"{where}: holds a {type(data).__name__}, not a NAS-Bench-201 benchmark dict")
    need = ("meta_archs", "arch2infos")
    missing = [k for k in need if k not in data]
    if missing:
        found = ", ".join(sorted(map(str, data))[:10]) or "none"
        raise BenchmarkError(
            f"{where}: not a NAS-Bench-201 benchmark file (missing keys {', '.join(missing)}; found: {found})"
        )
    archs = _check_meta_archs(data["meta_archs"], where)
    infos = data["arch2infos"]
    if not isinstance(infos, dict):
        raise BenchmarkError(f"{where}: arch2infos is a {type(infos).__name__}, not a dict")
    cells, offered = _collect(infos.items(), archs, metric, schedule, where, "cell")
    extra = {"reader": reader, "file": Path(where).name, "n_records": len(infos)}
    return _finish(cells, offered, archs, metric, schedule, extra, where)


# -- CSV ----------------------------------------------------------------------------


def read_csv(path: Path, metric: str, schedule: str) -> Benchmark:
    """`index,arch_str,<metric columns>[,params,flops]`: final accuracies of the 200 schedule.

    An empty or 'nan' accuracy means no GT for that cell; anything else that is
    not a number is an error naming the line.
    """
    where = str(path)
    _epochs(schedule, where)
    if schedule != "200":
        raise BenchmarkError(
            f"{where}: CSV exports hold the 200-epoch schedule; use the official .pth or "
            f"NATS folder for schedule {schedule}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BenchmarkError(f"{where}: cannot read as UTF-8 text ({e})") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise BenchmarkError(f"{where}: empty file, expected a header line")
    header = [h.strip() for h in header]
    cols = {h: k for k, h in enumerate(header)}
    missing = [c for c in ("index", "arch_str") if c not in cols]
    if missing:
        raise BenchmarkError(f"{where}: header lacks column(s) {', '.join(missing)}")
    by_metric = {CSV_COLUMNS.get(h, h): h for h in header if h not in ("index", "arch_str")}
    column = metric if metric in cols else by_metric.get(metric)
    if column is None or column in ("index", "arch_str", "params", "flops"):
        offered = sorted(m for m in by_metric if m not in ("params", "flops"))
        raise BenchmarkError(
            f"{where}: no column for metric {metric!r}; metrics: {', '.join(offered) or 'none'}"
            f"{did_you_mean(metric, offered)}"
        )
    acc_col, p_col, f_col = cols[column], cols.get("params"), cols.get("flops")
    rows: dict[int, tuple[str, float, float, float]] = {}
    seen_arch: dict[str, int] = {}
    n_total = 0
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        n_total += 1
        if len(row) != len(header):
            raise BenchmarkError(f"{where}: line {line_no}: {len(row)} fields, header has {len(header)}")
        try:
            idx = int(row[cols["index"]])
        except ValueError:
            raise BenchmarkError(
                f"{where}: line {line_no}: index {row[cols['index']]!r} is not an integer"
            ) from None
        arch = row[cols["arch_str"]].strip()
        try:
            parse_arch(arch)
        except ArchError as e:
            raise BenchmarkError(f"{where}: line {line_no}: {e}") from None
        if idx in rows or arch in seen_arch:
            raise BenchmarkError(f"{where}: line {line_no}: duplicate index or arch string")
        seen_arch[arch] = idx
        acc = _csv_number(row[acc_col], where, line_no, column)
        if math.isnan(acc):
            continue
        params = math.nan if p_col is None else _csv_number(row[p_col], where, line_no, "params")
        flops = math.nan if f_col is None else _csv_number(row[f_col], where, line_no, "flops")
        rows[idx] = (arch, acc, params, flops)
    if not rows:
        raise BenchmarkError(f"{where}: no rows with a value for {metric!r}")
    archs_by_index = {i: r[0] for i, r in rows.items()}
    cells = {i: CellGT(r[1], r[2], r[3], 0) for i, r in rows.items()}
    return build_table(archs_by_index, cells, n_total, {"reader": "csv", "column": column}, where)


def _csv_number(cell: str, where: str, line_no: int, column: str) -> float:
    s = cell.strip()
    if not s or s.lower() == "nan":
        return math.nan
    try:
        x = float(s)
    except ValueError:
        raise BenchmarkError(
            f"{where}: line {line_no}: column {column!r}: {cell!r} is not a number"
        ) from None
    if math.isinf(x):
        raise BenchmarkError(f"{where}: line {line_no}: column {column!r}: {cell!r} is infinite")
    return x


# -- dispatch -----------------------------------------------------------------------


def read_nb201(source: Path, metric: str, schedule: str) -> Benchmark:
    """Pick the reader by what SOURCE is: folder, .csv, .pbz2, else a torch file."""
    source = Path(source)
    where = str(source)
    _epochs(schedule, where)
    if source.is_dir():
        return read_nats_folder(source, metric, schedule)
    if not source.is_file():
        raise BenchmarkError(f"{where}: no such file or folder; sources: {SOURCES}")
    name = source.name.lower()
    if name.endswith(".csv"):
        return read_csv(source, metric, schedule)
    if name.endswith(".pbz2") or name.endswith(".bz2"):
        return read_nats_file(source, metric, schedule)
    with source.open("rb") as f:
        head = f.read(4)
    if head.startswith(b"BZh"):
        return read_nats_file(source, metric, schedule)
    if name.endswith(".pth") or head.startswith(b"PK") or head[:1] == b"\x80":
        return read_pth(source, metric, schedule)
    raise BenchmarkError(f"{where}: unrecognised ground-truth source; sources: {SOURCES}")


LOADER = BenchLoader(
    read=read_nb201,
    normalize_metric=normalize_metric,
    sources=SOURCES,
    default_metric="cifar10/ori-test",
    default_schedule="200",
)
"""How wsnas reads this space's ground truth (`SearchSpace.loader`)."""
