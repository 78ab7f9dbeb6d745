"""How many CPU threads a run uses, how they wait, and whether the machine has cores to spare.

Why: PyTorch's OpenMP threads spin at every barrier by default. Alone on a machine that is
fastest; beside another busy process, a spinning thread burns the time slice its straggling
sibling needs, and a 2-thread run on 2 shared cores fell to 1/20 of its idle rate
(`benchmarks/busy_machine.py`; an even split would keep 1/2), while sleeping threads kept 70% and
cost 17% alone (1,517 -> 1,264 img/s, quiet 2-core machine). So wsnas asks OpenMP to sleep
soon after a barrier (`OMP_WAIT_POLICY=PASSIVE`) unless the user set a policy, uses the cores this
process may run on (affinity, cgroup quota) rather than the machine's, and says when a run
asks for more threads than the machine has idle cores. No torch here: the policy must be in
the environment before torch starts its thread pool.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
"""Variables that set how OpenMP threads wait (GNU libgomp, Intel's runtime); a user's setting wins."""


def apply_thread_policy() -> None:
    """Set `OMP_WAIT_POLICY=PASSIVE` unless the user chose a wait policy; call before torch is imported
    (once torch has started its OpenMP pool, the variable no longer takes effect)."""
    if not any(v in os.environ for v in WAIT_VARS):
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota (containers)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cores, quota) if quota else cores)


def _cgroup_quota(path: Path = Path("/sys/fs/cgroup/cpu.max")) -> int | None:
    """ceil(quota / period) of cgroup v2's cpu.max ('max 100000': no quota), None where unknown."""
    try:
        quota, period = path.read_text().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def default_threads() -> int:
    """`runtime.threads` when the config leaves it unset: the usable cores, or OMP_NUM_THREADS if set."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else usable_cores()


def busy_note(
    threads: int,
    own_load: float = 0.0,
    load: float | None = None,
    cores: int | None = None,
    short: bool = False,
) -> str:
    """'' on a machine with THREADS idle cores, or for a 1-thread run (the scheduler gives it its
    share: nothing to spin-wait for); else what is wrong and the fix, in one line (SHORT: the few
    words a progress bar has room for).

    LOAD is the 1-minute load average (os.getloadavg) and OWN_LOAD the part of it that is this
    run (its threads once it has trained a while, 0 at the start).
    """
    cores = usable_cores() if cores is None else cores
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:
            return ""
    idle = cores - max(0.0, load - own_load)
    if threads <= 1 or threads <= idle + 0.5:
        return ""
    fix = f"runtime.threads={max(1, min(threads - 1, math.floor(idle + 0.5)))}"
    if short:
        return f"load {load:.1f}/{cores} cores, try {fix}"
    return (
        f"busy machine: load {load:.1f} on {cores} cores leaves about {max(idle, 0.0):.1f} idle, "
        f"this run uses {threads} threads; it may run far below its share: "
        f"try {fix}"
    )
