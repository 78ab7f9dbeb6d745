"""NATS-Bench topology ground truth: the "simple" folder and the single-file archive.

NATS-tss-v1_0-3ffb9-simple/ holds meta.pickle.pbz2 ({meta_archs, ...}) and one
NNNNNN.pickle.pbz2 per cell ({'12': record, '200': record}); NATS-tss-v1_0-3ffb9.pickle.pbz2
holds the whole benchmark dict. Records are ArchResults (see gt_records); every pickle is
read through the allowlist of wsnas.groundtruth.unpickle.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from wsnas.core.errors import BenchmarkError
from wsnas.groundtruth.table import Benchmark
from wsnas.groundtruth.unpickle import load_pbz2
from wsnas.spaces.nb201.gt_common import SCHEDULES, SOURCES, CellGT, schedule_epochs, split_metric
from wsnas.spaces.nb201.gt_records import (
    as_index,
    check_identity,
    check_meta_archs,
    finish,
    from_benchmark_dict,
    schedule_record,
    summarise_record,
)

META_FILE = "meta.pickle.pbz2"
RECORD_RE = re.compile(r"^(\d{6})\.pickle\.pbz2$")
PARALLEL_MIN_RECORDS = 64


def _read_record_file(
    path: str, index: int, dataset: str, eval_name: str, schedule: str
) -> tuple[int, CellGT | None, set[str], str | None, Any]:
    """One NNNNNN.pickle.pbz2 -> summary (top level so worker processes can run it)."""
    where = str(path)
    data = load_pbz2(Path(path))
    if not isinstance(data, dict):
        raise BenchmarkError(f"{where}: expected a dict of schedules, got {type(data).__name__}")
    rec = schedule_record(data, schedule, where)
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
    ds, ev = split_metric(metric, where)
    schedule_epochs(schedule, where)
    meta_path = folder / META_FILE
    if not meta_path.is_file():
        raise BenchmarkError(
            f"{where}: not a NATS-Bench 'simple' folder (no {META_FILE}); sources: {SOURCES}"
        )
    meta = load_pbz2(meta_path)
    if not isinstance(meta, dict) or "meta_archs" not in meta:
        raise BenchmarkError(f"{meta_path}: not a NATS-Bench meta file (no meta_archs)")
    archs = check_meta_archs(meta["meta_archs"], str(meta_path))
    jobs: list[tuple[str, int, str, str, str]] = []
    with os.scandir(folder) as it:
        for e in it:
            m = RECORD_RE.match(e.name)
            if m:
                i = as_index(m.group(1), len(archs), e.path)
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
        check_identity({"arch_str": arch, "arch_index": aidx}, i, archs, path)
        offered |= off
        if gt is not None:
            cells[i] = gt
    extra = {"reader": "nats-tss-simple", "n_records": len(jobs)}
    return finish(cells, offered, archs, metric, schedule, extra, where)


def read_nats_file(path: Path, metric: str, schedule: str) -> Benchmark:
    """The single-file NATS archive (NATS-tss-v1_0-3ffb9.pickle.pbz2)."""
    where = str(path)
    data = load_pbz2(path)
    return from_benchmark_dict(data, metric, schedule, where, "nats-tss-file")
