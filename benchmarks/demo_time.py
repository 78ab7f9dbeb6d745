"""Wall time of `wsnas demo` (target: about a minute on 2 CPU cores), by phase.

Runs the demo from scratch in a temp dir with an empty ground-truth cache, REPEATS
times, and prints one JSON object: total wall seconds per repeat and their median,
the training seconds of each run (from its summary), and the report's seconds.
Usage: python benchmarks/demo_time.py [--repeats N] [--threads N] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch


def one_demo(threads: int | None, seeds: tuple[int, ...]) -> dict[str, object]:
    from wsnas.presets.demo import run_demo
    from wsnas.report import write_report

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["WSNAS_CACHE"] = str(Path(tmp) / "cache")
        overrides = [f"runtime.threads={threads}"] if threads else []
        t0 = time.perf_counter()
        res = run_demo(Path(tmp) / "demo", overrides, seeds, report=False, log=lambda m: None)
        t1 = time.perf_counter()
        runs = [s["run_dir"] for group in res.summaries.values() for s in group]
        write_report(runs, Path(tmp) / "demo" / "report")
        t2 = time.perf_counter()
        train = {
            Path(s["run_dir"]).name: round(s["timing"]["seconds"], 2)
            for group in res.summaries.values()
            for s in group
        }
    return {
        "total_s": round(t2 - t0, 2),
        "runs_s": round(t1 - t0, 2),
        "report_s": round(t2 - t1, 2),
        "train_s_per_run": train,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    reps = [one_demo(args.threads, tuple(args.seeds)) for _ in range(args.repeats)]
    totals = [r["total_s"] for r in reps]
    print(
        json.dumps(
            {
                "total_s_median": statistics.median(totals),
                "total_s": totals,
                "repeats": reps,
                "seeds": args.seeds,
                "threads": args.threads or torch.get_num_threads(),
                "cpu_count": os.cpu_count(),
                "machine": platform.machine(),
                "torch": torch.__version__,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
