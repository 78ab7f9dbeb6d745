"""A `wsnas estimate` run in parallel: shards of the pool as worker tasks (`execution.tasks`, kind
"estimate") on the local pool or Ray, GPUs shared as for sweeps; rows come back to the driver,
which alone writes scores.csv."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wsnas.core.errors import WsnasError
from wsnas.engine.rundir import RunDir
from wsnas.estimators.identity import check_same
from wsnas.estimators.plan import Plan, load_plan
from wsnas.estimators.scores_file import format_row
from wsnas.estimators.scoring import score_arch
from wsnas.execution.executors import Executor, LocalExecutor, make_executor
from wsnas.execution.placement import GpuRequest, check_run_device
from wsnas.execution.tasks import make_task, register_task_kind

register_task_kind("estimate", "wsnas.estimators.shards:shard_task")


def estimate_executor(
    plan: Plan,
    name: str = "local",
    workers: int | None = None,
    address: str | None = None,
    gpus: GpuRequest | None = None,
) -> Executor | None:
    """Where shards run: None (this process) for one local worker and no GPU placement, else the
    sweep's executor NAME (local processes, Ray), GPUs shared as for sweeps (`execution.placement`):
    `GpuRequest(gpus=N, runs_per_gpu=K)` locally, `gpus_per_run=F` on Ray. Each worker then sees one
    GPU as cuda:0, so the run's device must follow it (runtime.device auto or cuda)."""
    req = gpus or GpuRequest()
    if workers is not None and workers < 1:
        raise WsnasError(f"--workers must be >= 1, got {workers}")
    if name == "local" and not req.any and (workers or 1) == 1:
        return None
    if name not in ("local", "ray"):
        raise WsnasError(f"estimate runs on the local or ray executor, not {name!r}")
    if req.any:
        check_run_device(plan.cfg.runtime.device, "estimate")
    return make_executor(name, workers=workers, threads=1, address=address, gpus=req)


SHARD = 8
"""Archs per task of a parallel run: small, so a stop loses little, large enough to amortise a task."""


def rows_local(plan: Plan, todo: list[int]) -> Iterator[str]:
    for i in todo:
        yield format_row(plan, i, score_arch(plan, i))


def rows_parallel(
    run: RunDir, todo: list[int], workers: int, executor: Executor | None = None
) -> Iterator[str]:
    tasks = [
        make_task("estimate", f"estimate-{k}", str(run.path), threads=1, positions=todo[k : k + SHARD])
        for k in range(0, len(todo), SHARD)
    ]
    with executor or LocalExecutor(workers=workers, threads=1) as ex:
        for result in ex.run(tasks):
            if result.get("status") != "finished":
                raise WsnasError(
                    f"{result['name']} of {run.path}: {result.get('status')}: {result.get('error')}"
                )
            yield from result["rows"]


_SHARD_PLANS: dict[str, Plan] = {}
"""A worker's plan per run dir (data and benchmark read once per process)."""


def score_shard(run_dir: str, positions: list[int]) -> list[str]:
    """scores.csv lines of the pool POSITIONS of the estimate run in RUN_DIR (a parallel worker's task)."""
    if run_dir not in _SHARD_PLANS:
        plan = load_plan(run_dir, ["runtime.threads=1"])
        check_same(plan, RunDir(run_dir))  # this worker's device gives the run's numerics
        _SHARD_PLANS[run_dir] = plan
    plan = _SHARD_PLANS[run_dir]
    return [format_row(plan, i, score_arch(plan, i)) for i in positions]


def shard_task(task: dict[str, Any]) -> dict[str, Any]:
    """The worker side of a shard (`execution.tasks` kind "estimate"): its scores.csv lines."""
    return {"status": "finished", "rows": score_shard(task["run_dir"], task["positions"])}
