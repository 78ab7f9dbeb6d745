"""One task inside an executor's worker process (local pool, Ray, a Slurm job).

Module-level and dependency-light so that spawn and Ray can import it by name.
Every outcome, including an exception, comes back as a plain dict: a failed run
is a record, never a crash of the sweep. A local pool worker dies with its driver,
even when the driver is killed with SIGKILL (see `die_with_driver`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

from wsnas.core.threads import apply_thread_policy
from wsnas.execution.tasks import resolve

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
PR_SET_PDEATHSIG = 1
"""prctl option (linux/prctl.h): the signal the kernel sends this process when its parent dies."""
WATCH_INTERVAL_S = 0.5
"""How often a pool worker checks that its driver is still its parent."""


def init_worker(threads: int | None) -> None:
    """Pool initializer: cap BLAS/OpenMP threads and set their wait policy before torch is imported
    in the worker (`wsnas.core.threads`)."""
    apply_thread_policy()
    if threads:
        for var in THREAD_VARS:
            os.environ[var] = str(threads)


def init_pool_worker(threads: int | None, driver_pid: int, pdeathsig: bool = True) -> None:
    """Local pool initializer: cap threads, die with the driver (`die_with_driver`), and stop a
    run cleanly at its last checkpoint on SIGINT/SIGTERM (a terminal's Ctrl-C reaches the whole
    process group; a driver that gets SIGTERM alone forwards it)."""
    from wsnas.core.interrupt import install

    init_worker(threads)
    die_with_driver(driver_pid, pdeathsig=pdeathsig)
    install(second="ignore")


def init_gpu_pool_worker(slots: Any, threads: int | None, driver_pid: int, pdeathsig: bool = True) -> None:
    """Local pool initializer with GPU placement: take one slot, see only its GPU, then as above.

    `slots` is a queue holding one CUDA_VISIBLE_DEVICES value per worker (`placement.gpu_slots`);
    the pool starts exactly that many workers, so each takes one and keeps it for its life. The
    variable is set before anything here starts CUDA, so `cuda:0` in this process is that GPU.
    """
    os.environ["CUDA_VISIBLE_DEVICES"] = slots.get(timeout=60)
    init_pool_worker(threads, driver_pid, pdeathsig)


def die_with_driver(
    driver_pid: int, pdeathsig: bool = True, watch_s: float | None = WATCH_INTERVAL_S
) -> None:
    """Make this process exit when `driver_pid`, its parent, dies, however it dies.

    On Linux the kernel sends SIGKILL the moment the parent goes (PR_SET_PDEATHSIG;
    it fires when the parent *thread* that started this process ends, so the driver
    asks for it only when it starts workers from its main thread). Everywhere, a
    daemon thread checks every `watch_s` seconds that the parent is still the driver
    (an orphan is re-parented to init or a subreaper) and exits if not. A driver that
    died before this call is caught by the same check, made once right away.
    """
    if pdeathsig and sys.platform.startswith("linux"):
        _set_pdeathsig(signal.SIGKILL)
    if os.getppid() != driver_pid:
        os._exit(1)
    if watch_s:
        threading.Thread(
            target=_watch_driver, args=(driver_pid, watch_s), daemon=True, name="wsnas-driver-watch"
        ).start()


def _set_pdeathsig(sig: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:  # the watch thread still covers it
        print(
            f"wsnas: warning: prctl(PR_SET_PDEATHSIG) failed: {os.strerror(ctypes.get_errno())}",
            file=sys.stderr,
        )


def _watch_driver(driver_pid: int, watch_s: float) -> None:
    while os.getppid() == driver_pid:
        time.sleep(watch_s)
    os._exit(1)


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Run one task (`execution.tasks`: its kind's registered function); {name, status, ...}.

    The function's dict is merged into the record; an exception becomes a `failed` record and a
    stop (Ctrl-C, SIGTERM) an `interrupted` one, so a sweep never crashes on one run.
    """
    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "name": task["name"],
        "run_dir": task["run_dir"],
        "pid": os.getpid(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    try:
        init_worker(task.get("threads"))
        import torch

        if task.get("threads"):
            torch.set_num_threads(int(task["threads"]))
        fn = resolve(task)  # imported here, after the thread variables are set
        result.update(fn(task))
    except KeyboardInterrupt as e:  # wsnas.core.interrupt.Interrupted: stopped at its last checkpoint
        result.update(status="interrupted", error=getattr(e, "message", lambda: "interrupted")())
    except Exception as e:  # noqa: BLE001 - the record of the failure is the product
        result.update(
            status="failed",
            error=f"{type(e).__name__}: {e}",
            traceback=traceback.format_exc(limit=20),
        )
    result["seconds"] = time.perf_counter() - t0
    return result
