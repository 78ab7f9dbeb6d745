"""Super-net training beside a competing CPU process: the rate against the idle rate; prints one JSON object.

Why: a run that asks for as many OpenMP threads as the machine has cores loses far more
than its fair share when another process runs beside it (threads that spin-wait at every
parallel region's barrier burn the time slices the straggler needs). This script measures,
for each variant (thread count x OpenMP wait policy), the training rate of an NB201
super-net at nb201-quick's size (8 channels, 1 cell per stage, batch 128; synthetic data,
the work per image of CIFAR-10) alone and beside a competitor (by default another such
training process with 2 threads), each in a fresh process because OpenMP reads its
environment when torch starts its thread pool. The ratio busy/idle is what the variant
keeps of its idle rate; an even split of a 2-core machine between two equal processes is 0.5.

Rates depend on what else the machine runs: compare ratios within one run of the script.

    python benchmarks/busy_machine.py --variants 2:default 2:passive 1:default auto
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child_env(threads: int | None, policy: str) -> dict[str, str]:
    """The environment of one measured process: threads (None: wsnas's default) and a wait policy."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"):
        env.pop(var, None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    if policy == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    elif policy == "active":
        env["OMP_WAIT_POLICY"] = "ACTIVE"
    elif policy.startswith("spin"):  # libgomp: spin this many times, then sleep
        env["GOMP_SPINCOUNT"] = policy.removeprefix("spin")
    elif policy == "wsnas":  # what `wsnas.core.threads.apply_thread_policy` sets before torch starts
        env["WSNAS_BENCH_APPLY_POLICY"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(HERE.parent / "src"), env.get("PYTHONPATH", "")])
    return env


def train_child(seconds: float, batch_size: int) -> None:
    """Child: train steps for SECONDS after warm-up; print images/s of each second-long window (JSON)."""
    if os.environ.get("WSNAS_BENCH_APPLY_POLICY"):
        from wsnas.core.threads import apply_thread_policy

        apply_thread_policy()
    import numpy as np
    import torch
    from _supernet import build, synthetic, train_loader, train_step

    threads = int(os.environ.get("OMP_NUM_THREADS", "0")) or None
    if os.environ.get("WSNAS_BENCH_APPLY_POLICY"):
        threads = None
    if threads:
        torch.set_num_threads(threads)
    s = build("nb201", 8, 1, torch.device("cpu"), amp=False, channels_last=False, seed=0)
    gen = np.random.default_rng(0)
    x, y = synthetic(gen, batch_size * 16)
    loader = train_loader(s, x, y, batch_size)
    s.model.train()
    epoch, rates = 0, []
    it = iter(loader)
    for _ in range(3):  # warm-up
        train_step(s, *next(it))
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0, images = time.perf_counter(), 0
        while time.perf_counter() - t0 < 1.0:
            try:
                xb, yb = next(it)
            except StopIteration:
                epoch += 1
                loader.set_epoch(epoch)
                it = iter(loader)
                xb, yb = next(it)
            train_step(s, xb, yb)
            images += batch_size
        rates.append(images / (time.perf_counter() - t0))
    print(json.dumps({"rates": rates, "threads": torch.get_num_threads()}), flush=True)


def spin_child() -> None:
    """Child: a competitor that keeps its threads busy until killed (large float matmuls)."""
    import torch

    a = torch.randn(512, 512)
    while True:
        a = torch.tanh(a @ a.T / 512.0)


def measure(threads: int | None, policy: str, seconds: float, batch_size: int) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "train",
        "--seconds",
        str(seconds),
        "--batch-size",
        str(batch_size),
    ]
    out = subprocess.run(cmd, env=child_env(threads, policy), capture_output=True, text=True, check=True)
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    return {"img_per_s": statistics.median(rec["rates"]), "threads": rec["threads"]}


def competitor(kind: str, threads: int, batch_size: int) -> subprocess.Popen:
    if kind == "train":
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "train",
            "--seconds",
            "3600",
            "--batch-size",
            str(batch_size),
        ]
    else:
        cmd = [sys.executable, __file__, "--child", "spin"]
    return subprocess.Popen(cmd, env=child_env(threads, "default"), stdout=subprocess.DEVNULL)


def parse_variant(text: str) -> tuple[int | None, str]:
    """'2:passive' -> (2, 'passive'); 'auto' -> (None, 'wsnas'): wsnas's own default."""
    if text == "auto":
        return None, "wsnas"
    n, _, policy = text.partition(":")
    return int(n), policy or "default"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", choices=["train", "spin"], help=argparse.SUPPRESS)
    p.add_argument("--variants", nargs="+", default=["2:default", "2:passive", "1:default", "auto"])
    p.add_argument("--seconds", type=float, default=8.0, help="timed seconds per measurement")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--competitor", choices=["train", "spin"], default="train")
    p.add_argument("--competitor-threads", type=int, default=2)
    a = p.parse_args()
    if a.child == "train":
        return train_child(a.seconds, a.batch_size)
    if a.child == "spin":
        return spin_child()
    results = []
    for text in a.variants:
        threads, policy = parse_variant(text)
        idle = measure(threads, policy, a.seconds, a.batch_size)
        comp = competitor(a.competitor, a.competitor_threads, a.batch_size)
        try:
            time.sleep(3.0)  # the competitor is past its start-up
            busy = measure(threads, policy, a.seconds, a.batch_size)
        finally:
            comp.kill()
            comp.wait()
        results.append(
            {
                "variant": text,
                "threads": idle["threads"],
                "wait_policy": policy,
                "idle_img_per_s": round(idle["img_per_s"], 1),
                "busy_img_per_s": round(busy["img_per_s"], 1),
                "ratio": round(busy["img_per_s"] / idle["img_per_s"], 3),
            }
        )
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(
        json.dumps(
            {
                "cores_usable": len(os.sched_getaffinity(0)),
                "loadavg_at_end": os.getloadavg(),
                "competitor": f"{a.competitor} x {a.competitor_threads} threads",
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
