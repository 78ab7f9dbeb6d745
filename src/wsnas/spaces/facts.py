"""One architecture's facts and ground truth as one record: what `wsnas arch info` prints and
`wsnas.arch_info` returns.

Params and FLOPs are those of the benchmark's stand-alone network (on data set DATA's network
where given, else the space's own); index, ground truth and GT rank come from an opened
benchmark, looked up by the encoding, else by its canonical cell.
"""

from __future__ import annotations

from typing import Any

from wsnas.core.errors import ArchError, BenchmarkError, ConfigError
from wsnas.data import dataset_info
from wsnas.spaces.base import SearchSpace


def arch_record(space: SearchSpace, arch: Any, bench: Any | None, data: str | None = None) -> dict[str, Any]:
    """arch, index, canonical, the facts (params_m, flops_m, ...) and, with BENCH, gt_acc,
    gt_rank (0 = best), gt_metric and gt_size (the table's rows, what the rank counts among; left
    out where the table has neither the encoding nor its cell)."""
    text = space.format(arch)
    rec: dict[str, Any] = {"arch": text, "index": None, "canonical": space.canonical(arch)}
    rec.update(space.arch_facts(arch) if data is None else facts_on(space, arch, data))
    if bench is not None:
        q = None
        for key in (text, rec["canonical"]):  # this encoding's row, else its cell's first row
            try:
                q = bench.query(key)
                break
            except (BenchmarkError, ArchError):  # not in the table (DARTS: most genotypes)
                continue
        if q is not None:
            rec.update(
                index=q["index"],
                gt_acc=q["acc"],
                gt_rank=q["rank"],
                gt_metric=bench.metric,
                gt_size=bench.size,
            )
    return rec


def facts_on(space: SearchSpace, arch: Any, data: str) -> dict[str, Any]:
    """The arch's facts on data set DATA's network (NB201: its classes and input size)."""
    dataset_info(data)  # a DataError naming the known data sets
    facts = space.arch_facts_on(arch, data)
    if facts is None:
        raise ConfigError(f"--data {data}: {space.name}'s params/FLOPs are of its own network only")
    return {**facts, "data": data}
