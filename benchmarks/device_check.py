"""One prepared device check: CUDA tests, super-net rates, bf16 numerics, packing, projections; one JSON.

Sections (each records its own error instead of stopping the others, and its seconds):

- `cuda_tests`: `pytest -m cuda tests/engine/test_cuda.py` (skipped on a machine without CUDA);
- `throughput`: training and evaluation images/s and peak memory of the NB201 (C=16, N=5),
  NB101 (stem 128, 3x3 cells) and DARTS-NDS (16 channels, 8 cells) super-nets at batch 256,
  bf16 autocast + channels-last vs the same without (on CUDA wsnas then computes in TF32;
  on CPU both are fp32, so only one variant is measured there). Synthetic CIFAR-shaped data
  (uniform uint8 pixels, random labels): the work per image is CIFAR-10's;
- `numerics`: two real runs (`wsnas.trainers.supernet_trainer.train`, nb201_mini on scikit-learn's digits, its
  shipped ground truth) from the same seed, a few hundred steps, with and without bf16:
  the per-arch super-net accuracies of the pool and the ranking metrics, and their differences;
- `packing`: K = 1, 2, 4, 8 processes training the NB201 super-net at once on one GPU, each
  seeing it through CUDA_VISIBLE_DEVICES as the sweep's local executor places them
  (`--gpus 1 --runs-per-gpu K`); aggregate training images/s over the common window;
- `search`: `search_algorithms.py` (a search step per algorithm, no reference) and
  `search_controllers.py` (ENAS's and NAO's steps and controller work) on the device, and
  `table5_projection.py`'s hours of the Table 5 NB201 study at those step times;
- `projection`: the paper's 400-epoch NB201 protocol (configs/nb201.yaml, with its pool
  evaluations) and the NB201 study (sweeps/nb201.yaml, via the sweep planner) in hours
  at these rates, one run at a time and packed (see _projection.py for the model).

    python benchmarks/device_check.py --out device.json   # a GPU: ~5 min (an estimate, not yet run)
    python benchmarks/device_check.py --device cpu --quick --out x.json   # tiny sizes: seconds
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import multiprocessing as mp
import os
import platform
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import device_name, sync
from _projection import packed_hours, run_seconds, study_stages
from _supernet import (
    PAPER_SIZES,
    build,
    eval_batches,
    peak_memory,
    reset_peak,
    synthetic,
    time_eval,
    time_train,
    train_loader,
    train_step,
)

import wsnas.presets
from wsnas.config import RuntimeConfig, load_config
from wsnas.core.atomic import write_text_atomic
from wsnas.core.metrics import kendall_tau
from wsnas.engine.runtime import setup_runtime
from wsnas.execution.placement import gpu_slots
from wsnas.trainers.supernet_trainer import train

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "wsnas" / "configs"
SYNTHETIC = (
    "synthetic CIFAR-shaped data (uint8 3x32x32, uniform pixels, random labels): "
    "throughput only, accuracies meaningless"
)
QUICK_SIZES = {"nb201": (4, 1), "nb101": (16, 1), "darts_nds": (4, 1)}


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="write the JSON here too (atomically)")
    p.add_argument("--device", default="auto", help="auto | cuda | cuda:N | cpu")
    p.add_argument("--quick", action="store_true", help="tiny sizes, few steps, K = 1, 2 (seconds on a CPU)")
    p.add_argument("--packing", help="comma-separated K (default 1,2,4,8; quick 1,2)")
    p.add_argument("--skip-tests", action="store_true", help="leave out the pytest -m cuda run")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def sizes(a: argparse.Namespace) -> dict[str, Any]:
    """Every size the check uses: the paper's, or tiny ones with --quick."""
    if a.quick:
        return dict(
            quick=True,
            nets=QUICK_SIZES,
            batch=32,
            steps=2,
            warmup=1,
            repeats=2,
            eval_archs=2,
            eval_images=64,
            eval_batch=64,
            packing=[1, 2],
            pack_steps=4,
            pack_warmup=2,
            num_steps=18,
            num_channels=4,
            num_cells=1,
            num_pool=10,
        )
    return dict(
        quick=False,
        nets=PAPER_SIZES,
        batch=256,
        steps=25,
        warmup=10,
        repeats=3,
        eval_archs=10,
        eval_images=5120,
        eval_batch=256,
        packing=[1, 2, 4, 8],
        pack_steps=40,
        pack_warmup=10,
        num_steps=300,
        num_channels=16,
        num_cells=5,
        num_pool=125,
    )


def section(out: dict[str, Any], name: str, fn: Callable[[], dict[str, Any]], path: Path) -> None:
    """Run one section into out[name]; an exception becomes its `error` (the others still run).

    The JSON so far is written to `path` after each section, so a run cut by a time limit
    still leaves the figures it measured (`complete` stays false until the end).
    """
    t0 = time.perf_counter()
    try:
        out[name] = fn()
    except Exception as e:  # noqa: BLE001 - the check reports what broke, then goes on
        out[name] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=8)[-3000:]}
    out[name]["seconds"] = round(time.perf_counter() - t0, 1)
    print(f"device_check: {name} done in {out[name]['seconds']} s", file=sys.stderr, flush=True)
    write_text_atomic(path, json.dumps(out, indent=1) + "\n")


def median_and_all(values: list[float]) -> dict[str, Any]:
    return {"median": round(statistics.median(values), 1), "per_repeat": [round(v, 1) for v in values]}


# ---- cuda tests ------------------------------------------------------------------------------
CUDA_TESTS = "tests/engine/test_cuda.py"  # relative to ROOT; tests/cli/test_device_check.py checks it exists


def cuda_tests(device: torch.device) -> dict[str, Any]:
    """`pytest -m cuda`; ok when nothing failed and, on a GPU, something ran (all skipped is not ok)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "cuda",
        CUDA_TESTS,
        "-o",
        "addopts=",
        "-q",
        "-rs",
        "-p",
        "no:cacheprovider",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    text = proc.stdout + proc.stderr
    summary = text.strip().splitlines()[-1] if text.strip() else ""
    counts = {k: 0 for k in ("passed", "failed", "skipped", "errors")}
    for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)\b", summary):
        counts["errors" if kind.startswith("error") else kind] += int(n)
    ran = counts["passed"] > 0 or device.type != "cuda"
    res: dict[str, Any] = {
        "command": "python " + " ".join(cmd[1:]),
        "returncode": proc.returncode,
        "summary": summary,
        **counts,
        "ok": proc.returncode in (0, 5) and not counts["failed"] + counts["errors"] and ran,
    }
    if not res["ok"]:
        res["output_tail"] = text[-3000:]
    return res


# ---- throughput ------------------------------------------------------------------------------
def variants(device: torch.device) -> list[tuple[str, bool, bool]]:
    """(name, amp, channels_last): bf16 + channels-last and plain on CUDA; plain only on CPU."""
    if device.type == "cuda":
        return [("bf16_channels_last", True, True), ("tf32", False, False)]
    return [("fp32", False, False)]


def measure(
    space: str,
    channels: int,
    cells: int,
    device: torch.device,
    amp: bool,
    channels_last: bool,
    z: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    s = build(space, channels, cells, device, amp=amp, channels_last=channels_last, seed=seed)
    gen = np.random.default_rng(seed)
    warmup = z["warmup"] * (2 if space == "nb101" else 1)  # NB101's many vertex widths: more shapes to tune
    x, y = synthetic(gen, z["batch"] * (z["steps"] + warmup))
    loader = train_loader(s, x, y, z["batch"], seed=seed)
    ex, ey = synthetic(gen, z["eval_images"])
    batches = eval_batches(s, ex, ey, z["eval_batch"])
    archs = [s.space.sample(s.rng) for _ in range(z["eval_archs"])]
    reset_peak(device)
    train = [time_train(s, loader, z["steps"], warmup, epoch=r) for r in range(z["repeats"])]
    time_eval(s, archs[:1], batches[:1])  # warm the eval shapes
    evals = [time_eval(s, archs, batches) for _ in range(z["repeats"])]
    peak_mb, kind = peak_memory(device)
    res = {
        "numerics": s.numerics,
        "channels_last": s.channels_last,
        "train_images_per_s": median_and_all(train),
        "eval_images_per_s": median_and_all(evals),
        "peak_memory_mb": peak_mb,
        "peak_memory_kind": kind,
    }
    del s, loader, batches
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return res


def throughput(device: torch.device, z: dict[str, Any], seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "data": SYNTHETIC,
        "quick": z["quick"],
        "batch_size": z["batch"],
        "eval_batch_size": z["eval_batch"],
        "eval_archs": z["eval_archs"],
        "eval_images": z["eval_images"],
        "steps": z["steps"],
        "warmup_steps": z["warmup"],
        "repeats": z["repeats"],
    }
    for space, (channels, cells) in z["nets"].items():
        row: dict[str, Any] = {"channels": channels, "cells_per_stage": cells}
        for name, amp, cl in variants(device):
            row[name] = measure(space, channels, cells, device, amp, cl, z, seed)
        if device.type == "cuda":
            fast, plain = row["bf16_channels_last"], row["tf32"]
            row["bf16_speedup"] = {
                k: round(fast[k]["median"] / plain[k]["median"], 3)
                for k in ("train_images_per_s", "eval_images_per_s")
            }
        else:
            row["bf16_channels_last"] = {"skipped": "bf16 autocast and channels-last act on CUDA only"}
        out[space] = row
    return out


def best_rates(tp: dict[str, Any]) -> tuple[float, float, str]:
    """NB201's training and evaluation images/s in the variant a default run uses."""
    row = tp["nb201"]
    name = "bf16_channels_last" if "numerics" in row["bf16_channels_last"] else "fp32"
    v = row[name]
    return v["train_images_per_s"]["median"], v["eval_images_per_s"]["median"], name


# ---- numerics --------------------------------------------------------------------------------
def one_run(root: Path, name: str, device: str, amp: bool, z: dict[str, Any], seed: int) -> dict[str, Any]:
    epochs = math.ceil(z["num_steps"] / (1198 // 64))  # digits: 1,198 training images, batch 64
    cfg = load_config(
        Path(wsnas.presets.__file__).parent / "demo.yaml",
        [
            f"lowfi.channels={z['num_channels']}",
            f"lowfi.cells_per_stage={z['num_cells']}",
            f"protocol.epochs={epochs}",
            "eval.epochs=[]",
            f"eval.pool_size={z['num_pool']}",
            f"runtime.device={device}",
            f"runtime.amp={str(amp).lower()}",
            f"runtime.channels_last={str(amp).lower()}",
            f"seed={seed}",
            f"out_dir={root}",
            f"name={name}",
        ],
    )
    summary = train(cfg)
    run = root / name
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    last_epoch = [r for r in log if r["type"] == "epoch"][-1]
    csv = sorted((run / "evals").glob("epoch_*.csv"))[-1]
    lines = csv.read_text().splitlines()
    header = lines[0].split(",")
    accs = [float(line.split(",")[header.index("supernet_acc")]) for line in lines[1:]]
    final = summary["final"]
    return {
        "numerics": summary["identity"]["numerics"],
        "epochs": epochs,
        "steps": epochs * (1198 // 64),
        "train_loss_last_epoch": round(last_epoch["train_loss"], 5),
        **{k: final[k] for k in ("supernet_acc_mean", "kdt", "skdt", "final_acc", "pbr") if k in final},
        "supernet_acc": accs,
    }


def numerics_check(device: torch.device, z: dict[str, Any], seed: int) -> dict[str, Any]:
    dev = "cuda" if device.type == "cuda" else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        low = one_run(Path(tmp), "amp", dev, True, z, seed)
        full = one_run(Path(tmp), "no-amp", dev, False, z, seed)
    a, b = np.array(low.pop("supernet_acc")), np.array(full.pop("supernet_acc"))
    diff = np.abs(a - b)
    same = low["numerics"] == full["numerics"]
    return {
        "setting": "wsnas.trainers.supernet_trainer.train: nb201_mini on digits (real data, shipped GT), "
        "presets/demo.yaml "
        f"with {z['num_channels']} channels, {z['num_cells']} cell(s) per stage, batch 64, same seed",
        "compared": [low["numerics"], full["numerics"]],
        "note": (
            "on this device bf16 autocast does not act: both runs compute in "
            f"{low['numerics']}, so this checks the comparison and same-seed reproducibility"
        )
        if same
        else "the only difference between the runs is runtime.amp (and channels_last)",
        "with_amp": low,
        "without_amp": full,
        "pool_size": int(a.size),
        "supernet_acc_abs_diff_mean": round(float(diff.mean()), 4),
        "supernet_acc_abs_diff_max": round(float(diff.max()), 4),
        "kendall_tau_between_runs": None
        if np.ptp(a) == 0 or np.ptp(b) == 0
        else round(float(kendall_tau(a, b)), 4),
        "kdt_diff": None
        if low.get("kdt") is None or full.get("kdt") is None
        else round(low["kdt"] - full["kdt"], 4),
        "train_loss_diff": round(low["train_loss_last_epoch"] - full["train_loss_last_epoch"], 5),
    }


# ---- packing ---------------------------------------------------------------------------------
def pack_worker(
    rank: int,
    slot: str | None,
    device: str,
    z: dict[str, Any],
    threads: int,
    seed: int,
    barrier: Any,
    results: Any,
) -> None:
    """One of K concurrent trainers: warm up, wait for the others, time the same number of steps."""
    try:
        if slot is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = slot  # before CUDA starts in this process
        dev = setup_runtime(RuntimeConfig(device=device, threads=threads))
        channels, cells = z["nets"]["nb201"]
        s = build("nb201", channels, cells, dev, amp=True, channels_last=True, seed=seed + rank)
        gen = np.random.default_rng(seed + rank)
        n = z["batch"] * (z["pack_warmup"] + z["pack_steps"])
        loader = train_loader(s, *synthetic(gen, n), z["batch"], seed=seed + rank)
        it = iter(loader)
        s.model.train()
        for _ in range(z["pack_warmup"]):
            train_step(s, *next(it))
        sync(dev)
        reset_peak(dev)
        barrier.wait(timeout=600)
        t0 = time.monotonic()
        for _ in range(z["pack_steps"]):
            train_step(s, *next(it))
        sync(dev)
        t1 = time.monotonic()
        results.put(
            {
                "rank": rank,
                "t0": t0,
                "t1": t1,
                "images": z["pack_steps"] * z["batch"],
                "peak_memory_mb": peak_memory(dev)[0],
                "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
            }
        )
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        barrier.abort()
        results.put({"rank": rank, "error": f"{type(e).__name__}: {e}"})


def pack_level(k: int, device: torch.device, z: dict[str, Any], seed: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    slots: list[str | None] = [None] * k
    if device.type == "cuda":  # as `--gpus 1 --runs-per-gpu K` places them: all on this GPU
        index = device.index or 0
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        ids = [x.strip() for x in visible.split(",")] if visible else [str(i) for i in range(index + 1)]
        slots = list(gpu_slots(1, k, [ids[index]]))
    # CPU side of a GPU run: the cores split between the runs, as the local executor splits them;
    # on a CPU-only check one thread each, so K runs do not oversubscribe the cores they measure
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = max(1, cores // k) if device.type == "cuda" else 1
    barrier, results = ctx.Barrier(k), ctx.Queue()
    dev = "cuda" if device.type == "cuda" else "cpu"
    procs = [
        ctx.Process(target=pack_worker, args=(r, slots[r], dev, z, threads, seed, barrier, results))
        for r in range(k)
    ]
    for p in procs:
        p.start()
    got: list[dict[str, Any]] = []
    while len(got) < k:
        try:
            got.append(results.get(timeout=5))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead:  # died without a word (killed, out of memory)
                for p in procs:
                    p.kill()
                raise RuntimeError(f"K={k}: a packed run's process died (exit codes {dead})") from None
    for p in procs:
        p.join(timeout=60)
    errors = [g["error"] for g in got if "error" in g]
    if errors:
        raise RuntimeError(f"K={k}: {'; '.join(errors)}")
    start, end = min(g["t0"] for g in got), max(g["t1"] for g in got)
    images = sum(g["images"] for g in got)
    return {
        "aggregate_train_images_per_s": round(images / (end - start), 1),
        "per_run_train_images_per_s": [round(g["images"] / (g["t1"] - g["t0"]), 1) for g in got],
        "peak_memory_mb_per_run": [g["peak_memory_mb"] for g in got],
        "peak_memory_kind": "cuda max_allocated" if device.type == "cuda" else "process max RSS",
        "cuda_visible_devices": sorted({str(g["visible"]) for g in got}),
        "threads_per_run": threads,
    }


def packing(device: torch.device, z: dict[str, Any], ks: list[int], seed: int) -> dict[str, Any]:
    gc.collect()
    if device.type == "cuda":  # hand the GPU's cached blocks back before K other processes want them
        torch.cuda.empty_cache()
    channels, cells = z["nets"]["nb201"]
    out: dict[str, Any] = {
        "net": f"nb201 C={channels} N={cells}, batch {z['batch']}, default runtime "
        "(bf16 + channels-last on CUDA)",
        "data": SYNTHETIC,
        "timed_steps_per_run": z["pack_steps"],
        "aggregate": "all runs' images / (last run's end - first run's start), timed after a common barrier",
        "levels": {},
    }
    for k in ks:
        out["levels"][str(k)] = pack_level(k, device, z, seed)
    one = out["levels"][str(ks[0])]["aggregate_train_images_per_s"]
    out["speedup_over_k1"] = {
        k: round(v["aggregate_train_images_per_s"] / one, 3) for k, v in out["levels"].items()
    }
    return out


# ---- projection ------------------------------------------------------------------------------
def search(device: torch.device, z: dict[str, Any]) -> dict[str, Any]:
    """The search algorithms' step times on DEVICE and the Table 5 NB201 study's projected hours."""
    here = Path(__file__).resolve().parent
    dev = "cuda" if device.type == "cuda" else "cpu"
    small = ["--threads", str(torch.get_num_threads())]
    small += ["--channels", "4", "--cells", "1", "--batch-size", "16"] if z["quick"] else []
    runs = {
        "steps": ["search_algorithms.py", "--no-reference", "--device", dev, "--steps", "2",
                  "--repeats", "3"],
        "controllers": ["search_controllers.py", "--device", dev, "--steps", "2", "--repeats", "3",
                        "--nao-controller-epochs", "1"] + (["--nao-seed-archs", "20"] if z["quick"] else []),
    }  # fmt: skip
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, args in runs.items():
            cmd = [sys.executable, str(here / args[0]), *args[1:], *small]
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, check=True)
            out[key] = json.loads(proc.stdout.strip().splitlines()[-1])
            Path(tmp, f"{key}.json").write_text(proc.stdout)
        cmd = [sys.executable, str(here / "table5_projection.py"), "--steps", f"{tmp}/steps.json",
               "--controllers", f"{tmp}/controllers.json"]  # fmt: skip
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
        out["table5_nb201_projection"] = json.loads(proc.stdout)
    return out


def projection(tp: dict[str, Any], pk: dict[str, Any] | None) -> dict[str, Any]:
    train_rate, eval_rate, variant = best_rates(tp)
    cfg = load_config(SHIPPED / "nb201.yaml")
    proto = run_seconds(cfg, train_rate, eval_rate)
    cost = lambda c: run_seconds(c, train_rate, eval_rate)["total_s"]  # noqa: E731
    out: dict[str, Any] = {
        "rates": {
            "train_images_per_s": train_rate,
            "eval_images_per_s": eval_rate,
            "from": f"throughput.nb201.{variant} (batch {tp['batch_size']}, eval batch "
            f"{tp['eval_batch_size']})",
        },
        "protocol": {
            "config": "configs/nb201.yaml",
            **{k: v for k, v in proto.items() if not k.endswith("_s")},
            "train_minutes": round(proto["train_s"] / 60, 2),
            "eval_minutes": round(proto["eval_s"] / 60, 2),
            "minutes": round(proto["total_s"] / 60, 2),
            "goal_minutes": 30,
            "meets_goal": proto["total_s"] <= 1800,
        },
        "study": {
            "spec": "sweeps/nb201.yaml",
            "model": "benchmarks/_projection.py (every run at the "
            "measured NB201 paper-size rates; stages one after another)",
            "goal_hours": 24,
        },
    }
    aggregate = None
    if pk is not None and "levels" in pk:
        aggregate = {int(k): v["aggregate_train_images_per_s"] for k, v in pk["levels"].items()}
    for choose in ("first", "longest"):
        stages = study_stages(SHIPPED / "sweeps" / "nb201.yaml", cost, choose)
        hours = sum(sum(st["seconds"]) for st in stages) / 3600
        row: dict[str, Any] = {
            "runs": sum(st["runs"] for st in stages),
            "stages": [
                {"stage": st["stage"], "runs": st["runs"], "hours": round(sum(st["seconds"]) / 3600, 2)}
                for st in stages
            ],
            "hours_one_run_at_a_time": round(hours, 2),
        }
        if aggregate is not None and 1 in aggregate:
            row["hours_by_runs_per_gpu"] = packed_hours(stages, aggregate)
            row["meets_goal"] = min(row["hours_by_runs_per_gpu"].values()) <= 24
        out["study"][f"choices_{choose}"] = row
    if tp.get("quick"):
        out["caveat"] = "--quick: tiny nets and few steps; these hours are not the paper's sizes"
    out["study"]["choices"] = (
        "choices_first: every sequential stage keeps its first listed value (the "
        "starting point); choices_longest: every stage picks its most expensive value"
    )
    return out


def main() -> None:
    a = parse()
    z = sizes(a)
    if a.packing:
        z["packing"] = sorted({int(k) for k in a.packing.split(",")} | {1})
    t0 = time.perf_counter()
    device = setup_runtime(RuntimeConfig(device=a.device))
    path = Path(a.out)
    out: dict[str, Any] = {
        "benchmark": "device_check",
        "complete": False,
        "quick": a.quick,
        "device": device_name(device),
        "device_type": device.type,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "cores": os.cpu_count(),
        "gpu_memory_gib": round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1)
        if device.type == "cuda"
        else None,
        "data": {
            "throughput_and_packing": SYNTHETIC,
            "numerics": "scikit-learn's digits (real, ships with a dependency)",
        },
    }
    if a.skip_tests:
        out["cuda_tests"] = {"skipped": "--skip-tests"}
    else:
        section(out, "cuda_tests", lambda: cuda_tests(device), path)
    section(out, "throughput", lambda: throughput(device, z, a.seed), path)
    section(out, "numerics", lambda: numerics_check(device, z, a.seed), path)
    section(out, "packing", lambda: packing(device, z, z["packing"], a.seed), path)
    section(out, "search", lambda: search(device, z), path)
    if "error" in out["throughput"]:
        out["projection"] = {"skipped": "no throughput figures"}
    else:
        pk = out["packing"] if "error" not in out["packing"] else None
        section(out, "projection", lambda: projection(out["throughput"], pk), path)
    broken = [
        k
        for k in ("cuda_tests", "throughput", "numerics", "packing", "search", "projection")
        if "error" in out[k] or out[k].get("ok") is False
    ]
    out["ok"] = not broken
    out["broken_sections"] = broken
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["complete"] = True
    text = json.dumps(out, indent=1)
    write_text_atomic(path, text + "\n")
    print(text)


if __name__ == "__main__":
    main()
