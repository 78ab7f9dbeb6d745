"""Super-net evaluation throughput of an architecture pool, per eval batch size; prints one JSON object.

Times `wsnas.trainers.evaluate.supernet_accuracies` (what the trainer runs after scheduled
epochs): eval mode, inference mode (no autograd), every arch of the pool over
every image, archs that run the same pruned path computed once. images/s counts
archs x images, i.e. the work the pool needs, whatever was de-duplicated.

Batch size and results: with BN running statistics off (the paper's setting)
eval mode normalises each batch with its own statistics, so an arch's accuracy
depends slightly on the eval batch size (and on which images share a batch);
compare accuracies only at one batch size. Throughput, not accuracy, is measured here.

The default is the paper's pool (200 archs on 10,000 images), hours on a laptop
CPU; shrink with --archs/--images, e.g.

    python benchmarks/eval_throughput.py --archs 10 --images 2048 --batch-sizes 128,256,512,1024
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from typing import Any

import numpy as np
import torch
from _common import device_name, sync

from wsnas.config import LowFidelityConfig, MappingConfig, RuntimeConfig
from wsnas.data import DeviceLoader
from wsnas.engine.runtime import memory_format, setup_runtime
from wsnas.spaces import get_space
from wsnas.trainers.evaluate import same_path_groups, supernet_accuracies


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--archs", type=int, default=200, help="pool size")
    p.add_argument("--images", type=int, default=10_000, help="eval images per arch")
    p.add_argument("--batch-sizes", default="128,256,512,1024")
    p.add_argument("--repeats", type=int, default=1, help="passes over the pool per batch size")
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--cells", type=int, default=5)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall clock, or this process's CPU time (steadier on a busy machine with --threads 1)",
    )
    p.add_argument("--no-amp", action="store_true")
    p.add_argument("--plain", action="store_true", help="the straightforward path (fast_path=False)")
    p.add_argument("--no-dedup", action="store_true", help="compute archs with the same path again")
    p.add_argument(
        "--compare-plain",
        action="store_true",
        help="also time the straightforward evaluation (fast_path=False, no dedup), interleaved",
    )
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def main() -> None:
    a = parse()
    rt = RuntimeConfig(device=a.device, threads=a.threads, amp=not a.no_amp, progress=False)
    device = setup_runtime(rt)
    mf = memory_format(device, rt.channels_last)
    amp = rt.amp and device.type == "cuda"
    torch.manual_seed(a.seed)
    space = get_space("nb201")
    model = space.supernet(MappingConfig(), LowFidelityConfig(channels=a.channels, cells_per_stage=a.cells))
    model.fast_path = not a.plain
    model.to(device, memory_format=mf)
    rng = np.random.default_rng(a.seed)
    pool = [space.sample(rng) for _ in range(a.archs)]
    unique = len(set(same_path_groups(model, pool)))
    x = rng.integers(0, 256, size=(a.images, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, size=a.images).astype(np.int64)
    sizes = [int(s) for s in a.batch_sizes.split(",")]
    batches = {
        bs: list(DeviceLoader(x, y, bs, device=device, channels_last=mf == torch.channels_last))
        for bs in sizes
    }
    variants = {"main": (model, not a.no_dedup)}
    if a.compare_plain:
        plain = copy.deepcopy(model)
        plain.fast_path = False
        variants["plain"] = (plain, False)
    for m, _ in variants.values():  # warm up kernels and plans on a few archs
        supernet_accuracies(m, pool[:2], batches[sizes[0]][:1], amp)

    clock = time.perf_counter if a.clock == "wall" else time.process_time

    def time_pool(m: torch.nn.Module, dedup: bool, bs: int) -> list[float]:
        """Seconds per computed arch: the pool as `supernet_accuracies` runs it, one arch per call."""
        todo = sorted(set(same_path_groups(m, pool))) if dedup else range(len(pool))
        seconds = []
        for i in todo:
            sync(device)
            t0 = clock()
            supernet_accuracies(m, [pool[i]], batches[bs], amp, dedup=False)
            sync(device)
            seconds.append(clock() - t0)
        return seconds

    runs = [(bs, v) for bs in sizes for v in variants]
    rates: dict[tuple[int, str], list[float]] = {run: [] for run in runs}
    arch_seconds: dict[tuple[int, str], list[float]] = {run: [] for run in runs}
    for r in range(a.repeats):
        for bs, v in runs if r % 2 == 0 else runs[::-1]:  # interleaved, order reversed each repeat
            m, dedup = variants[v]
            seconds = time_pool(m, dedup, bs)
            arch_seconds[bs, v].extend(seconds)
            rates[bs, v].append(len(pool) * a.images / sum(seconds))

    def stats(v: list[float]) -> dict[str, Any]:
        return {"median": round(statistics.median(v), 1), "per_repeat": [round(t, 1) for t in v]}

    best = max(sizes, key=lambda bs: statistics.median(rates[bs, "main"]))
    out: dict[str, Any] = {
        "benchmark": "nb201_supernet_eval_throughput",
        "device": device_name(device),
        "threads": torch.get_num_threads(),
        "clock": a.clock,
        "channels": a.channels,
        "cells": a.cells,
        "archs": a.archs,
        "unique_paths": unique,
        "dedup": not a.no_dedup,
        "fast_path": not a.plain,
        "images": a.images,
        "amp_bf16": amp,
        "repeats": a.repeats,
        "images_per_s": {str(bs): stats(rates[bs, "main"]) for bs in sizes},
        "images_per_s_from_median_arch": {
            str(bs): round(a.images / statistics.median(arch_seconds[bs, "main"]), 1) for bs in sizes
        },
        "best_batch_size": best,
        "pool_seconds_at_best": round(a.archs * a.images / statistics.median(rates[best, "main"]), 1),
        "note": "BN uses batch statistics in eval mode: accuracies shift slightly with the eval batch size",
        "torch": torch.__version__,
    }
    if a.compare_plain:
        out["plain_images_per_s"] = {str(bs): stats(rates[bs, "plain"]) for bs in sizes}
        out["plain_images_per_s_from_median_arch"] = {
            str(bs): round(a.images / statistics.median(arch_seconds[bs, "plain"]), 1) for bs in sizes
        }
        out["ratio_over_plain_median"] = {
            str(bs): round(
                statistics.median(
                    [x / y for x, y in zip(rates[bs, "main"], rates[bs, "plain"], strict=True)]
                ),
                3,
            )
            for bs in sizes
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
