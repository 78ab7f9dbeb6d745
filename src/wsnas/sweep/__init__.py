"""Sweeps: a spec of factors x values x seeds -> many runs, run where there is room, resumable.

`spec` reads and validates the YAML, `plan` expands it into run configs with stable
names, `runner` skips finished runs, resumes cut ones and records failures, and
`executors` runs them in local processes, on Ray or (`slurm`) as Slurm jobs.
"""

from wsnas.engine.rundir import run_state
from wsnas.execution.slurm import SlurmExecutor  # registers --executor slurm with make_executor
from wsnas.sweep.plan import PlannedRun, Planner
from wsnas.sweep.runner import Sweep, SweepResult, run_sweep
from wsnas.sweep.spec import ExecutorSpec, SweepSpec, load_spec, parse_spec

__all__ = [
    "ExecutorSpec",
    "PlannedRun",
    "SlurmExecutor",
    "Planner",
    "Sweep",
    "SweepResult",
    "SweepSpec",
    "load_spec",
    "parse_spec",
    "run_state",
    "run_sweep",
]
