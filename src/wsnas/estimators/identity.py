"""The identity of a `wsnas estimate` run (what changes its scores) and the check that a run dir
being resumed, or a shard being scored, has this identity."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

from wsnas.config import identity_view
from wsnas.core.errors import WsnasError
from wsnas.engine.identity import gt_fingerprint, make_identity, numerics
from wsnas.engine.rundir import RunDir
from wsnas.estimators.proxies.latency import LATENCY, device_label
from wsnas.estimators.registry import provenance

ADDED_OPTIONS: dict[str, Any] = {"network": "benchmark"}
"""Options added after runs were made, with the default that is what the code did before: left out of
the hash at that default, so the runs made before keep their identity (and stay resumable)."""
REVISED: dict[str, int] = {"te_nas_lr": 2, "swap": 2, "swap_reg": 2}
"""Estimators whose values changed after runs were made, with the revision of their definition: a
run that scores one holds the revisions in its identity, so a run scored with the old definition is
never resumed (or sharded) with the new one. (Revision 2 of te_nas_lr: TENAS's own linear-region
count on its thin network, where the ports' count was always the batch size; revision 2 of swap and
swap_reg: the channels-last forwards, float rounding only; CHANGELOG.md.)"""
NOT_HASHED = ("archs_source", "archs_dropped")
"""Recorded options that do not change a score: where an explicit list came from and how many repeats
it lost (the list itself enters as `archs_sha256`)."""


class Plan(Protocol):
    """What the identity reads of an `estimators.plan.Plan` (a protocol: the plan module uses this one)."""

    cfg: Any
    estimators: Any
    bench: Any
    device: Any
    identity: dict[str, Any]

    def options_record(self) -> dict[str, Any]: ...


def estimate_identity(plan: Plan) -> dict[str, Any]:
    """Config hash over what changes a score (space, data, GT choice, pool, seed, options) + GT checksum
    + numerics; protocol, sampler and mapping of the config do not enter (no super-net is trained)."""
    d = identity_view(plan.cfg.to_dict())
    keep = {k: d.get(k) for k in ("space", "data", "bench", "seed")}
    rec = plan.options_record()
    drawn = () if rec.get("archs") == "list" else ("pool_size", "pool_seed")  # a list is no drawn pool
    keep["eval"] = {k: d.get("eval", {}).get(k) for k in (*drawn, "sparse_threshold", "top_k")}
    keep["estimate"] = {
        k: v
        for k, v in rec.items()
        if k not in NOT_HASHED and not (k in ADDED_OPTIONS and ADDED_OPTIONS[k] == v)
    }
    plugins = {e.name: p for e in plan.estimators if (p := provenance(e)) is not None}
    if plugins:  # (only then: the runs of wsnas's own estimators keep their identity)
        keep["plugins"] = plugins
    revised = {c: REVISED[c] for c in rec.get("columns", ()) if c in REVISED}
    if revised:  # (only then: runs without a revised estimator keep their identity)
        keep["revisions"] = revised
    if any(c in LATENCY for c in rec.get("columns", ())):  # timings belong to the machine
        keep["latency_device"] = device_label(plan.device)
    digest = hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:12]
    return make_identity(digest, gt_fingerprint(plan.bench), numerics(plan.device, False), 1)


def check_same(plan: Plan, run: RunDir) -> None:
    """The run dir's identity is this plan's: the same settings, ground truth and numerics (a CPU run
    resumed, or a shard scored, on a GPU would mix fp32 and TF32 scores in one scores.csv)."""
    try:
        stored = json.loads((run.path / "identity.json").read_text())
    except (OSError, ValueError):
        return
    if stored.get("config") != plan.identity["config"]:
        raise WsnasError(
            f"{run.path} holds an estimate run with other settings (config {stored.get('config')}, "
            f"these: {plan.identity['config']}); resume it with its own settings or choose another name"
        )
    for key, what in (("gt", "ground truth"), ("numerics", "numerics (device)")):
        if key in stored and stored[key] != plan.identity[key]:
            raise WsnasError(
                f"{run.path} was scored with other {what}: {stored[key]} there, {plan.identity[key]} here "
                f"(runtime.device={plan.cfg.runtime.device!r} gives {plan.device}); resume it where it "
                "started, or choose another name"
            )
