"""One driver per sweep folder (or build folder).

Run dirs have their own locks, so two drivers never train one run twice; but a sweep
folder's record files (status.json, failed.jsonl, sequential.json, paper.json) need one
writer too, or each driver records the runs the other holds as failed and a sequential
stage never starts. The driver holds the folder's lock (`core.dirlock`, holder's pid
inside) for as long as it runs; a second driver is refused with one line naming it.
`--status` and `wsnas report` only read, and keep working while a sweep runs. A pool that
joins a running sweep (`--join`, `sweep.runner`) takes no lock: it checks only who holds it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wsnas.core.dirlock import DirLock, Locked
from wsnas.core.errors import WsnasError

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
