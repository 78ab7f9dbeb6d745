"""NAS-Bench-201 ArchResults records (the `.pth` and NATS layout) -> per-cell ground truth.

Layout (learned from the public API, see docs/background.md#nb201-ground-truth-files): a record is an
ArchResults dict {arch_index, arch_str, dataset_seed {dataset: [seeds]},
all_results {(dataset, seed): result}}, a result holds `eval_acc1es`
{"<eval>@<epoch>": acc%}, `params` (M), `flop` (M) and `epochs`. Each cell has one
record per schedule, keyed 'less' (12 epochs) and 'full' (200) in the `.pth` and
'12' and '200' in NATS. A benchmark dict is {meta_archs: [arch strings],
arch2infos: {index: {schedule: record}}}.

GT = mean over the dataset's seeds of eval_acc1es[f"{eval}@{epochs - 1}"].
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.core.errors import ArchError, BenchmarkError, did_you_mean
from wsnas.groundtruth.table import Benchmark
from wsnas.spaces.nb201.arch import parse_arch
from wsnas.spaces.nb201.gt_common import CellGT, build_table, schedule_epochs, split_metric

PTH_SCHEDULE_KEYS: dict[str, str] = {"12": "less", "200": "full"}
"""Schedule name -> the `.pth`'s key for it."""


# -- one record ---------------------------------------------------------------------


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


def schedule_record(entry: Any, schedule: str, where: str) -> Any:
    """The ArchResults of one schedule from a cell entry ('less'/'full' or '12'/'200')."""
    if not isinstance(entry, dict):
        raise BenchmarkError(f"{where}: expected a dict of schedules, got {type(entry).__name__}")
    for key in (schedule, PTH_SCHEDULE_KEYS[schedule], int(schedule)):
        if key in entry:
            return entry[key]
    return None


# -- all cells ----------------------------------------------------------------------


def check_meta_archs(archs: Any, where: str) -> list[str]:
    """meta_archs as a list; BenchmarkError unless it is a non-empty list of unique NB201 strings."""
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
    ds, ev = split_metric(metric, where)
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


def _collect(
    entries: Iterable[tuple[int, Any]],
    archs: Sequence[str],
    metric: str,
    schedule: str,
    where: str,
    label: str,
) -> tuple[dict[int, CellGT], set[str]]:
    """Summaries of (index, cell entry) pairs from an in-memory benchmark dict."""
    ds, ev = split_metric(metric, where)
    epochs = schedule_epochs(schedule, where)
    cells: dict[int, CellGT] = {}
    offered: set[str] = set()
    for idx, entry in entries:
        i = as_index(idx, len(archs), where)
        rec = schedule_record(entry, schedule, f"{where}: {label} {i}")
        if rec is None:
            continue
        check_identity(rec, i, archs, f"{where}: {label} {i}")
        gt, off = summarise_record(rec, ds, ev, epochs, f"{where}: {label} {i}")
        offered |= off
        if gt is not None:
            cells[i] = gt
    return cells, offered


def as_index(idx: Any, n: int, where: str) -> int:
    """A cell key as an index into meta_archs (of length N); BenchmarkError if it is none."""
    try:
        i = int(idx)
    except (TypeError, ValueError):
        raise BenchmarkError(f"{where}: cell key {idx!r} is not an index") from None
    if not 0 <= i < n:
        raise BenchmarkError(f"{where}: cell index {i} outside meta_archs (0..{n - 1})")
    return i


def check_identity(rec: Any, i: int, archs: Sequence[str], where: str) -> None:
    """BenchmarkError if record REC's own arch_str / arch_index disagree with meta_archs[I]."""
    if not isinstance(rec, dict):
        return
    if "arch_str" in rec and isinstance(rec["arch_str"], str) and rec["arch_str"] != archs[i]:
        raise BenchmarkError(
            f"{where}: record arch {rec['arch_str']!r} differs from meta_archs[{i}] {archs[i]!r}"
        )
    if "arch_index" in rec and isinstance(rec["arch_index"], int) and rec["arch_index"] != i:
        raise BenchmarkError(f"{where}: record says arch_index {rec['arch_index']}")


def finish(
    cells: dict[int, CellGT],
    offered: set[str],
    archs: Sequence[str],
    metric: str,
    schedule: str,
    extra_meta: dict[str, Any],
    where: str,
) -> Benchmark:
    """The table of CELLS; BenchmarkError if none has GT or METRIC is not among OFFERED."""
    if not offered:
        raise BenchmarkError(f"{where}: no cell has results for schedule {schedule}")
    if metric not in offered:
        raise _unknown_metric(metric, offered, schedule, where)
    if not cells:
        raise BenchmarkError(f"{where}: no cell has ground truth for {metric}, schedule {schedule}")
    return build_table(archs, cells, len(archs), extra_meta, where)


def from_benchmark_dict(data: Any, metric: str, schedule: str, where: str, reader: str) -> Benchmark:
    """The table of an in-memory benchmark dict {meta_archs, arch2infos} (`.pth`, NATS single file)."""
    if not isinstance(data, dict):
        raise BenchmarkError(f"{where}: holds a {type(data).__name__}, not a NAS-Bench-201 benchmark dict")
    need = ("meta_archs", "arch2infos")
    missing = [k for k in need if k not in data]
    if missing:
        found = ", ".join(sorted(map(str, data))[:10]) or "none"
        raise BenchmarkError(
            f"{where}: not a NAS-Bench-201 benchmark file (missing keys {', '.join(missing)}; found: {found})"
        )
    archs = check_meta_archs(data["meta_archs"], where)
    infos = data["arch2infos"]
    if not isinstance(infos, dict):
        raise BenchmarkError(f"{where}: arch2infos is a {type(infos).__name__}, not a dict")
    cells, offered = _collect(infos.items(), archs, metric, schedule, where, "cell")
    extra = {"reader": reader, "file": Path(where).name, "n_records": len(infos)}
    return finish(cells, offered, archs, metric, schedule, extra, where)
