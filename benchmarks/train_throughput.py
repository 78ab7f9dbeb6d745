"""NB201 super-net training and evaluation throughput; prints one JSON object.

Training images/s is end to end: on-device augmentation of uint8 batches, forward,
backward and SGD step of the sampled path(s), exactly as `wsnas.trainers.supernet_trainer.Trainer`
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
import statistics

import numpy as np
import torch
from _common import add_protocol_args, device_name, projected_hours
from _supernet import (
    build,
    eval_batches,
    peak_memory,
    reset_peak,
    synthetic,
    time_eval,
    time_train,
    train_loader,
)

from wsnas.config import RuntimeConfig
from wsnas.engine.runtime import setup_runtime


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
    s = build(
        "nb201",
        a.channels,
        a.cells,
        device,
        amp=rt.amp,
        channels_last=rt.channels_last,
        seed=a.seed,
        sampler=a.sampler,
        fast_path=not a.plain,
    )
    gen = np.random.default_rng(a.seed)
    x, y = synthetic(gen, a.batch_size * (a.steps + a.warmup))
    loader = train_loader(s, x, y, a.batch_size, seed=a.seed)
    reset_peak(device)
    train_rates = [time_train(s, loader, a.steps, a.warmup, epoch=r) for r in range(a.repeats)]

    ex, ey = synthetic(gen, a.eval_images)
    batches = eval_batches(s, ex, ey, a.eval_batch_size)
    archs = [s.space.sample(s.rng) for _ in range(a.eval_archs)]
    eval_rates = [time_eval(s, archs, batches) for _ in range(a.repeats)]
    peak_mb, peak_kind = peak_memory(device)
    print(
        json.dumps(
            {
                "benchmark": "nb201_supernet_throughput",
                "device": device_name(device),
                "threads": torch.get_num_threads(),
                "channels": a.channels,
                "cells": a.cells,
                "batch_size": a.batch_size,
                "sampler": a.sampler,
                "amp": rt.amp and device.type == "cuda",
                "train_images_per_s_median": round(statistics.median(train_rates), 1),
                "train_images_per_s": [round(r, 1) for r in train_rates],
                "eval_images_per_s_median": round(statistics.median(eval_rates), 1),
                "eval_images_per_s": [round(r, 1) for r in eval_rates],
                "eval_archs": a.eval_archs,
                "eval_images": a.eval_images,
                "peak_memory_mb": peak_mb,
                "peak_memory_kind": peak_kind,
                "fast_path": not a.plain,
                "projected_protocol_hours": projected_hours(
                    statistics.median(train_rates), statistics.median(eval_rates), a
                ),
                "projection": f"{a.protocol_train_images} x {a.protocol_epochs} / train rate + "
                f"{a.protocol_evals} x "
                f"{a.protocol_archs} x {a.protocol_eval_images} / eval rate, at batch {a.batch_size}",
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
