"""Running a sweep's planned runs on an executor and recording each outcome.

Finished and diverged runs are skipped (a diverged run is an outcome, not retried);
a run that raised is retried by the next rerun. A run another process is writing (a pool
that joined with `--join`, a hand-started resume) is neither run twice nor recorded as
failed: the driver runs the others first, then waits for it and records its outcome (or
runs it, if that process stopped before finishing it); a joined pool just leaves it.
Started runs must have the planned identity first (`wsnas.sweep.reuse`). One log line per
finished run carries the progress line.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsnas.core.dirlock import holder
from wsnas.engine.rundir import run_state
from wsnas.execution.executors import Executor, make_executor
from wsnas.execution.placement import GpuRequest
from wsnas.execution.tasks import make_task, register_task_kind
from wsnas.sweep.files import SweepFiles
from wsnas.sweep.plan import PlannedRun
from wsnas.sweep.reuse import check_reuse
from wsnas.sweep.tracking import Tracker

register_task_kind("supernet", "wsnas.trainers.task:train_task")


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
    joined: bool = False
    """This pool joined another driver's sweep: runs held by others are left to them."""
    slurm: Any = None
    """`--executor slurm` options (`execution.slurm_options`): the spec's, the command line's over them."""
    slurm_folder: Path | None = None
    """Where the Slurm executor keeps its job files (SWEEP/slurm)."""
    poll_seconds: float = 2.0
    """How often a driver looks whether a run held by another process has been released."""
    executor: Executor | None = field(default=None, init=False)

    def get_executor(self) -> Executor:
        if self.executor is None:
            self.executor = make_executor(
                self.executor_name,
                self.workers,
                self.threads,
                self.address,
                self.gpus,
                slurm=self.slurm,
                folder=self.slurm_folder,
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
        return make_task(
            "supernet",
            run.name,
            str(run.run_dir),
            config=cfg,
            threads=rt["threads"],
            checked=True,  # the planner checked it (spaces.check); the worker does not again
        )

    def execute(self, runs: list[PlannedRun], stage: str | None = None) -> None:
        """Run those of `runs` that are not finished or diverged; record every outcome."""
        check_reuse(runs, self.force, self.log)
        status = self.files.status
        todo = []
        for r in runs:
            self.files.record(r, stage, None)
            if status[r.name]["status"] == "pending":
                todo.append(r)
        todo, held = self._split_held(todo)
        self.files.save_status()
        where = f"stage {stage}: " if stage else ""
        done = len(runs) - len(todo) - len(held)
        resume = sum(1 for r in todo if run_state(r.run_dir) == "resume")
        others = f", {len(held)} held by other processes" if held else ""
        self.log(f"{where}{len(runs)} runs: {done} done, {len(todo)} to run ({resume} to resume){others}")
        held += self._run(todo, stage)
        if self.joined:
            for r in held:
                pid = holder(r.run_dir)
                self.log(f"{r.name}: left to the process that writes it" + (f" (pid {pid})" if pid else ""))
            return
        while held:
            held = self._wait_for_release(held, stage)

    def _run(self, todo: list[PlannedRun], stage: str | None) -> list[PlannedRun]:
        """Run TODO on the executor and record each outcome; returns the runs that another process
        took between the check and the start (their outcome is that process's)."""
        if not todo:
            return []
        ex = self.get_executor()
        by_name = {r.name: r for r in todo}
        tasks = [self._task(r, ex.threads) for r in todo]
        self.tracker.update(running=len(todo))
        self.log(f"progress: {self.tracker.line()}")
        taken = []
        for i, result in enumerate(ex.run(tasks), start=1):
            run = by_name[result["name"]]
            if result["status"] == "failed" and holder(run.run_dir) is not None:
                taken.append(run)  # refused by the run dir's lock: another process writes it
                self.tracker.update(running=len(todo) - i)
                self.log(f"[{i}/{len(todo)}] taken by another process: {run.name} | {self.tracker.line()}")
                continue
            self.files.record(run, stage, result)
            self.files.save_status()
            self.tracker.update(running=len(todo) - i)
            final = result.get("final") or {}
            metric = self.select
            tail = (
                f"{metric} {final[metric]:.3f}"
                if isinstance(final.get(metric), float)
                else result.get("error", "")
            )
            secs = f", {result['seconds']:.1f} s" if "seconds" in result else ""
            self.log(
                f"[{i}/{len(todo)}] {result['status']}: {run.name} ({tail}{secs}) | {self.tracker.line()}"
            )
        return taken

    def _split_held(self, todo: list[PlannedRun]) -> tuple[list[PlannedRun], list[PlannedRun]]:
        """(the runs of TODO that no other process is writing, those another process writes)."""
        free: list[PlannedRun] = []
        held: list[PlannedRun] = []
        for r in todo:
            (free if holder(r.run_dir) is None else held).append(r)
        return free, held

    def _wait_for_release(self, held: list[PlannedRun], stage: str | None) -> list[PlannedRun]:
        """Wait until another process releases one of HELD; record what it left (finished runs),
        run what it did not finish; returns the runs still held."""
        pids = sorted({str(pid) for r in held if (pid := holder(r.run_dir))})  # a lock can go meanwhile
        who = f" (pid {', '.join(pids)})" if pids else ""
        names = ", ".join(r.name for r in held)
        self.log(f"waiting for {len(held)} run(s) that other processes write{who}: {names}")
        while True:
            free, still = self._split_held(held)
            if free:
                break
            time.sleep(self.poll_seconds)
        again = []
        for r in free:
            self.files.record(r, stage, None)
            if self.files.status[r.name]["status"] == "pending":
                again.append(r)  # that process stopped before finishing it: run it here
            else:
                self.log(f"{r.name}: {self.files.status[r.name]['status']} by another process")
        self.files.save_status()
        return still + self._run(again, stage)
