"""Executors: where a sweep's runs train. Each yields one result dict per task, as runs finish.

`local`: a pool of spawned processes on this machine (spawn, not fork: torch and
fork do not mix) that die with the driver, even on kill -9. `ray`: Ray tasks on a
local instance or a cluster; Ray is an optional dependency (`pip install 'wsnas[ray]'`).
Nothing is detached: a local Ray dies with the driver, a cluster ends the driver's job
(and kills its tasks) when the driver goes, and tasks in flight are cancelled when the
sweep stops early (an exception, Ctrl-C).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from wsnas import interrupt
from wsnas.errors import WsnasError
from wsnas.sweep.worker import init_pool_worker, run_task

CRASH_RETRIES = 1
"""A task whose worker process died is retried this often (it resumes from its checkpoint)."""


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
    """N concurrent spawned processes on this machine; the cores are split between them."""

    name = "local"

    def __init__(self, workers: int | None = None, threads: int | None = None) -> None:
        self.workers = workers or 1
        self.threads = threads or max(1, available_cores() // self.workers)
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        """One pool for the whole sweep: workers import torch once, not once per stage.

        With spawn, the pool starts its workers in the thread that submits (this one), so
        the kernel's parent-death signal is safe to ask for only from the main thread:
        elsewhere it would fire when that thread ends. The workers' watch thread covers both.
        """
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_pool_worker,
                initargs=(self.threads, os.getpid(), threading.current_thread() is threading.main_thread()),
            )
        return self._pool

    def run(self, tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
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
    is used as it is and left running.
    """

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 threads: int | None = None) -> None:
        ray = import_ray()
        self._started = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address)
            else:
                ray.init(include_dashboard=False)
            self._started = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.threads = max(1, min(threads or 1, cpus))
        self.workers = workers
        # plain (non-detached) tasks owned by this driver: Ray kills them when its job ends
        self._remote = ray.remote(run_task).options(num_cpus=self.threads, max_retries=CRASH_RETRIES)
        self._inflight: dict[Any, dict[str, Any]] = {}

    def run(self, tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        ray = import_ray()
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


def make_executor(name: str, workers: int | None = None, threads: int | None = None,
                  address: str | None = None) -> Executor:
    if name == "local":
        if address:
            raise WsnasError("--address is for --executor ray")
        return LocalExecutor(workers=workers, threads=threads)
    if name == "ray":
        return RayExecutor(address=address, workers=workers, threads=threads)
    raise WsnasError(f"unknown executor {name!r}; known: local, ray")
