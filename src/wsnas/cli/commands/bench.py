"""`wsnas bench import|info SPACE`: convert official ground truth once, inspect the cache."""

from __future__ import annotations

import argparse
import time

from wsnas.cli.commands._io import print_record
from wsnas.cli.commands.sweep import add_gpu_args, add_slurm_args, gpu_request, slurm_overrides

DEFAULT_METRIC = "cifar10/ori-test"
"""NB201's default, as BenchConfig.metric (kept literal so the CLI need not import pydantic);
other spaces default to their loader's `default_metric` / `default_schedule`."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmark ground truth: import official files, show caches")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    imp = verbs.add_parser("import", help="read an official GT file into the cache")
    imp.add_argument("space", help="search space, e.g. nb201")
    imp.add_argument(
        "source",
        help="NB201: .pth, NATS-Bench topology folder or .pbz2, or CSV; NB101: nasbench_*.tfrecord",
    )
    imp.add_argument(
        "--replace",
        action="store_true",
        help="replace a cached table even if the new one covers fewer cells (refused otherwise)",
    )
    _common(imp)
    imp.set_defaults(func=_import)

    build = verbs.add_parser(
        "build", help="train every architecture of a spec stand-alone and write its ground truth"
    )
    build.add_argument(
        "spec", help="build spec YAML (space, archs, seeds, config, executor), or a shipped one (mini-build)"
    )
    build.add_argument("--out", required=True, help="build dir: run dirs, results.csv, table.npz")
    build.add_argument("--cache-dir", help="default: $WSNAS_CACHE or ~/.cache/wsnas")
    build.add_argument("--executor", choices=["local", "ray", "slurm"], help="default: the spec's (local)")
    build.add_argument("--workers", type=int, help="concurrent runs (default: the spec's, else 1)")
    build.add_argument("--threads", type=int, help="torch threads per run")
    build.add_argument("--address", help="Ray cluster address")
    add_gpu_args(build)
    add_slurm_args(build)
    build.add_argument("--json", action="store_true", help="one JSON object")
    build.set_defaults(func=_build)

    info = verbs.add_parser("info", help="size, best cell and provenance of a cached GT table")
    info.add_argument("space", help="search space, e.g. nb201")
    _common(info)
    info.set_defaults(func=_info)


def missing_rows(meta: dict) -> int | None:
    """Rows of the source without a usable GT value: cells without a record (NB201, NB101) or
    models whose final error is not finite (DARTS-NDS); None when the reader did not count them."""
    for key in ("n_missing", "n_skipped_nonfinite"):
        if meta.get(key) is not None:
            return int(meta[key])
    return None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--metric",
        help=f"GT metric (default: the space's; nb201 {DEFAULT_METRIC} as dataset/eval-name, nb101 test)",
    )
    p.add_argument(
        "--schedule", help="training schedule in epochs (default: the space's; nb201 200, nb101 108)"
    )
    p.add_argument("--cache-dir", help="default: $WSNAS_CACHE or ~/.cache/wsnas")
    p.add_argument("--json", action="store_true", help="one JSON object")


def _import(args: argparse.Namespace) -> None:
    from wsnas.groundtruth import import_benchmark
    from wsnas.spaces import get_space

    t0 = time.perf_counter()
    space = get_space(args.space)
    bench, path = import_benchmark(
        space, args.source, args.metric, args.schedule, args.cache_dir, replace=args.replace
    )
    best = bench.best()
    meta = bench.meta
    print_record(
        {
            "space": bench.space,
            "metric": bench.metric,
            "schedule": bench.schedule,
            "rows": bench.size,
            "missing": missing_rows(meta),
            "best_arch": best["arch"],
            "best_acc": round(best["acc"], 4),
            "cache": str(path),
            "source": meta.get("source"),
            "seconds": round(time.perf_counter() - t0, 2),
        },
        args.json,
    )


def _info(args: argparse.Namespace) -> None:
    from wsnas.core.errors import BenchmarkError
    from wsnas.groundtruth import Benchmark, cache_path, check_source, open_benchmark
    from wsnas.spaces import get_space

    space = get_space(args.space)
    loader = space.loader
    metric = loader.resolve_metric(args.metric)
    schedule = str(loader.default_schedule if args.schedule is None else args.schedule)
    path = cache_path(args.space, metric, schedule, args.cache_dir)
    if not path.exists() and loader.default_source is not None:  # shipped with wsnas: import it now
        open_benchmark(space, metric=metric, schedule=schedule, cache_dir=args.cache_dir)
    if not path.exists():
        hint = f" --cache-dir {args.cache_dir}" if args.cache_dir else ""
        raise BenchmarkError(
            f"no {args.space} ground truth cached for metric {metric!r}, schedule "
            f"{schedule} (looked for {path}); run `wsnas bench import {args.space} SOURCE "
            f"--metric {metric} --schedule {schedule}{hint}`"
        )
    bench = Benchmark.load(path)
    meta = bench.meta
    best = bench.best()
    print_record(
        {
            "space": bench.space,
            "metric": bench.metric,
            "schedule": bench.schedule,
            "size": bench.size,
            "missing": missing_rows(meta),
            "unique": len(bench.ids()),
            "best_arch": best["arch"],
            "best_acc": round(best["acc"], 4),
            "cache": str(path),
            "source": meta.get("source"),
            "source_sha256": meta.get("source_sha256"),
            "source_status": check_source(meta),
            "created": meta.get("created"),
            "wsnas_version": meta.get("wsnas_version"),
        },
        args.json,
    )


def _build(args: argparse.Namespace) -> None:
    import shlex

    from wsnas.sweep.build import Build, load_build_spec

    spec, spec_dir = load_build_spec(args.spec)
    build = Build(
        spec,
        spec_dir,
        args.out,
        args.cache_dir,
        args.workers,
        args.threads,
        args.executor,
        args.address,
        gpus=gpu_request(args),
        slurm=slurm_overrides(args),
    )
    command = "wsnas " + " ".join(shlex.quote(a) for a in args.argv)
    from wsnas.cli.commands._io import stoppable

    res = stoppable(lambda: build.run(command=command), args.argv)
    best = res.bench.best()
    meta = res.bench.meta
    print_record(
        {
            "space": res.bench.space,
            "metric": res.bench.metric,
            "schedule": res.bench.schedule,
            "rows": res.bench.size,
            "unique": len(res.bench.ids()),
            "seeds": meta.get("seeds"),
            "seed_std_median": round(meta["seed_std_median"], 4),
            "best_arch": best["arch"],
            "best_acc": round(best["acc"], 4),
            "table": str(res.table),
            "cache": str(res.cache),
            "wall_seconds": meta.get("wall_seconds"),
        },
        args.json,
    )
