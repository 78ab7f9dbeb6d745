"""Running a sweep: skip what is done, resume what was cut, record what failed.

The sweep dir holds `runs/NAME/` (one run dir per run, see wsnas.engine.rundir) and
the record files of `wsnas.sweep.files` (sweep.yaml, base.yaml, status.json,
failed.jsonl, sequential.json, paper.json).

What is done is read from the run dirs themselves (summary.json), so a killed sweep
reruns into the same state. `Sweep` puts together the parts, each in its module:

    sweep.files       the sweep dir's record files and every run's status entry
    sweep.stages      the runs of each mode; sequential stages and their choices, paper mode
    sweep.execution   submitting runs to the executor (local processes or Ray), recording results
    sweep.tracking    done/running/failed/total, the current stage and an ETA; `status_lines()`
    sweep.folder_lock one driver per sweep folder; `--join` adds a worker pool that writes nothing
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsnas.core.dirlock import holder
from wsnas.core.errors import WsnasError
from wsnas.engine.rundir import run_state
from wsnas.execution.executors import Executor
from wsnas.execution.placement import GpuRequest, local_workers
from wsnas.sweep.execution import Execution
from wsnas.sweep.files import SweepFiles
from wsnas.sweep.folder_lock import sweep_lock
from wsnas.sweep.plan import PlannedRun, Planner
from wsnas.sweep.spec import SweepSpec, load_spec
from wsnas.sweep.stages import Stages, SweepResult
from wsnas.sweep.status import Progress
from wsnas.sweep.tracking import Tracker

__all__ = ["Log", "Sweep", "SweepResult", "run_sweep"]

Log = Callable[[str], None]


@dataclass
class Sweep:
    """One sweep dir driven by one spec; `run()` is idempotent."""

    spec: SweepSpec
    spec_dir: Path | None
    out_dir: Path
    overrides: list[str] = field(default_factory=list)
    executor: str | None = None
    workers: int | None = None
    threads: int | None = None
    address: str | None = None
    log: Log = print
    force: bool = False
    """Delete and retrain runs whose stored identity differs from the planned one (`--force`)."""
    gpus: GpuRequest | None = None
    """GPU placement (`--gpus`, `--runs-per-gpu`, `--gpus-per-run`), each over the spec's."""
    join: bool = False
    """Join the driver that runs this sweep folder as another worker pool (`--join`): run what
    nobody runs, write none of the folder's files, choose nothing."""
    slurm: dict[str, Any] | None = None
    """`--executor slurm` options from the command line, each over the spec's `executor.slurm`."""

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.planner = Planner(self.spec, self.spec_dir, self.out_dir, self.overrides)
        ex = self.spec.executor
        cli_workers, cli_gpus = self.workers, self.gpus or GpuRequest()
        self.executor = self.executor or ex.name
        self.workers = self.workers or ex.workers
        self.threads = self.threads or ex.threads
        self.address = self.address or ex.address
        self.gpus = GpuRequest(
            cli_gpus.gpus or ex.gpus,
            cli_gpus.runs_per_gpu or ex.runs_per_gpu,
            cli_gpus.gpus_per_run or ex.gpus_per_run,
        )
        if self.executor == "local" and self.gpus.any:
            # GPU slots size the pool (progress, ETA); GPU options on the command line override
            # the spec's workers, an explicit --workers must agree with them
            asked = cli_workers if cli_workers is not None or cli_gpus.any else ex.workers
            self.workers = local_workers(asked, self.gpus)
        progress_set = any(
            o.split("=", 1)[0].strip() == "runtime.progress"
            for o in [*self.spec.override_items(), *self.overrides]
        )
        self.files = SweepFiles(self.out_dir, self.spec.mode, read_only=self.join)
        self.stages = Stages(self.spec, self.planner, self.files, self.log)
        self.tracker = Tracker(self.spec, self.planner, self.files, self.stages, self.workers or 1)
        self.execution = Execution(
            self.files,
            self.tracker,
            self.spec.select,
            self.executor or "local",
            self.workers,
            self.threads,
            self.address,
            self.gpus,
            self.log,
            self.force and not self.join,
            progress_set,
            joined=self.join,
            slurm=self.spec.executor.slurm.merged(self.slurm),
            slurm_folder=self.out_dir / "slurm",
        )

    # ---- files ---------------------------------------------------------------------------
    @property
    def status_file(self) -> Path:
        return self.files.status_file

    @property
    def failed_file(self) -> Path:
        return self.files.failed_file

    @property
    def sequential_file(self) -> Path:
        return self.files.sequential_file

    @property
    def paper_file(self) -> Path:
        return self.files.paper_file

    # ---- execution -----------------------------------------------------------------------
    @property
    def _executor(self) -> Executor | None:
        """The executor in use (made on first use; tests put a fake one here)."""
        return self.execution.executor

    @_executor.setter
    def _executor(self, executor: Executor | None) -> None:
        self.execution.executor = executor

    def execute(self, runs: list[PlannedRun], stage: str | None = None) -> None:
        """Run those of `runs` that are not finished or diverged; record every outcome."""
        self.execution.execute(runs, stage)

    def close(self) -> None:
        self.execution.close()

    # ---- modes ---------------------------------------------------------------------------
    def plan(self) -> list[PlannedRun]:
        """The runs known now (sequential: the decided stages and the next one), nothing run."""
        return self.stages.plan()

    def run(self) -> SweepResult:
        """Run what is not done yet; the sweep folder has one driver at a time (its lock)."""
        if self.gpus is not None and self.gpus.any:  # no GPUs to place on: refused before anything is written
            self.execution.get_executor()
        if self.join:
            return join_sweep(self)
        with sweep_lock(self.out_dir, "wsnas sweep"):
            self.files.write_records(self.spec, self.overrides, self.planner.base)
            try:
                self.tracker.start()
                return self.stages.run(self.execution.execute)
            finally:
                self.close()

    # ---- progress ------------------------------------------------------------------------
    @property
    def progress(self) -> Progress | None:
        return self.tracker.progress

    def estimate_total(self) -> tuple[int, bool]:
        """Runs the whole sweep will have, and whether later stages had to be computed ahead."""
        return self.tracker.estimate_total()

    def progress_line(self) -> str:
        return self.tracker.line()

    def status_lines(self) -> list[str]:
        """Where the sweep in `out_dir` stands, read from its files; nothing is run or written."""
        return self.tracker.status_lines()


def run_sweep(
    spec_path: str | Path,
    out_dir: str | Path,
    overrides: list[str] | None = None,
    executor: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
    address: str | None = None,
    log: Log = print,
) -> SweepResult:
    """Load SPEC, expand it and run what is not done yet into OUT_DIR."""
    spec, spec_dir = load_spec(spec_path)
    sweep = Sweep(
        spec, spec_dir, Path(out_dir), list(overrides or []), executor, workers, threads, address, log
    )
    return sweep.run()


POLL_SECONDS = 5.0
"""How often a joined pool looks for runs the driver's new stages made."""


def join_sweep(sweep: Sweep) -> SweepResult:
    """Run, as one more worker pool, what the driver of SWEEP's folder has not started.

    A joined pool takes no lock and writes none of the folder's files: it runs the planned runs
    that nobody runs, leaves the others to their writers and chooses nothing (sequential choices
    are the driver's). It re-plans while the driver runs, so it follows a sequential sweep's
    stages, and stops when the driver stops (what is left is the driver's to run when rerun)."""
    driver = holder(sweep.out_dir)
    if driver is None:
        raise WsnasError(
            f"--join: no sweep runs in {sweep.out_dir} now (no driver holds it); "
            "start (or resume) it without --join"
        )
    sweep.log(
        f"joining the sweep in {sweep.out_dir} (driver pid {driver}) as another worker pool; "
        "this process writes none of the sweep's files and stops when the driver stops"
    )
    seen: dict[str, PlannedRun] = {}
    attempted: set[str] = set()  # each run once: a run that failed here is the driver's to retry
    try:
        while holder(sweep.out_dir) is not None:  # the driver runs: follow its stages
            runs = sweep.stages.plan()
            seen.update((r.name, r) for r in runs)
            free = [
                r
                for r in runs
                if r.name not in attempted
                and run_state(r.run_dir) not in ("finished", "diverged")
                and holder(r.run_dir) is None
            ]
            if free:
                attempted.update(r.name for r in free)
                sweep.execution.execute(free, None)
            else:
                time.sleep(POLL_SECONDS)
    finally:
        sweep.close()
    return SweepResult(sweep.out_dir, list(seen.values()), sweep.files.status, message="joined pool done")
