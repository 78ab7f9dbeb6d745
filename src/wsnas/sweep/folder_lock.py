"""One driver per sweep folder, and pools that join it.

Run dirs have their own locks, so two drivers never train one run twice; but a sweep
folder's record files (status.json, failed.jsonl, sequential.json, paper.json) need one
writer too, or each driver records the runs the other holds as failed and a sequential
stage never starts. The driver holds the folder's lock (`core.dirlock`, holder's pid
inside) for as long as it runs; a second driver is refused with one line naming it.
`--status` and `wsnas report` only read, and keep working while a sweep runs.

A pool started with `--join` takes no lock and writes none of the folder's files: it
runs the planned runs that nobody runs, leaves the others to their writers and chooses
nothing (sequential choices are the driver's). It re-plans while the driver runs, so it
follows a sequential sweep's stages, and stops when the driver stops (what is left is the
driver's to run when it is rerun).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from wsnas.core.dirlock import DirLock, Locked, holder
from wsnas.core.errors import WsnasError
from wsnas.sweep.plan import PlannedRun, run_state
from wsnas.sweep.stages import SweepResult

if TYPE_CHECKING:
    from wsnas.sweep.runner import Sweep

POLL_SECONDS = 5.0
"""How often a joined pool looks for runs the driver's new stages made."""


SWEEP_HINT = "`--status` shows where it stands and `wsnas report` reads it meanwhile; or add this \
machine's workers to it with --join"


@contextmanager
def sweep_lock(out_dir: Path, command: str, hint: str = SWEEP_HINT) -> Iterator[DirLock]:
    """Hold OUT_DIR's lock while a driver runs; another driver gets one line naming the holder."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WsnasError(f"cannot create {out_dir}: {e.strerror or e}") from None
    lock = DirLock(out_dir, "sweep folder")
    try:
        lock.acquire()
    except Locked as e:
        who = f"pid {e.pid}" if e.pid is not None else "another process"
        raise WsnasError(f"{out_dir} is being run by another `{command}` ({who}); {hint}") from None
    try:
        yield lock
    finally:
        lock.release()


def join_sweep(sweep: Sweep) -> SweepResult:
    """Run, as one more worker pool, what the driver of SWEEP's folder has not started."""
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
