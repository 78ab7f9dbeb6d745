"""`wsnas arch info SPACE ARCH | --file FILE`: facts about one architecture.

ARCH is the space's own notation (NB201 string; NB101 JSON spec).

Index and ground truth come from the imported benchmark (if any); params and
FLOPs are those of the benchmark's stand-alone network on the data set the metric was
measured on (NB201: `--metric cifar100/x-test` gives the 100-class network's), or on
`--data NAME`. `key=value` overrides name the ground truth as `train` and `estimate` take it
(`bench.source=FILE` imports it on first use; `data.name=cifar100` picks that data set's metric).
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from wsnas.cli.commands._io import print_record, read_lines
from wsnas.core.errors import ArchError, BenchmarkError, ConfigError, did_you_mean

KEYS = ("bench.source", "bench.metric", "bench.schedule", "bench.cache_dir", "data.name")
"""The config keys `arch info` reads from key=value overrides (the others describe training)."""

_OVERRIDE = re.compile(r"[A-Za-z_][\w]*(\.[\w]+)*=")
"""A key=value override; no space's arch notation starts like this (`|op~0|...`, JSON): one in ARCH's
place (`SPACE key=value --file F`) is an override."""


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
    info.add_argument(
        "overrides",
        nargs="*",
        help=f"key.sub=value overrides, as train and estimate take them: {', '.join(KEYS)} "
        "(bench.source: the official file or CSV, imported on first use)",
    )
    info.set_defaults(func=_info)


def apply_overrides(args: argparse.Namespace, space: Any) -> str | None:
    """Fold key=value overrides into ARGS' --metric/--schedule/--cache-dir/--data; return bench.source.

    A key arch info does not read is refused (it would change nothing), as is an option given twice
    with two values (`--metric X bench.metric=Y`)."""
    from wsnas.config import load_config
    from wsnas.spaces.check import bench_metric

    if not args.overrides:
        return None
    for item in args.overrides:
        if "=" not in item:
            raise ArchError(
                f"unrecognized argument {item!r}: give one ARCH (or --file), then key=value overrides"
            )
        key = item.split("=", 1)[0].strip()
        if key not in KEYS:
            raise ConfigError(
                f"override {item!r}: `wsnas arch info` reads only {', '.join(KEYS)}; "
                f"'{key}' would change nothing here{did_you_mean(key, list(KEYS))}"
            )
    cfg = load_config(None, list(args.overrides))
    given = {item.split("=", 1)[0].strip() for item in args.overrides}
    b = cfg.bench
    metric = bench_metric(space, cfg) if given & {"bench.metric", "data.name"} else None
    for option, value in (("metric", metric), ("schedule", b.schedule), ("cache_dir", b.cache_dir)):
        if value is None:
            continue
        flag = getattr(args, option)
        if flag is not None and str(flag) != str(value):
            raise ConfigError(
                f"--{option.replace('_', '-')} {flag} and the override's {value}: give one of the two"
            )
        setattr(args, option, value)
    if "data.name" in given and args.data is None:
        args.data = cfg.data.name
    return b.source


def _benchmark(args: argparse.Namespace, space: Any, source: str | None = None) -> tuple[Any, str | None]:
    """(the imported benchmark, None), or (None, why there is no GT and how to import it). A SOURCE
    given (bench.source) that cannot be read is an error, not a missing GT."""
    from wsnas.groundtruth import open_benchmark

    try:
        return open_benchmark(
            space, source=source, metric=args.metric, schedule=args.schedule, cache_dir=args.cache_dir
        ), None
    except BenchmarkError as e:
        if source is not None:
            raise BenchmarkError(f"bench.source={source}: {e}") from None
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

    if args.arch is not None and _OVERRIDE.match(args.arch):  # `SPACE key=value --file F`
        args.overrides, args.arch = [args.arch, *args.overrides], None
    if (args.arch is None) == (args.file is None):
        raise ArchError("give one ARCH or --file FILE")
    space = get_space(args.space)
    source = apply_overrides(args, space)
    bench, no_gt = _benchmark(args, space, source)
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
