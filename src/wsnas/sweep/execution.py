"""Running a sweep's planned runs on an executor and recording each outcome.

Finished and diverged runs are skipped (a diverged run is an outcome, not retried);
a run that raised is retried by the next rerun; a run another process is writing is
skipped and recorded as failed. Started runs must have the planned identity first
(`wsnas.sweep.reuse`). One log line per finished run carries the progress line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wsnas.core.dirlock import holder
from wsnas.sweep.executors import Executor, make_executor
from wsnas.sweep.files import SweepFiles
from wsnas.sweep.placement import GpuRequest
from wsnas.sweep.plan import PlannedRun, run_state
from wsnas.sweep.reuse import check_reuse
from wsnas.sweep.tracking import Tracker


@dataclass
class Execution:
    """Submits runs to one executor, made on first use, and records their results."""

    files: SweepFiles
    tracker: Tracker
    select: str
    """The metric each finished run's log line shows."""
    executor_name: str
    workers: int | None
    threads: int | None
    address: str | None
    gpus: GpuRequest | None
    log: Callable[[str], None] = print
    force: bool = False
    """Delete and retrain runs whose stored identity differs from the planned one (`--force`)."""
    progress_set: bool = False
    """The spec or command line set runtime.progress; otherwise runs train without bars."""
    executor: Executor | None = field(default=None, init=False)

    def get_executor(self) -> Executor:
        if self.executor is None:
            self.executor = make_executor(
                self.executor_name, self.workers, self.threads, self.address, self.gpus
            )
        return self.executor

    def close(self) -> None:
        if self.executor is not None:
            self.executor.close()
            self.executor = None

    def _task(self, run: PlannedRun, threads: int) -> dict[str, Any]:
        cfg = run.cfg.to_dict()
        rt = cfg["runtime"]
        rt["threads"] = rt["threads"] or threads
        if not self.progress_set:
            rt["progress"] = False
        return {
            "name": run.name,
            "run_dir": str(run.run_dir),
            "config": cfg,
            "threads": rt["threads"],
            "checked": True,  # the planner checked it (spaces.check); the worker does not again
        }

    def execute(self, runs: list[PlannedRun], stage: str | None = None) -> None:
        """Run those of `runs` that are not finished or diverged; record every outcome."""
        check_reuse(runs, self.force, self.log)
        status = self.files.status
        todo = []
        for r in runs:
            self.files.record(r, stage, None)
            if status[r.name]["status"] == "pending":
                todo.append(r)
        todo = self._skip_locked(todo, stage)
        self.files.save_status()
        where = f"stage {stage}: " if stage else ""
        done = len(runs) - len(todo)
        resume = sum(1 for r in todo if run_state(r.run_dir) == "resume")
        self.log(f"{where}{len(runs)} runs: {done} done, {len(todo)} to run ({resume} to resume)")
        if not todo:
            return
        ex = self.get_executor()
        by_name = {r.name: r for r in todo}
        tasks = [self._task(r, ex.threads) for r in todo]
        self.tracker.update(running=len(todo))
        self.log(f"progress: {self.tracker.line()}")
        for i, result in enumerate(ex.run(tasks), start=1):
            run = by_name[result["name"]]
            self.files.record(run, stage, result)
            self.files.save_status()
            final = result.get("final") or {}
            metric = self.select
            tail = (
                f"{metric} {final[metric]:.3f}"
                if isinstance(final.get(metric), float)
                else result.get("error", "")
            )
            secs = f", {result['seconds']:.1f} s" if "seconds" in result else ""
            self.tracker.update(running=len(todo) - i)
            self.log(
                f"[{i}/{len(todo)}] {result['status']}: {run.name} ({tail}{secs}) | {self.tracker.line()}"
            )

    def _skip_locked(self, todo: list[PlannedRun], stage: str | None) -> list[PlannedRun]:
        """The runs of TODO that no other process is writing; the others are skipped and
        recorded as failed (reported, and retried by a rerun once that process is done)."""
        free = []
        for r in todo:
            pid = holder(r.run_dir)
            if pid is None:
                free.append(r)
                continue
            error = f"skipped: run dir {r.run_dir} is being written by another process (pid {pid})"
            self.log(f"{r.name}: {error}")
            self.files.record(
                r,
                stage,
                {"name": r.name, "status": "failed", "error": error, "started_as": run_state(r.run_dir)},
            )
        return free
