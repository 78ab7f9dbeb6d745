"""A run's identity: everything that changes its numbers, recorded in its run dir.

    config      cfg.hash(): the config without NOT_IDENTITY (also the run dir name's and
                the checkpoint's config_hash)
    gt          the ground truth's metric, schedule and content fingerprint (the sha256 the
                GT cache records for its source, so moving the file changes nothing)
    numerics    the arithmetic actually used: "bf16" (autocast, CUDA with runtime.amp),
                "tf32" (CUDA without amp: wsnas enables TF32 convs and matmuls there) or
                "fp32" (CPU, where amp is a no-op)
    world_size  processes training one super-net (BN sees batch / world_size per shard)

Not in it: the device name, threads, paths, logging, and runtime.channels_last (a memory
layout: the same arithmetic, differences at the level of cuDNN's own kernel choice).
The trainer writes identity.json when it starts (so cut and diverged runs have one) and
copies it into summary.json; the sweep runner compares it before reusing a run and the
report groups settings by it. A run dir without one is "legacy".
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wsnas.config import RunConfig
from wsnas.core.errors import WsnasError
from wsnas.engine.runtime import resolve_device
from wsnas.groundtruth import open_benchmark
from wsnas.spaces import get_space
from wsnas.spaces.check import bench_metric

IDENTITY_FILE = "identity.json"
VERSION = 1
LEGACY = "legacy"
"""What the report shows for a run dir written before identities were recorded."""


def numerics(device: torch.device | str, amp: bool) -> str:
    """The effective arithmetic of a run on DEVICE with runtime.amp = AMP (module doc)."""
    kind = torch.device(device).type
    if kind != "cuda":
        return "fp32"
    return "bf16" if amp else "tf32"


def gt_fingerprint(bench: Any) -> dict[str, str]:
    """Metric, schedule and content checksum of a Benchmark (the cache's `source_sha256`).

    A table without a recorded source checksum is fingerprinted by its own rows.
    """
    meta = bench.meta
    sha = meta.get("source_sha256")
    if not sha:
        h = hashlib.sha256()
        for col in (np.asarray(bench.arch).astype(str), np.asarray(bench.acc, dtype=np.float64)):
            h.update(json.dumps(col.tolist()).encode())
        sha = "table:" + h.hexdigest()
    return {"metric": str(bench.metric), "schedule": str(bench.schedule), "sha256": str(sha)}


def make_identity(config_hash: str, gt: dict[str, str], numerics: str, world_size: int) -> dict[str, Any]:
    """The identity record: its fields, a version and a 12-hex hash of the fields."""
    fields = {"config": config_hash, "gt": dict(gt), "numerics": numerics, "world_size": int(world_size)}
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]
    return {"version": VERSION, **fields, "hash": digest}


def run_identity(cfg: RunConfig, bench: Any, device: torch.device | str, world_size: int) -> dict[str, Any]:
    """The identity of a super-net run of CFG scored against BENCH on DEVICE."""
    return make_identity(cfg.hash(), gt_fingerprint(bench), numerics(device, cfg.runtime.amp), world_size)


def planned_identity(
    cfg: RunConfig, world_size: int = 1, benches: dict[tuple, Any] | None = None
) -> dict[str, Any]:
    """The identity a run of CFG would get here: its benchmark opened (via BENCHES, a cache), its
    device resolved on this machine."""
    b, space = cfg.bench, get_space(cfg.space.name)
    metric = bench_metric(space, cfg)
    key = (cfg.space.name, b.source, metric, b.schedule, b.cache_dir)
    benches = {} if benches is None else benches
    if key not in benches:
        benches[key] = open_benchmark(
            space, source=b.source, metric=metric, schedule=b.schedule, cache_dir=b.cache_dir
        )
    return run_identity(cfg, benches[key], resolve_device(cfg.runtime), world_size)


def read_identity(run_dir: str | Path) -> dict[str, Any] | None:
    """A run dir's identity (summary.json's, else identity.json); None for a legacy run dir."""
    run_dir = Path(run_dir)
    for path, pick in (
        (run_dir / "summary.json", lambda d: d.get("identity")),
        (run_dir / IDENTITY_FILE, lambda d: d),
    ):
        try:
            found = pick(json.loads(path.read_text()))
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(found, dict) and "hash" in found:
            return found
    return None


def _flat(identity: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in identity.items():
        if k in ("hash", "version"):
            continue
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v
    return out


def identity_diff(stored: dict[str, Any] | None, planned: dict[str, Any]) -> list[str]:
    """The differing fields as 'field: stored X, planned Y' (empty when the identities match)."""
    if stored is None:
        return ["identity: not recorded (a run dir from an older wsnas)"]
    a, b = _flat(stored), _flat(planned)
    keys = dict.fromkeys([*b, *a])
    return [
        f"{k}: stored {_short(a.get(k))}, planned {_short(b.get(k))}" for k in keys if a.get(k) != b.get(k)
    ]


def _short(v: Any) -> Any:
    """A checksum's first 12 hex digits (enough to tell two apart in a message)."""
    return v[:12] if isinstance(v, str) and len(v) == 64 else v


def record_identity(run: Any, identity: dict[str, Any]) -> None:
    """Write IDENTITY into RUN's identity.json; a resumed run must have the one it started with."""
    path = Path(run.path) / IDENTITY_FILE
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except ValueError:
            stored = None
        diff = identity_diff(stored if isinstance(stored, dict) else None, identity)
        if stored is not None and diff:
            raise WsnasError(
                f"{run.path} was started with another identity ({'; '.join(diff)}); resuming would "
                "mix its numbers: resume it with the runtime and ground truth it started with"
            )
    run.write_json(path, identity)


def describe(identity: dict[str, Any] | None) -> str:
    """One short line of what an identity adds to the config (the report's `identity` value)."""
    if identity is None:
        return LEGACY
    gt = identity.get("gt", {})
    sha = str(gt.get("sha256", "?")).removeprefix("table:")[:12]
    return f"gt {sha}, {identity.get('numerics')}, world {identity.get('world_size')}"
