"""`--executor slurm` (execution.slurm) on submitit's local executor: options, sbatch script, a sweep
through it equal to a local sweep, a job warned (SIGUSR2) mid-run checkpointed, requeued and
resumed. The same against a real Slurm is tests/sweep/test_slurm_cluster.py (slow tier)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

from wsnas.cli.main import main
from wsnas.core.errors import WsnasError
from wsnas.execution.executors import make_executor
from wsnas.execution.placement import GpuRequest
from wsnas.execution.slurm import JOBS_FILE, SlurmExecutor, SlurmOptions, parse_sbatch, queued_lines
from wsnas.sweep import Sweep, load_spec

submitit = pytest.importorskip("submitit", reason="optional extra not installed: pip install 'wsnas[slurm]'")
pytest.importorskip("sklearn")

BASE = {
    "space": {"name": "nb201_mini"},
    "data": {"name": "digits"},
    "lowfi": {"channels": 4, "cells_per_stage": 1},
    "protocol": {"epochs": 2, "batch_size": 64},
    "eval": {"pool_size": 8, "batch_size": 128, "epochs": [1]},
    "runtime": {"device": "cpu", "threads": 1},
}


def write_spec(tmp_path: Path, executor: dict, epochs: int = 2, lrs=(0.1, 0.05)) -> Path:
    base = json.loads(json.dumps(BASE))
    base["protocol"]["epochs"] = epochs
    spec = {"base": base, "factors": {"protocol.lr": list(lrs)}, "seeds": [0], "executor": executor}
    f = tmp_path / "spec.yaml"
    f.write_text(yaml.safe_dump(spec))
    return f


def finals(sweep_dir: Path) -> dict[str, dict]:
    return {
        p.parent.name: json.loads(p.read_text())["final"]
        for p in sorted(sweep_dir.glob("runs/*/summary.json"))
    }


# ---- options ---------------------------------------------------------------------------------
def test_spec_fields_and_command_line_merge(tmp_path):
    f = write_spec(
        tmp_path,
        {
            "name": "slurm",
            "workers": 4,
            "slurm": {"partition": "gpu", "time_min": 30, "sbatch": {"account": "lab"}},
        },
    )
    spec, _ = load_spec(f)
    opts = spec.executor.slurm
    assert opts.partition == "gpu" and opts.time_min == 30 and opts.sbatch == {"account": "lab"}
    merged = opts.merged(
        {"partition": None, "time_min": 90, "sbatch": {"qos": "high"}, "leave_running": True}
    )
    assert merged.partition == "gpu" and merged.time_min == 90 and merged.leave_running
    assert merged.sbatch == {"account": "lab", "qos": "high"}
    assert parse_sbatch(["--account=lab", "mail-type=END"]) == {"account": "lab", "mail_type": "END"}
    with pytest.raises(WsnasError, match="expected KEY=VALUE"):
        parse_sbatch(["account"])
    bad = write_spec(tmp_path, {"name": "slurm", "slurm": {"partitoin": "gpu"}})
    with pytest.raises(Exception, match="partitoin"):
        load_spec(bad)


def test_sbatch_script_holds_every_option(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    opts = SlurmOptions(
        partition="gpu",
        time_min=45,
        mem_gb=16,
        sbatch={"account": "lab", "qos": "high"},
        setup=["source /shared/venv/bin/activate"],
    )
    ex = SlurmExecutor(
        tmp_path / "slurm", opts, workers=3, threads=2, gpus=GpuRequest(gpus=2, runs_per_gpu=4)
    )
    assert ex.per_job == 8  # 2 GPUs x 4 runs each share one job
    text = ex._executor()._executor._make_submission_file_text("python -m x", "uid")
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --time=45",
        "#SBATCH --cpus-per-task=16",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --mem=16GB",
        "#SBATCH --account=lab",
        "#SBATCH --qos=high",
        "#SBATCH --signal=USR2@90",
        "source /shared/venv/bin/activate",
    ):
        assert line in text, (line, text)
    with pytest.raises(WsnasError, match="--gpus-per-run is for --executor ray"):
        SlurmExecutor(tmp_path, opts, gpus=GpuRequest(gpus_per_run=0.5))
    with pytest.raises(WsnasError, match="--runs-per-gpu 2 needs --gpus N"):
        SlurmExecutor(tmp_path, opts, gpus=GpuRequest(runs_per_gpu=2))


def test_without_sbatch_the_error_says_where_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(WsnasError, match="sbatch is not on PATH"):
        make_executor("slurm", folder=tmp_path, slurm=SlurmOptions())
    with pytest.raises(WsnasError, match="--address is for --executor ray"):
        make_executor("slurm", address="auto", folder=tmp_path, slurm=SlurmOptions())


# ---- submitit's local executor: jobs are processes here ---------------------------------------
def warn(job) -> None:
    """Send SIGUSR2 (what Slurm sends before a job's time limit) to a local job's task processes.

    submitit's local controller does not forward it (its `_interrupt` signals only the controller),
    so the tasks, the controller's children, get it directly, as srun's tasks do on Slurm."""
    pid = job._process.pid
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        os.kill(int(child), signal.SIGUSR2)


@pytest.mark.slow
def test_failed_runs_come_back_as_records_and_jobs_json_goes(tmp_path):
    tasks = [  # super-net training tasks (`execution.tasks`: each names the function that runs it)
        {"name": f"t{i}", "run_dir": str(tmp_path / f"r{i}"), "config": {"no_such_key": 1}, "threads": 1,
         "kind": "supernet", "target": "wsnas.trainers.task:train_task"}
        for i in range(2)
    ]  # fmt: skip
    logs: list[str] = []
    ex = SlurmExecutor(tmp_path / "slurm", SlurmOptions(backend="local"), threads=1, log=logs.append)
    results = list(ex.run(tasks))
    assert sorted(r["name"] for r in results) == ["t0", "t1"]
    assert all(r["status"] == "failed" and "no_such_key" in r["error"] for r in results)
    assert all(r["slurm_job"] for r in results)
    assert "submitted 2 job(s) for 2 run(s)" in logs[0]
    assert not (tmp_path / "slurm" / JOBS_FILE).exists()


def test_queued_lines_read_jobs_json(tmp_path):
    (tmp_path / "slurm").mkdir()
    doc = {"backend": "local", "jobs": {"11": ["a"], "12": ["b", "c"]}, "submitted": "2026-01-01T00:00:00"}
    (tmp_path / "slurm" / JOBS_FILE).write_text(json.dumps(doc))
    assert queued_lines(tmp_path) == [
        "slurm: 2 job(s) in flight for 3 run(s): 2 unknown (submitted 2026-01-01T00:00:00)"
    ]
    assert queued_lines(tmp_path / "nothing") == []


@pytest.mark.slow
def test_sweep_through_submitit_equals_local_sweep_and_a_warned_job_resumes(tmp_path, capsys):
    """One run's job gets Slurm's time-limit warning (SIGUSR2) once the run has a checkpoint:
    submitit checkpoints and requeues the job, which resumes the run (no epoch trained twice);
    every run equals the local sweep's."""
    (tmp_path / "l").mkdir()
    local = write_spec(tmp_path / "l", {"name": "local", "workers": 1, "threads": 1}, epochs=6)
    assert main(["sweep", str(local), "--out", str(tmp_path / "local")]) == 0
    want = finals(tmp_path / "local")
    capsys.readouterr()

    (tmp_path / "s").mkdir()
    f = write_spec(tmp_path / "s", {"name": "slurm", "threads": 1, "slurm": {"backend": "local"}}, epochs=6)
    spec, spec_dir = load_spec(f)
    out = tmp_path / "slurm-sweep"
    sweep = Sweep(spec, spec_dir, out, log=lambda m: None)
    victim = sweep.plan()[0]
    warned: list[str] = []

    def warn_once_checkpointed() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ex = sweep._executor
            jobs = dict(getattr(ex, "_jobs", {}) or {})
            names = dict(getattr(ex, "names", {}) or {})
            if (victim.run_dir / "checkpoint.pt").exists() and jobs:
                jid = next(j for j, n in names.items() if victim.name in n)
                warn(jobs[jid])
                warned.append(jid)
                return
            time.sleep(0.02)

    timer = threading.Thread(target=warn_once_checkpointed, daemon=True)
    timer.start()
    result = sweep.run()
    timer.join(5)
    assert result.ok and result.count("finished") == 3, result.status
    assert warned, "the run finished before it could be warned"
    logs = "\n".join(p.read_text() for p in (out / "slurm").glob("*/*_log.out"))
    assert f"run {victim.name}: new" in logs and f"run {victim.name}: resume" in logs, logs
    assert finals(out) == want
    log = [json.loads(x) for x in (victim.run_dir / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log if r["type"] == "epoch"] == list(range(1, 7))
    assert not (out / "slurm" / JOBS_FILE).exists()


def test_cli_options_reach_the_executor_of_sweep_and_build(tmp_path, monkeypatch, capsys):
    """`wsnas sweep` and `wsnas bench build` take --executor slurm and its options (over the spec's)."""
    seen: list[tuple[SlurmOptions, Path, int | None]] = []

    def fake_executor(folder, options=None, workers=None, threads=None, gpus=None, log=None):
        seen.append((options, Path(folder), workers))
        raise WsnasError("stop here")

    monkeypatch.setattr("wsnas.execution.slurm.SlurmExecutor", fake_executor)
    spec = write_spec(
        tmp_path, {"name": "local", "slurm": {"partition": "cpu", "sbatch": {"account": "lab"}}}
    )
    argv = ["--executor", "slurm", "--partition", "gpu", "--time-min", "30", "--sbatch", "qos=high"]
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), *argv, "--workers", "2"]) == 2
    assert "stop here" in capsys.readouterr().err
    opts, folder, workers = seen[-1]
    assert (opts.partition, opts.time_min, opts.sbatch) == ("gpu", 30, {"account": "lab", "qos": "high"})
    assert folder == tmp_path / "o" / "slurm" and workers == 2
    build = {
        "space": "nb201_mini",
        "overrides": ["data.name=digits", "proxy.epochs=1"],
        "archs": ["|none~0|+|none~0|skip_connect~1|"],
        "executor": {"name": "slurm", "slurm": {"mem_gb": 8}},
    }
    bspec = tmp_path / "build.yaml"
    bspec.write_text(yaml.safe_dump(build))
    assert main(["bench", "build", str(bspec), "--out", str(tmp_path / "b"), "--leave-running"]) == 2
    opts, folder, _ = seen[-1]
    assert opts.mem_gb == 8 and opts.leave_running and folder == tmp_path / "b" / "slurm"


@pytest.mark.slow
def test_a_gpu_job_packs_runs_per_gpu_as_workers_that_each_see_one_gpu(tmp_path, monkeypatch):
    """--gpus 2 --runs-per-gpu 2: one job trains four runs at once, two on each of its GPUs."""
    from wsnas.execution.slurm import SlurmJob

    monkeypatch.setattr("wsnas.execution.slurm.cuda_device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")  # what Slurm gives the job
    tasks = [
        {"name": f"t{i}", "run_dir": str(tmp_path / f"r{i}"), "config": {"no_such_key": 1}, "threads": 1}
        for i in range(4)
    ]
    results = SlurmJob(tasks, gpus=2, runs_per_gpu=2, threads=1)()
    assert sorted(r["name"] for r in results) == ["t0", "t1", "t2", "t3"]
    by_pid: dict[int, set[str]] = {}
    for r in results:
        by_pid.setdefault(r["pid"], set()).add(r["cuda_visible_devices"])
    assert all(len(v) == 1 for v in by_pid.values())  # a worker keeps its GPU
    assert set().union(*by_pid.values()) <= {"5", "7"}
