"""`--executor slurm` against a real one-node Slurm (slurmctld, slurmd, munged from Debian's packages,
started by the fixture: tests/sweep/slurm_cluster.py; skipped with the reason when it cannot start).

A small mini-benchmark sweep goes through Slurm as a job array; `--status` while jobs wait;
one job gets Slurm's time-limit warning mid-run (`scancel --signal=USR2`), is checkpointed and
requeued by submitit and resumes its run; the results equal a local sweep of the same spec.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from wsnas.cli.main import main
from wsnas.execution.slurm import JOBS_FILE
from wsnas.sweep import load_spec

pytest.importorskip("submitit", reason="optional extra not installed: pip install 'wsnas[slurm]'")
pytest.importorskip("sklearn")
sys.path.insert(0, str(Path(__file__).parent))
import slurm_cluster  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "src"
EPOCHS = 6
SPEC = {
    "base": {
        "space": {"name": "nb201_mini"},
        "data": {"name": "digits"},
        "lowfi": {"channels": 4, "cells_per_stage": 1},
        "protocol": {"epochs": EPOCHS, "batch_size": 64},
        "eval": {"pool_size": 8, "batch_size": 128, "epochs": [2]},
        "runtime": {"device": "cpu", "threads": 1},
    },
    "factors": {"protocol.lr": [0.1, 0.05]},
    "seeds": [0],
    "executor": {"name": "local", "workers": 1, "threads": 1, "slurm": {"time_min": 20}},
}


@pytest.fixture(scope="module")
def slurm_env():
    """A Slurm to submit to: SLURM_CONF's if it answers, else one started here for the module."""
    base = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", "SUBMITIT_LOG_LEVEL": "ERROR"}
    if os.environ.get("SLURM_CONF"):
        ok = subprocess.run(["sinfo", "-h"], capture_output=True, check=False).returncode == 0
        if ok:
            yield base
            return
    # its own folder, not pytest's tmp (which a concurrent pytest may prune under the daemons)
    folder = Path(tempfile.mkdtemp(prefix="wsnas-slurm-"))
    try:
        env = slurm_cluster.start(folder)
    except slurm_cluster.Unavailable as e:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"Slurm cannot be started here: {e}")
    try:
        yield {**base, **env}
    finally:
        subprocess.run(["scancel", "--user=root"], env={**base, **env}, check=False)
        slurm_cluster.stop(folder)
        shutil.rmtree(folder, ignore_errors=True)


def finals(sweep_dir: Path) -> dict[str, dict]:
    return {
        p.parent.name: json.loads(p.read_text())["final"]
        for p in sorted(sweep_dir.glob("runs/*/summary.json"))
    }


def wait_for(what: str, check, timeout_s: float = 300, every_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what}")


def slurm(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run(args, env=env, capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.mark.slow
def test_sweep_on_real_slurm_resumes_a_warned_job_and_equals_local(tmp_path, slurm_env, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "local")]) == 0
    want = finals(tmp_path / "local")
    assert len(want) == 3
    capsys.readouterr()

    out = tmp_path / "on-slurm"
    s, spec_dir = load_spec(spec)
    from wsnas.sweep import Sweep

    victim = Sweep(s, spec_dir, out).plan()[0]
    cmd = [sys.executable, "-m", "wsnas", "sweep", str(spec), "--out", str(out), "--executor", "slurm"]
    driver = subprocess.Popen(
        [*cmd, "--partition", "debug", "--time-min", "20"],
        env=slurm_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        jobs_file = out / "slurm" / JOBS_FILE
        wait_for("the jobs to be submitted", jobs_file.exists, timeout_s=120)
        status = subprocess.run(
            [sys.executable, "-m", "wsnas", "sweep", str(spec), "--out", str(out), "--status"],
            env=slurm_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "slurm: 3 job(s) in flight for 3 run(s)" in status and "pending" in status, status
        jobs = json.loads(jobs_file.read_text())["jobs"]
        jid = next(j for j, names in jobs.items() if victim.name in names)
        wait_for("the victim's first checkpoint", (victim.run_dir / "checkpoint.pt").exists)
        assert not (victim.run_dir / "summary.json").exists(), "the run finished before it could be warned"
        # what Slurm sends before the time limit. This scancel has been seen to keep retrying for
        # over a minute although the job got the signal at once (the job requeues itself meanwhile),
        # and a retry that lands on the restarted job before submitit's handler is up kills it: so
        # the requeued job is let go only once scancel is done
        warn = subprocess.Popen(
            ["scancel", "--signal=USR2", jid],
            env=slurm_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def requeued() -> bool:
            state = slurm(["squeue", "-h", "-j", jid, "-o", "%T %r"], slurm_env).strip()
            return state.startswith("PENDING") or state.startswith("REQUEUE")

        wait_for("the job to be requeued", requeued, timeout_s=120)
        warn.wait(300)
        # Slurm holds a requeued job for about two minutes (BeginTime); let it start now
        subprocess.run(["scontrol", "update", f"JobId={jid}", "StartTime=now"], env=slurm_env, check=False)
        transcript, _ = driver.communicate(timeout=900)
    finally:
        if "warn" in locals() and warn.poll() is None:
            warn.kill()
            warn.wait()
        if driver.poll() is None:
            driver.terminate()
            driver.wait(60)
    assert driver.returncode == 0, transcript
    assert "slurm: submitted 3 job(s) for 3 run(s) to partition debug" in transcript
    logs = "\n".join(p.read_text() for p in (out / "slurm").glob("*/*_log.out"))
    assert f"run {victim.name}: new" in logs and f"run {victim.name}: resume" in logs, logs
    log = [json.loads(x) for x in (victim.run_dir / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log if r["type"] == "epoch"] == list(range(1, EPOCHS + 1))
    assert finals(out) == want
    assert not (out / "slurm" / JOBS_FILE).exists()
