"""`wsnas arch info SPACE ARCH | --file FILE`: facts about one architecture.

ARCH is the space's own notation (NB201 string; NB101 JSON spec).

Index and ground truth come from the imported benchmark (if any); params and
FLOPs are those of the benchmark's stand-alone network on the data set the metric was
measured on (NB201: `--metric cifar100/x-test` gives the 100-class network's), or on
`--data NAME`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from wsnas.cli.commands._io import print_record, read_lines
from wsnas.core.errors import ArchError, BenchmarkError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("arch", help="one architecture: canonical id, params, FLOPs, ground truth")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    info = verbs.add_parser("info", help="index, canonical id, params (M), FLOPs (M), GT")
    info.add_argument("space")
    info.add_argument("arch", nargs="?", help="arch string in the benchmark's notation")
    info.add_argument("--file", help="one arch per line; prints one JSON object per line")
    info.add_argument("--json", action="store_true", help="one JSON object")
    info.add_argument("--metric", help="GT metric of the imported benchmark (default: the space's)")
    info.add_argument("--data", help="data set of the params/FLOPs (default: the metric's; NB201 only)")
    info.add_argument("--schedule", help="benchmark schedule in epochs (default: the space's)")
    info.add_argument("--cache-dir", help="benchmark cache (default: $WSNAS_CACHE or ~/.cache/wsnas)")
    info.set_defaults(func=_info)


def _benchmark(args: argparse.Namespace, space: Any) -> tuple[Any, str | None]:
    """(the imported benchmark, None), or (None, why there is no GT and how to import it)."""
    from wsnas.groundtruth import open_benchmark

    try:
        return open_benchmark(
            space, metric=args.metric, schedule=args.schedule, cache_dir=args.cache_dir
        ), None
    except BenchmarkError as e:
        return None, str(e)  # not imported: report the network facts, and how to get the GT


def facts_data(args: argparse.Namespace, space: Any) -> str | None:
    """The data set whose network the params/FLOPs describe: --data, else the metric's (None: the space's)."""
    if args.data is not None:
        return str(args.data)
    if args.metric is None:
        return None
    try:
        where = space.loader.measured_on(space.loader.resolve_metric(args.metric))
    except BenchmarkError:
        return None
    return where.data[0] if where is not None else None


def human(rec: dict[str, Any], no_gt: str | None) -> dict[str, Any]:
    """RECORD as people read it: no `index None`; the GT rank from 1 = best; why a GT is missing."""
    out = {k: v for k, v in rec.items() if not (k == "index" and v is None)}
    if "gt_rank" in out:
        out["gt_rank"] = (
            f"{out['gt_rank'] + 1:,}"
            + (f" of {rec['gt_size']:,}" if "gt_size" in rec else "")
            + " (1 = best)"
        )
    out.pop("gt_size", None)
    if no_gt is not None:
        out["gt"] = "none known: " + no_gt
    elif "gt_acc" not in rec:
        out["gt"] = f"none known: not in the imported {rec.get('gt_metric') or 'benchmark'} table"
    return out


def describe(space: Any, arch: Any, bench: Any, data: str | None = None) -> dict[str, Any]:
    """The record printed for one architecture (`wsnas.spaces.facts.arch_record`)."""
    from wsnas.spaces.facts import arch_record

    return arch_record(space, arch, bench, data)


def _info(args: argparse.Namespace) -> None:
    from wsnas.spaces import get_space

    if (args.arch is None) == (args.file is None):
        raise ArchError("give one ARCH or --file FILE")
    space = get_space(args.space)
    bench, no_gt = _benchmark(args, space)
    data = facts_data(args, space)
    if args.arch is not None:
        rec = describe(space, space.parse(args.arch), bench, data)
        print_record(rec if args.json else human(rec, no_gt), args.json)
        return
    for number, line in read_lines(args.file):
        try:
            arch = space.parse(line)
        except ArchError as e:
            raise ArchError(f"{args.file} line {number}: {e}") from None
        print(json.dumps(describe(space, arch, bench, data)), flush=True)
