"""Executors: where a sweep's runs train. Each yields one result dict per task, as runs finish.

`local`: a pool of spawned processes on this machine (spawn, not fork: torch and
fork do not mix) that die with the driver, even on kill -9. `ray`: Ray tasks on a
local instance or a cluster; Ray is an optional dependency (`pip install 'wsnas[ray]'`).
Nothing is detached: a local Ray dies with the driver, a cluster ends the driver's job
(and kills its tasks) when the driver goes, and tasks in flight are cancelled when the
sweep stops early (an exception, Ctrl-C). GPU placement (K runs per GPU) is
`wsnas.execution.placement`'s.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import torch

from wsnas.core import interrupt
from wsnas.core.errors import WsnasError
from wsnas.execution.placement import (
    VISIBLE_VAR,
    GpuRequest,
    check_run_device,
    gpu_slots,
    local_workers,
    ray_gpu_options,
    visible_gpu_ids,
)
from wsnas.execution.worker import init_gpu_pool_worker, init_pool_worker, run_task

CRASH_RETRIES = 1
"""A task whose worker process died is retried this often (it resumes from its checkpoint)."""


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _check_devices(tasks: list[dict[str, Any]]) -> None:
    """With GPU placement every run must follow its worker's GPU (`placement.check_run_device`)."""
    for t in tasks:
        if "config" in t:
            check_run_device(str(t["config"].get("runtime", {}).get("device", "auto")), t["name"])


def _failed(task: dict[str, Any], error: str) -> dict[str, Any]:
    return {"name": task["name"], "run_dir": task["run_dir"], "status": "failed", "error": error}


class Executor:
    """Runs tasks (see `worker.run_task`) and yields their results in completion order."""

    name = "base"
    threads = 1
    """Torch threads each run gets unless its config sets runtime.threads."""

    def run(self, tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor started (processes, a local Ray instance)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """N concurrent spawned processes on this machine; the cores are split between them.

    With `gpu_slots` (one CUDA_VISIBLE_DEVICES value per worker, `placement.gpu_slots`)
    there is one worker per slot, and each sees only its slot's GPU.
    """

    name = "local"

    def __init__(
        self, workers: int | None = None, threads: int | None = None, gpu_slots: list[str] | None = None
    ) -> None:
        if gpu_slots is not None and workers is not None and workers != len(gpu_slots):
            raise WsnasError(f"{workers} workers for {len(gpu_slots)} GPU slots; give one worker per slot")
        self.gpu_slots = list(gpu_slots) if gpu_slots is not None else None
        self.workers = len(self.gpu_slots) if self.gpu_slots is not None else workers or 1
        self.threads = threads or max(1, available_cores() // self.workers)
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        """One pool for the whole sweep: workers import torch once, not once per stage.

        With spawn, the pool starts its workers in the thread that submits (this one), so
        the kernel's parent-death signal is safe to ask for only from the main thread:
        elsewhere it would fire when that thread ends. The workers' watch thread covers both.
        """
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            args: tuple[Any, ...] = (
                self.threads,
                os.getpid(),
                threading.current_thread() is threading.main_thread(),
            )
            init: Any = init_pool_worker
            if self.gpu_slots is not None:  # a fresh queue of slots for each pool's workers
                slots = ctx.Queue()
                for slot in self.gpu_slots:
                    slots.put(slot)
                init, args = init_gpu_pool_worker, (slots, *args)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=init, initargs=args
            )
        return self._pool

    def run(self, tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if self.gpu_slots is not None:
            _check_devices(tasks)
        pending, crashes = list(tasks), Counter[str]()
        while pending:
            pool, clean = self._get_pool(), False
            futures = {pool.submit(run_task, t): t for t in pending}
            pending = []
            try:
                while futures:
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for fut in done:
                        task = futures.pop(fut)
                        try:
                            result = fut.result()
                        except BrokenProcessPool:
                            # the pool cannot tell which worker died; every task in it is retried
                            crashes[task["name"]] += 1
                            if crashes[task["name"]] > CRASH_RETRIES:
                                yield _failed(task, "worker process died (killed, or out of memory)")
                            else:
                                pending.append(task)
                            continue
                        yield result
                clean = not pending
            finally:
                if not clean:  # a dead worker, or the caller stopped early: start afresh
                    self.close()

    def close(self) -> None:
        if self._pool is not None:
            if interrupt.requested():  # stop the runs in flight at their last checkpoint, now
                _signal_workers(self._pool, signal.SIGTERM)
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _signal_workers(pool: ProcessPoolExecutor, sig: int) -> None:
    """Send SIG to the pool's live worker processes (each stops its run cleanly: `worker`)."""
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(ProcessLookupError, AttributeError, TypeError):
            if proc.is_alive():
                os.kill(proc.pid, sig)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise WsnasError(
            "--executor ray needs Ray, which is not installed: pip install 'wsnas[ray]' "
            "(or use --executor local)"
        ) from None
    return ray


class RayExecutor(Executor):
    """Ray tasks, one per run, on `address` (a cluster) or on a Ray started here.

    The sweep dir must be on storage every node sees (the runs write there), and
    wsnas must be installed on every node. A Ray already initialised by the caller
    is used as it is and left running. `gpus_per_run` asks Ray for that many GPUs per
    run (`num_gpus`; 0.25 packs four runs on a GPU); Ray sets each task's CUDA_VISIBLE_DEVICES.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        threads: int | None = None,
        gpus_per_run: float | None = None,
    ) -> None:
        ray = import_ray()
        self._started = False
        self._inflight: dict[Any, dict[str, Any]] = {}
        if not ray.is_initialized():
            if address:
                ray.init(address=address)
            else:
                ray.init(include_dashboard=False)
            self._started = True
        try:
            resources = ray.cluster_resources()
            gpu = {} if gpus_per_run is None else ray_gpu_options(gpus_per_run, resources.get("GPU", 0))
        except BaseException:
            self.close()  # the Ray started here goes with the refused executor
            raise
        cpus = int(resources.get("CPU", 1))
        self.threads = max(1, min(threads or 1, cpus))
        self.workers = workers
        self.gpus_per_run = gpus_per_run
        # plain (non-detached) tasks owned by this driver: Ray kills them when its job ends
        self._remote = ray.remote(run_task).options(num_cpus=self.threads, max_retries=CRASH_RETRIES, **gpu)

    def run(self, tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        ray = import_ray()
        if self.gpus_per_run is not None:
            _check_devices(tasks)
        queue, inflight = list(tasks), self._inflight
        try:
            while queue or inflight:
                while queue and (self.workers is None or len(inflight) < self.workers):
                    task = queue.pop(0)
                    inflight[self._remote.remote(task)] = task
                done, _ = ray.wait(list(inflight), num_returns=1)
                for ref in done:
                    task = inflight.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as e:  # noqa: BLE001 - worker death, lost node, ...
                        result = _failed(task, f"ray: {type(e).__name__}: {e}")
                    yield result
        finally:  # the caller stopped early (an exception, Ctrl-C, a closed generator)
            self._cancel()

    def _cancel(self) -> None:
        """Cancel the tasks still in flight (a no-op after a run that went to the end)."""
        ray = import_ray()
        if ray.is_initialized():
            for ref in self._inflight:
                ray.cancel(ref)
        self._inflight.clear()

    def close(self) -> None:
        """Cancel what is in flight, then stop the Ray started here (if any)."""
        if self._inflight:  # an interrupted run whose generator was never closed
            self._cancel()
        if self._started:
            import_ray().shutdown()
            self._started = False


FACTORIES: dict[str, Callable[..., Executor]] = {}
"""Executors defined in their own module of this layer, by name; each registers itself when
imported (`wsnas.execution.slurm`: "slurm"; the package's __init__ imports it)."""


def cuda_device_count() -> int:
    """GPUs CUDA shows this process (0 without CUDA); does not start CUDA here."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def make_executor(
    name: str,
    workers: int | None = None,
    threads: int | None = None,
    address: str | None = None,
    gpus: GpuRequest | None = None,
    slurm: Any = None,
    folder: Any = None,
) -> Executor:
    """The executor NAME; `slurm` (`execution.slurm.SlurmOptions`) and `folder` (where its job files
    go) are for `slurm`."""
    req = gpus or GpuRequest()
    if name in FACTORIES:
        if address:
            raise WsnasError("--address is for --executor ray")
        return FACTORIES[name](folder=folder, slurm=slurm, workers=workers, threads=threads, gpus=req)
    if name == "local":
        if address:
            raise WsnasError("--address is for --executor ray")
        workers = local_workers(workers, req)
        slots = None
        if req.gpus is not None:
            visible = visible_gpu_ids(os.environ.get(VISIBLE_VAR), cuda_device_count())
            slots = gpu_slots(req.gpus, req.runs_per_gpu or 1, visible)
        return LocalExecutor(workers=workers, threads=threads, gpu_slots=slots)
    if name == "ray":
        if req.gpus is not None or req.runs_per_gpu is not None:
            raise WsnasError(
                "--gpus and --runs-per-gpu are for --executor local; Ray packs runs on "
                "GPUs with --gpus-per-run F (e.g. 0.25: four runs per GPU)"
            )
        return RayExecutor(address=address, workers=workers, threads=threads, gpus_per_run=req.gpus_per_run)
    raise WsnasError(f"unknown executor {name!r}; known: local, ray, slurm")
