"""`--executor slurm`: each run (or each GPU's pack of runs) is a Slurm job, submitted with submitit.

A sweep or a build submits its runs as one job array (`executor.workers` caps how many run at
once) and collects each job's result as it finishes. Jobs write straight into the sweep dir, so
it must be on a file system that the driver and every node share; the job scripts, logs and
submitit's pickles go to SWEEP/slurm. What is queued is recorded in SWEEP/slurm/jobs.json, so
`wsnas sweep --status` can say so while jobs wait.

A run is never retrained from scratch: a job sent Slurm's warning signal before its time limit
(or `scancel --signal=USR2`) has submitit checkpoint it (the job is resubmitted as it is) and
requeue it; a job Slurm preempts with requeue starts over the same way. Either way the job
starts again and `worker.run_task` resumes the run from its last epoch checkpoint. Ctrl-C on the
driver cancels its jobs (scancel) unless `leave_running` is set; then it says which jobs are
left and a rerun of the same command picks their runs up.

GPUs: `executor.gpus` N is the GPUs each job asks for (`--gpus-per-node`); with
`runs_per_gpu` K a job trains N x K runs at once, K per GPU, as local workers that each see one
GPU (`execution.placement`). Slurm gives a GPU to one job at a time, so sharing a GPU means sharing a
job. Without GPUs each job trains one run on `cpus_per_job` CPUs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wsnas.core.atomic import write_text_atomic
from wsnas.core.errors import WsnasError
from wsnas.engine.rundir import run_state
from wsnas.execution.executors import (
    FACTORIES,
    Executor,
    LocalExecutor,
    _check_devices,
    _failed,
    cuda_device_count,
)
from wsnas.execution.placement import VISIBLE_VAR, GpuRequest, gpu_slots, visible_gpu_ids
from wsnas.execution.slurm_options import SlurmOptions
from wsnas.execution.worker import run_task

JOBS_FILE = "jobs.json"
ENDED = frozenset(
    {
        "GONE",
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "BOOT_FAIL",
        "DEADLINE",
    }
)
"""squeue states of a job that will not run again ("GONE": squeue no longer lists it)."""
POLL_S = 2.0
"""How often the driver looks for finished jobs."""
GONE_GRACE_S = 30.0
"""A job that is over (`ENDED`) without a result is failed after this long (a result file written
on a node may take a moment to show on the driver's shared file system)."""


def import_submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise WsnasError(
            "--executor slurm needs submitit, which is not installed: pip install 'wsnas[slurm]'"
        ) from None
    return submitit


def parse_sbatch(items: list[str] | None) -> dict[str, str]:
    """`--sbatch KEY=VALUE` options as a dict (`--sbatch account=lab --sbatch qos=high`)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise WsnasError(f"--sbatch {item!r}: expected KEY=VALUE (an sbatch option without its --)")
        out[key.replace("-", "_")] = value
    return out


class SlurmJob:
    """The callable a Slurm job runs: its runs, one by one or (GPU packing) as local workers.

    submitit's checkpointing: on Slurm's time-limit warning this object is resubmitted as it is;
    the requeued job resumes each run from its run dir, so no state but the tasks is needed.
    """

    def __init__(
        self, tasks: list[dict[str, Any]], gpus: int | None, runs_per_gpu: int, threads: int
    ) -> None:
        self.tasks = tasks
        self.gpus = gpus
        self.runs_per_gpu = runs_per_gpu
        self.threads = threads

    def __call__(self) -> list[dict[str, Any]]:
        env = os.environ
        job = env.get("SLURM_JOB_ID") or env.get("SUBMITIT_LOCAL_JOB_ID")
        if env.get("SLURM_ARRAY_JOB_ID"):  # as squeue and scancel name it
            job = f"{env['SLURM_ARRAY_JOB_ID']}_{env.get('SLURM_ARRAY_TASK_ID')}"
        for t in self.tasks:  # the job log says what a (re)started job found
            state = run_state(Path(t["run_dir"]))
            print(f"wsnas: job {job}: run {t['name']}: {state}", flush=True)
        if len(self.tasks) == 1 and not self.gpus:
            results = [run_task(self.tasks[0])]
        else:
            slots = None
            if self.gpus:
                visible = visible_gpu_ids(os.environ.get(VISIBLE_VAR), cuda_device_count())
                slots = gpu_slots(self.gpus, self.runs_per_gpu, visible)
            workers = None if slots else len(self.tasks)
            with LocalExecutor(workers=workers, threads=self.threads, gpu_slots=slots) as ex:
                results = list(ex.run(self.tasks))
        return [{**r, "slurm_job": job} for r in results]

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Requeue this job unchanged: its runs resume from their own checkpoints."""
        return import_submitit().helpers.DelayedSubmission(self, *args, **kwargs)


def sacct_works() -> bool:
    """Whether sacct answers (a cluster without accounting storage refuses it)."""
    if shutil.which("sacct") is None:
        return False
    try:
        r = subprocess.run(["sacct", "-n", "-X", "-j", "1"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def squeue_states(job_ids: list[str]) -> dict[str, str] | None:
    """Slurm's state of each listed job (array tasks as ID_N), or None without squeue."""
    if not job_ids or shutil.which("squeue") is None:
        return None
    arrays = ",".join(sorted({j.split("_")[0] for j in job_ids}))
    cmd = ["squeue", "-h", "-r", "-t", "all", "-o", "%i %T", "-j", arrays]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    states = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return states


class SlurmExecutor(Executor):
    """Runs tasks as Slurm jobs (one job array per `run` call) through submitit."""

    name = "slurm"

    def __init__(
        self,
        folder: str | os.PathLike,
        options: SlurmOptions | None = None,
        workers: int | None = None,
        threads: int | None = None,
        gpus: GpuRequest | None = None,
        log: Any = None,
    ) -> None:
        self.submitit = import_submitit()
        self.options = options or SlurmOptions()
        req = gpus or GpuRequest()
        if req.gpus_per_run is not None:
            raise WsnasError(
                "--gpus-per-run is for --executor ray; on Slurm, --gpus N is the GPUs per job and "
                "--runs-per-gpu K packs K runs on each of them"
            )
        if req.runs_per_gpu is not None and req.gpus is None:
            raise WsnasError(f"--runs-per-gpu {req.runs_per_gpu} needs --gpus N (GPUs per Slurm job)")
        if self.options.backend == "slurm" and shutil.which("sbatch") is None:
            raise WsnasError(
                "--executor slurm: sbatch is not on PATH; run the sweep on a Slurm login node "
                "(or set executor.slurm.backend: local to try the spec here)"
            )
        if self.options.backend == "slurm" and not sacct_works():
            # submitit reads job states from sacct; without accounting it would call (and warn) on
            # every poll: job states come from squeue here, results from the job's result file
            logging.getLogger("submitit").setLevel(logging.ERROR)
            self.submitit.SlurmJob.watcher._make_command = lambda: None
        self.gpus = req.gpus
        self.runs_per_gpu = req.runs_per_gpu or 1
        self.per_job = self.gpus * self.runs_per_gpu if self.gpus else 1
        self.workers = workers
        self.threads = threads or 1
        self.folder = Path(folder)
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self._jobs: dict[str, Any] = {}
        """Job id -> submitit job, for those not collected yet."""
        self._submitted = ""
        self.names: dict[str, list[str]] = {}
        """Job id -> the names of its runs (the last `run` call's)."""

    # ---- submission ------------------------------------------------------------------------
    def _executor(self) -> Any:
        o = self.options
        cluster = "slurm" if o.backend == "slurm" else "local"
        extra = {"slurm_max_num_timeout": o.timeouts} if o.backend == "slurm" else {}
        ex = self.submitit.AutoExecutor(folder=str(self.folder / "%j"), cluster=cluster, **extra)
        params: dict[str, Any] = {
            "timeout_min": o.time_min,
            "cpus_per_task": o.cpus_per_job or self.threads * self.per_job,
            "nodes": 1,
            "tasks_per_node": 1,
            "name": f"wsnas-{self.folder.parent.name}",
        }
        if o.mem_gb is not None:
            params["mem_gb"] = o.mem_gb
        if self.gpus:
            params["gpus_per_node"] = self.gpus
        if o.backend == "slurm":
            params.update(
                slurm_partition=o.partition,
                slurm_additional_parameters=dict(o.sbatch),
                slurm_setup=list(o.setup),
                slurm_signal_delay_s=o.signal_delay_s,
            )
            if self.workers is not None:
                params["slurm_array_parallelism"] = self.workers
        ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
        return ex

    def _record_jobs(self, jobs: dict[str, list[str]]) -> None:
        """SWEEP/slurm/jobs.json: run name -> job id of the jobs in flight (for `--status`)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        doc = {"backend": self.options.backend, "jobs": jobs, "submitted": self._submitted}
        write_text_atomic(self.folder / JOBS_FILE, json.dumps(doc, indent=2) + "\n")

    def run(self, tasks: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if self.gpus:
            _check_devices(tasks)
        groups = [tasks[i : i + self.per_job] for i in range(0, len(tasks), self.per_job)]
        ex = self._executor()
        calls = [SlurmJob(g, self.gpus, self.runs_per_gpu, self.threads) for g in groups]
        with ex.batch():
            pending = [ex.submit(c) for c in calls]
        self._submitted = time.strftime("%Y-%m-%dT%H:%M:%S")
        by_id = {str(job.job_id): (job, group) for job, group in zip(pending, groups, strict=True)}
        self._jobs = {jid: job for jid, (job, _) in by_id.items()}
        names = {jid: [t["name"] for t in group] for jid, (_, group) in by_id.items()}
        self.names = names
        self._record_jobs(names)
        ids = list(by_id)
        where = f"partition {self.options.partition}" if self.options.partition else "the default partition"
        self.log(
            f"slurm: submitted {len(ids)} job(s) for {len(tasks)} run(s) to {where} "
            f"({ids[0]}{' .. ' + ids[-1] if len(ids) > 1 else ''}); logs in {self.folder}"
        )
        gone_since: dict[str, float] = {}
        try:
            while self._jobs:
                states = squeue_states(list(self._jobs)) if self.options.backend == "slurm" else None
                for jid in list(self._jobs):
                    job, group = by_id[jid]
                    if job.done():
                        del self._jobs[jid]
                        yield from self._collect(job, group)
                    elif states is not None and states.get(jid, "GONE") in ENDED:
                        # over without a result: killed hard (and submitit's sacct did not say so)
                        first = gone_since.setdefault(jid, time.monotonic())
                        if time.monotonic() - first > GONE_GRACE_S and not job.paths.result_pickle.exists():
                            del self._jobs[jid]
                            error = f"slurm job {jid} ended without a result; see {job.paths.stderr}"
                            for t in group:
                                yield _failed(t, error)
                if self._jobs:
                    self._record_jobs({j: names[j] for j in self._jobs})
                    time.sleep(POLL_S)
        finally:
            self.close()
            with contextlib.suppress(OSError):
                (self.folder / JOBS_FILE).unlink()

    def _collect(self, job: Any, group: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        try:
            results = job.result()
        except Exception as e:  # noqa: BLE001 - a failed job is a record, as a failed run is
            first = str(e).strip().splitlines()
            error = f"slurm job {job.job_id} failed: {first[-1] if first else type(e).__name__}"
            for t in group:
                yield _failed(t, f"{error}; see {job.paths.stderr}")
            return
        yield from results

    def close(self) -> None:
        """Cancel the jobs not collected yet (scancel), or leave them running and say so."""
        if not self._jobs:
            return
        ids = sorted(self._jobs)
        if self.options.leave_running:
            self.log(
                f"slurm: left {len(ids)} job(s) running ({', '.join(ids)}); "
                "rerun the same command to collect their runs (finished runs are skipped)"
            )
        else:
            for job in self._jobs.values():
                with contextlib.suppress(Exception):
                    job.cancel(check=False)
            self.log(f"slurm: cancelled {len(ids)} job(s) ({', '.join(ids)}); their runs resume on a rerun")
        self._jobs = {}


def queued_lines(sweep_dir: str | os.PathLike) -> list[str]:
    """What SWEEP/slurm/jobs.json says is in flight, with Slurm's state of each job (squeue)."""
    f = Path(sweep_dir) / "slurm" / JOBS_FILE
    if not f.exists():
        return []
    try:
        doc = json.loads(f.read_text())
    except ValueError:
        return []
    jobs: dict[str, list[str]] = doc.get("jobs", {})
    if not jobs:
        return []
    states = squeue_states(list(jobs)) if doc.get("backend") == "slurm" else None
    counts: dict[str, int] = {}
    for jid in jobs:
        st = "UNKNOWN" if states is None else states.get(jid, "ENDED")
        counts[st] = counts.get(st, 0) + 1
    runs = sum(len(v) for v in jobs.values())
    states_text = ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()))
    when = doc.get("submitted")
    return [f"slurm: {len(jobs)} job(s) in flight for {runs} run(s): {states_text} (submitted {when})"]


def make_slurm_executor(
    folder: Any = None,
    slurm: SlurmOptions | None = None,
    workers: int | None = None,
    threads: int | None = None,
    gpus: GpuRequest | None = None,
) -> Executor:
    """`make_executor("slurm", ...)`: the job files go to FOLDER (the sweep's or build's slurm/)."""
    if folder is None:
        raise WsnasError("--executor slurm needs a folder for its job files")
    return SlurmExecutor(folder, slurm, workers=workers, threads=threads, gpus=gpus)


FACTORIES["slurm"] = make_slurm_executor
