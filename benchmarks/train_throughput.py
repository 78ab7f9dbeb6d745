"""NB201 super-net training and evaluation throughput; prints one JSON object.

Training images/s is end to end: on-device augmentation of uint8 batches, forward,
backward and SGD step of the sampled path(s), exactly as `wsnas.train.Trainer`
does it. Evaluation images/s: super-net accuracy of a pool of archs, no autograd.
`projected_protocol_hours` turns both rates into the wall time of the paper's
protocol: train images x epochs / train rate + evaluations x archs x eval
images / eval rate (defaults: 50,000 x 400, one evaluation of 200 archs on
10,000 images).

    python benchmarks/train_throughput.py --channels 16 --cells 5 --batch-size 256
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from _common import add_protocol_args, device_name, projected_hours, sync

from wsnas.config import LowFidelityConfig, MappingConfig, RuntimeConfig, SamplerConfig
from wsnas.data import DeviceLoader
from wsnas.evaluate import supernet_accuracies
from wsnas.runtime import autocast, memory_format, setup_runtime
from wsnas.spaces import get_space
from wsnas.spaces.samplers import build_sampler


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--cells", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--sampler", default="random_nas", choices=["random_nas", "random_a", "fairnas"])
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--steps", type=int, default=20, help="timed training steps per repeat")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--eval-archs", type=int, default=10)
    p.add_argument("--eval-images", type=int, default=2048)
    p.add_argument("--eval-batch-size", type=int, default=256)
    p.add_argument("--no-amp", action="store_true")
    p.add_argument("--plain", action="store_true", help="the straightforward path (fast_path=False)")
    add_protocol_args(p)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def main() -> None:
    a = parse()
    rt = RuntimeConfig(device=a.device, threads=a.threads, amp=not a.no_amp)
    device = setup_runtime(rt)
    torch.manual_seed(a.seed)
    space = get_space("nb201")
    model = space.supernet(MappingConfig(), LowFidelityConfig(channels=a.channels, cells_per_stage=a.cells))
    model.fast_path = not a.plain
    mf = memory_format(device, rt.channels_last)
    model.to(device, memory_format=mf)
    opt = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, weight_decay=5e-4)
    sampler = build_sampler(space, SamplerConfig(name=a.sampler))
    rng = np.random.default_rng(a.seed)
    n = a.batch_size * (a.steps + a.warmup)
    gen = np.random.default_rng(a.seed)
    x = gen.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    y = gen.integers(0, 10, size=n).astype(np.int64)
    loader = DeviceLoader(x, y, a.batch_size, device=device, shuffle=True, drop_last=True,
                          augment=True, channels_last=mf == torch.channels_last, seed=a.seed)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def train_repeat(epoch: int) -> float:
        model.train()
        loader.set_epoch(epoch)
        it = iter(loader)
        for step in range(a.warmup + a.steps):
            if step == a.warmup:
                sync(device)
                t0 = time.perf_counter()
            xb, yb = next(it)
            opt.zero_grad(set_to_none=True)
            for arch in sampler.step_paths(rng):
                with autocast(device, rt.amp):
                    loss = F.cross_entropy(model(xb, arch), yb)
                loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
        sync(device)
        return a.steps * a.batch_size / (time.perf_counter() - t0)

    train_rates = [train_repeat(r) for r in range(a.repeats)]

    ex = gen.integers(0, 256, size=(a.eval_images, 3, 32, 32), dtype=np.uint8)
    ey = gen.integers(0, 10, size=a.eval_images).astype(np.int64)
    ev = DeviceLoader(ex, ey, a.eval_batch_size, device=device, channels_last=mf == torch.channels_last)
    batches = list(ev)
    archs = [space.sample(rng) for _ in range(a.eval_archs)]
    eval_rates = []
    for _ in range(a.repeats):
        sync(device)
        t0 = time.perf_counter()
        supernet_accuracies(model, archs, batches, rt.amp)
        sync(device)
        eval_rates.append(len(archs) * a.eval_images / (time.perf_counter() - t0))

    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps({
        "benchmark": "nb201_supernet_throughput",
        "device": device_name(device),
        "threads": torch.get_num_threads(), "channels": a.channels, "cells": a.cells,
        "batch_size": a.batch_size, "sampler": a.sampler, "amp": rt.amp and device.type == "cuda",
        "train_images_per_s_median": round(statistics.median(train_rates), 1),
        "train_images_per_s": [round(r, 1) for r in train_rates],
        "eval_images_per_s_median": round(statistics.median(eval_rates), 1),
        "eval_images_per_s": [round(r, 1) for r in eval_rates],
        "eval_archs": a.eval_archs, "eval_images": a.eval_images,
        "peak_memory_mb": round(peak / 2**20, 1),
        "peak_memory_kind": "cuda max_allocated" if device.type == "cuda" else "process max RSS",
        "fast_path": not a.plain,
        "projected_protocol_hours": projected_hours(
            statistics.median(train_rates), statistics.median(eval_rates), a
        ),
        "projection": f"{a.protocol_train_images} x {a.protocol_epochs} / train rate + {a.protocol_evals} x "
        f"{a.protocol_archs} x {a.protocol_eval_images} / eval rate, at batch {a.batch_size}",
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
