"""Cost of the NB201 ground truth: import from the CSV export vs load from the cache.

Prints one JSON object (seconds and peak extra Python/numpy memory by tracemalloc).
Usage: python benchmarks/bench_load.py [CSV] [--repeats N]
CSV defaults to ../shared/data/nb201/nb201_accuracy_200ep.csv beside the checkout
(or under $WSNAS_SHARED_DATA).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wsnas.groundtruth import Benchmark, import_benchmark, open_benchmark
from wsnas.spaces import get_space


def default_csv() -> Path:
    env = os.environ.get("WSNAS_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return root / "nb201" / "nb201_accuracy_200ep.csv"


def peak_mib(fn: Callable[[], Any]) -> float:
    """Peak memory allocated while FN runs, above what was live before (MiB)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return round((peak - base) / 2**20, 2)


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", type=Path, default=default_csv())
    ap.add_argument("--repeats", type=int, default=9, help="cache loads to take the median of")
    args = ap.parse_args()
    if not args.csv.is_file():
        print(f"bench_load: no CSV at {args.csv} (pass one, or set WSNAS_SHARED_DATA)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        bench, path = import_benchmark(get_space("nb201"), args.csv, cache_dir=cache)
        import_s = time.perf_counter() - t0
        import_mem = peak_mib(lambda: import_benchmark(get_space("nb201"), args.csv, cache_dir=cache))
        loads = timed(lambda: Benchmark.load(path), args.repeats)
        opens = timed(lambda: open_benchmark(get_space("nb201"), cache_dir=cache), args.repeats)
        load_mem = peak_mib(lambda: Benchmark.load(path))
        fresh = Benchmark.load(path)
        t0 = time.perf_counter()
        fresh.query(bench.best()["arch"])  # builds the lookup dicts once
        first_query_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for a in bench.arch[:1000].tolist():
            fresh.rank(a)
        rank_us = (time.perf_counter() - t0) / 1000 * 1e6
        print(
            json.dumps(
                {
                    "source": str(args.csv),
                    "rows": bench.size,
                    "cache_bytes": path.stat().st_size,
                    "import_s": round(import_s, 4),
                    "import_peak_mib": import_mem,
                    "load_median_s": round(statistics.median(loads), 4),
                    "load_min_s": round(min(loads), 4),
                    "load_max_s": round(max(loads), 4),
                    "load_peak_mib": load_mem,
                    "open_benchmark_median_s": round(statistics.median(opens), 4),
                    "first_query_s": round(first_query_s, 4),
                    "rank_lookup_us": round(rank_us, 2),
                    "repeats": args.repeats,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
