"""`executor.slurm` options of a sweep or build spec: a typed section of their own, so the Slurm
executor (here, below the studies) and the spec reader (`sweep.spec`) share it without importing
each other."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class SlurmOptions(BaseModel):
    """`executor.slurm` in a sweep or build spec (`--executor slurm`, `wsnas.execution.slurm`); every
    field but `setup`, `timeouts`, `signal_delay_s` and `backend` has a command-line option."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    partition: str | None = None
    """The partition jobs go to (`--partition`); None: the cluster's default."""
    time_min: int = Field(60, ge=1)
    """Time limit of one job in minutes (`--time`). A run longer than that is checkpointed
    before the limit and requeued, and goes on where it stopped."""
    cpus_per_job: int | None = Field(None, ge=1)
    """CPUs per job (`--cpus-per-task`); default: torch threads per run x runs per job."""
    mem_gb: float | None = Field(None, gt=0)
    """Memory per job in GB (`--mem`); None: the cluster's default."""
    sbatch: dict[str, str | int | float | bool] = Field(default_factory=dict)
    """Extra sbatch options, e.g. {account: lab, qos: normal, constraint: a100}."""
    setup: list[str] = Field(default_factory=list)
    """Shell lines run in the job before the run, e.g. `module load cuda` or `source venv/bin/activate`."""
    timeouts: int = Field(3, ge=0)
    """How often a job may hit its time limit and be requeued (preemptions do not count)."""
    signal_delay_s: int = Field(90, ge=10)
    """Seconds before the time limit that a job is warned (SIGUSR2) to checkpoint and requeue."""
    leave_running: bool = False
    """Ctrl-C on the driver leaves the jobs running instead of cancelling them."""
    backend: Literal["slurm", "local"] = "slurm"
    """`local`: submitit's local executor (each job a process here): to try a spec without a cluster."""

    def merged(self, overrides: dict[str, Any] | None) -> SlurmOptions:
        """These options with the command line's (those not None) over them."""
        update = {k: v for k, v in (overrides or {}).items() if v is not None}
        if "sbatch" in update:
            update["sbatch"] = {**self.sbatch, **update["sbatch"]}
        return SlurmOptions.model_validate({**self.model_dump(), **update})
