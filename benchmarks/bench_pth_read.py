"""Cost of reading a NAS-Bench-201 `.pth`: torch's weights_only unpickler vs wsnas's restricted C one.

Writes synthetic v1.1-layout files (the layout of a real NATS-Bench record: 'less' = 12 epochs,
cifar10-valid seeds 111/777 and one seed elsewhere; 'full' = 200 epochs, 4 datasets x 3 seeds;
per-epoch train/eval dicts) with N cells, in the legacy torch format the 2020 files use and in
the zip format, then reads each in a fresh process with both readers and prints one JSON object:
seconds, ms per cell, peak RSS, and both extrapolated to the 15,625 cells of the real files.
`--values float` stores per-epoch numbers as Python floats (as the real records do; only params
and latency are numpy), `numpy` as np.float64 (the slow worst case: two REDUCEs per number).

Usage: python benchmarks/bench_pth_read.py [--cells 500] [--out-dir /tmp/x] [--values float numpy]
(numpy files are ~3x larger and the old reader takes ~1 s per cell on them: use fewer cells).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

TOTAL_CELLS = 15625
LESS_SEEDS = {"cifar10-valid": [111, 777], "cifar10": [111], "cifar100": [111], "ImageNet16-120": [111]}
FULL_SEEDS = {ds: [777, 888, 999] for ds in LESS_SEEDS}
EVALS = {
    "cifar10-valid": ["x-valid", "ori-test"],
    "cifar10": ["ori-test"],
    "cifar100": ["ori-test", "x-valid", "x-test"],
    "ImageNet16-120": ["ori-test", "x-valid", "x-test"],
}
"""eval_names per dataset, in the real records' order (the first one is logged every epoch)."""


# -- synthetic file -------------------------------------------------------------------


def _result(rng: np.random.Generator, ds: str, seed: int, epochs: int, arch: str, numpy_values: bool) -> dict:
    """One seed's ResultsCount dict, shaped like the real records (see the module docstring)."""

    def nums(n: int) -> list[Any]:
        xs = rng.uniform(0.0, 100.0, n)
        return [np.float64(x) for x in xs] if numpy_values else xs.tolist()

    def per_epoch(kind: type = dict) -> Any:
        return kind(zip(range(epochs), nums(epochs), strict=True))

    evals = EVALS[ds]
    # 200 epochs: the first eval is logged every epoch, the others only at the end (as in the
    # real files); 12 epochs: all every epoch. eval_times holds every eval at every epoch.
    logged = [f"{ev}@{e}" for i, ev in enumerate(evals) for e in range(epochs) if epochs == 12 or i == 0]
    logged += [f"{ev}@{epochs - 1}" for ev in evals[1:]] if epochs == 200 else []
    timed = [f"{ev}@{e}" for ev in evals for e in range(epochs)]
    return {
        "name": ds,
        "train_acc1es": per_epoch(),
        "train_acc5es": per_epoch() if epochs == 12 else None,
        "train_losses": per_epoch(),
        "train_times": per_epoch(OrderedDict),
        "arch_config": {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": 10},
        "params": np.float64(rng.uniform(0.1, 1.5)),
        "flop": float(rng.uniform(10, 200)),
        "seed": f"{seed:04d}",
        "epochs": epochs,
        "latency": [np.float64(rng.uniform(0.01, 0.03))],
        "eval_names": list(evals),
        "eval_acc1es": dict(zip([str(k) for k in logged], nums(len(logged)), strict=True)),
        "eval_times": dict(zip([str(k) for k in timed], nums(len(timed)), strict=True)),
        "eval_losses": dict(zip([str(k) for k in logged], nums(len(logged)), strict=True)),
        "net_state_dict": None,
    }


def _arch_results(
    rng: np.random.Generator, i: int, arch: str, epochs: int, seeds: dict, numpy_values: bool
) -> dict:
    return {
        "arch_index": i,
        "arch_str": arch,
        "all_results": {
            (ds, s): _result(rng, ds, s, epochs, arch, numpy_values) for ds, ss in seeds.items() for s in ss
        },
        "dataset_seed": {ds: list(ss) for ds, ss in seeds.items()},
        "clear_net_done": True,
    }


def synthetic_benchmark(cells: int, numpy_values: bool, seed: int = 0) -> dict:
    """The v1.1 `.pth` dict with the first CELLS cells filled (meta_archs lists all 15,625)."""
    from wsnas.spaces.nb201.arch import format_arch, index_to_arch

    rng = np.random.default_rng(seed)
    archs = [format_arch(index_to_arch(k)) for k in range(TOTAL_CELLS)]
    infos = {
        i: {
            "less": _arch_results(rng, i, archs[i], 12, LESS_SEEDS, numpy_values),
            "full": _arch_results(rng, i, archs[i], 200, FULL_SEEDS, numpy_values),
        }
        for i in range(cells)
    }
    return {
        "meta_archs": archs,
        "total_archs": TOTAL_CELLS,
        "evaluated_indexes": set(infos),
        "arch2infos": infos,
    }


# -- one read, in a fresh process -----------------------------------------------------


def _peak_rss_mib() -> float:
    """Peak RSS of this process so far: VmHWM (reset by exec, unlike ru_maxrss, which a child inherits)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB or bytes


def read_once(path: Path, reader: str) -> dict[str, Any]:
    """Time one read of PATH; peak RSS is taken before the (untimed) digest of what was read."""
    import torch

    from wsnas.groundtruth import unpickle
    from wsnas.spaces.nb201 import gt_pth

    base = _peak_rss_mib()
    t0 = time.perf_counter()
    if reader == "old":  # what read_pth did before: torch's pure-Python weights_only unpickler
        with torch.serialization.safe_globals(unpickle.torch_safe_globals()):
            data = torch.load(path, map_location="cpu", weights_only=True)
    elif reader == "new":
        data = gt_pth.load_pth(path)
    else:  # "new+table": the whole read_pth, summaries included
        data = gt_pth.read_pth(path, "cifar10/ori-test", "200")
    seconds = time.perf_counter() - t0
    peak = _peak_rss_mib()
    digest = None
    if isinstance(data, dict):
        digest = hashlib.sha256(pickle.dumps(data, protocol=4)).hexdigest()[:16]
    return {"seconds": seconds, "rss_before_mib": base, "peak_rss_mib": peak, "digest": digest}


def read_in_child(path: Path, reader: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--_read", str(path), "--_reader", reader]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- driver ---------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=500, help="cells to write (real files: 15625)")
    ap.add_argument("--out-dir", type=Path, default=None, help="where the files go (default: a temp dir)")
    ap.add_argument("--values", nargs="+", choices=("float", "numpy"), default=["float"])
    ap.add_argument("--formats", nargs="+", choices=("legacy", "zip"), default=["legacy", "zip"])
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--_read", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--_reader", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._read:
        print(json.dumps(read_once(args._read, args._reader)))
        return 0

    import torch

    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="bench_pth_read_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "cells": args.cells,
        "extrapolated_to": TOTAL_CELLS,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cpu": platform.processor() or platform.machine(),
        "out_dir": str(out_dir),
        "files": {},
        "reads": [],
    }
    try:
        for values in args.values:
            t0 = time.perf_counter()
            data = synthetic_benchmark(args.cells, numpy_values=values == "numpy")
            gen_s = time.perf_counter() - t0
            for fmt in args.formats:
                path = out_dir / f"nb201_synth_{args.cells}_{values}_{fmt}.pth"
                t0 = time.perf_counter()
                torch.save(data, path, _use_new_zipfile_serialization=fmt == "zip")
                size = path.stat().st_size
                report["files"][path.name] = {
                    "values": values,
                    "format": fmt,
                    "bytes": size,
                    "bytes_per_cell": round(size / args.cells),
                    "extrapolated_gb": round(size / args.cells * TOTAL_CELLS / 1e9, 2),
                    "generate_s": round(gen_s, 1),
                    "save_s": round(time.perf_counter() - t0, 1),
                }
            del data
            for fmt in args.formats:
                path = out_dir / f"nb201_synth_{args.cells}_{values}_{fmt}.pth"
                path.read_bytes()  # warm the page cache so neither reader pays the first disk read
                reads = {r: read_in_child(path, r) for r in ("old", "new", "new+table")}
                for reader, r in reads.items():
                    delta = r["peak_rss_mib"] - r["rss_before_mib"]
                    report["reads"].append(
                        {
                            "file": path.name,
                            "values": values,
                            "format": fmt,
                            "reader": reader,
                            "seconds": round(r["seconds"], 2),
                            "ms_per_cell": round(1000 * r["seconds"] / args.cells, 3),
                            "extrapolated_s": round(r["seconds"] / args.cells * TOTAL_CELLS, 1),
                            "peak_rss_mib": round(r["peak_rss_mib"], 1),
                            "rss_growth_mib": round(delta, 1),
                            "extrapolated_rss_growth_gib": round(delta / args.cells * TOTAL_CELLS / 1024, 2),
                            "digest": r["digest"],
                        }
                    )
                old, new = reads["old"], reads["new"]
                report.setdefault("speedup", {})[f"{values}/{fmt}"] = round(
                    old["seconds"] / new["seconds"], 2
                )
                report.setdefault("same_data", {})[f"{values}/{fmt}"] = old["digest"] == new["digest"]
    finally:
        if not args.keep and args.out_dir is None:
            shutil.rmtree(out_dir, ignore_errors=True)
        elif not args.keep:
            for p in out_dir.glob(f"nb201_synth_{args.cells}_*.pth"):
                p.unlink()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
