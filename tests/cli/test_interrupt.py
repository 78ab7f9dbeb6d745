"""Ctrl-C and SIGTERM (issue 17): a clean stop with a resume hint, the checkpoint intact, then a resume.

Real signals to real processes: `wsnas train`, `wsnas standalone train` and `wsnas sweep` as
subprocesses, signalled once their first checkpoint is on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from wsnas.cli.main import main
from wsnas.core.interrupt import Interrupted, handle_signals

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
MINI = [
    "space.name=nb201_mini",
    "data.name=digits",
    "lowfi.channels=4",
    "lowfi.cells_per_stage=1",
    "protocol.batch_size=64",
    "eval.pool_size=8",
    "eval.batch_size=128",
    "eval.epochs=[]",
    "runtime.device=cpu",
    "runtime.threads=1",
]
ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|"


def _start(tmp_path: Path, *argv: str) -> subprocess.Popen:
    env = {**ENV, "WSNAS_CACHE": str(tmp_path / "cache")}
    return subprocess.Popen(
        [sys.executable, "-m", "wsnas", *argv],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _signal_after_first_checkpoint(proc: subprocess.Popen, checkpoint: Path, sig: int) -> tuple[str, str]:
    deadline = time.time() + 300
    while not checkpoint.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    try:
        return proc.communicate(timeout=60)  # seconds in practice; generous on a loaded machine
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def _epochs(run: Path) -> list[int]:
    return [
        r["epoch"]
        for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())
        if r["type"] == "epoch"
    ]


@pytest.mark.slow  # two processes, 12 epochs in all
def test_sigint_during_train_stops_cleanly_and_resumes(tmp_path, monkeypatch, capsys):
    run = tmp_path / "runs" / "c"
    proc = _start(tmp_path, "train", *MINI, "protocol.epochs=12", f"out_dir={tmp_path / 'runs'}", "name=c")
    out, err = _signal_after_first_checkpoint(proc, run / "checkpoint.pt", signal.SIGINT)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and out == ""
    state = torch.load(run / "checkpoint.pt", weights_only=True)  # intact, loadable
    k = state["epoch"]
    assert 1 <= k < 12 and _epochs(run)[-1] in (k, k - 1)  # the log may trail the checkpoint by one
    assert err.splitlines()[-1] == (
        f"wsnas: interrupted at epoch {k}/12 (its checkpoint is intact); "
        f"resume with: wsnas train --resume {run}"
    )
    assert not (run / "summary.json").exists() and not list(run.glob(".*.tmp"))

    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert _epochs(run) == list(range(1, 13))
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"
    assert capsys.readouterr().out.startswith(f"{run}: finished")


@pytest.mark.slow
def test_sigterm_during_standalone_train_stops_cleanly_and_resumes(tmp_path, monkeypatch):
    run = tmp_path / "s"
    proc = _start(
        tmp_path,
        "standalone",
        "train",
        "nb201_mini",
        ARCH,
        "data.name=digits",
        "runtime.device=cpu",
        "runtime.threads=1",
        "proxy.channels=4",
        "proxy.epochs=12",
        f"out_dir={tmp_path}",
        "name=s",
    )
    out, err = _signal_after_first_checkpoint(proc, run / "checkpoint.pt", signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    k = torch.load(run / "checkpoint.pt", weights_only=True)["epoch"]
    assert err.splitlines()[-1] == (
        f"wsnas: interrupted at epoch {k}/12 (its checkpoint is intact); "
        f"resume with: wsnas standalone train --resume {run}"
    )
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    assert main(["standalone", "train", "--resume", str(run)]) == 0
    assert _epochs(run) == list(range(1, 13))


SLOW_CLEANUP = r"""
import sys, time
from wsnas.core.interrupt import Interrupted, handle_signals
with handle_signals():
    try:
        print("ready", flush=True)
        time.sleep(60)
    except Interrupted:
        print("first", flush=True)
        time.sleep(60)  # a clean-up that takes long: the second Ctrl-C must not wait for it
"""


def test_a_second_signal_exits_at_once():
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_CLEANUP],
        env=ENV,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.readline() == "first\n"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "interrupted again: exiting now" in proc.stderr.read()


def test_handle_signals_raises_once_and_restores_the_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as e, handle_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler runs here, at once
    assert e.value.exit_code == 143 and e.value.message() == "interrupted"
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.slow  # a sweep driver and its spawned worker
def test_sigterm_to_the_sweep_driver_stops_its_runs_resumably(tmp_path):
    spec = {
        "base": str(ROOT / "src" / "wsnas" / "presets" / "demo.yaml"),
        "overrides": {
            "protocol.epochs": 40,
            "lowfi.channels": 4,
            "eval.pool_size": 8,
            "eval.epochs": [],
            "runtime.threads": 1,
            "runtime.device": "cpu",
            "bench.cache_dir": str(tmp_path / "cache"),
        },
        "factors": {"protocol.lr": [0.025]},
        "seeds": [0],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    out_dir = tmp_path / "sweep"
    argv = ["sweep", str(tmp_path / "spec.yaml"), "--out", str(out_dir)]
    proc = _start(tmp_path, *argv)
    deadline = time.time() + 300
    while not list(out_dir.glob("runs/*/checkpoint.pt")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    (run,) = [p.parent for p in out_dir.glob("runs/*/checkpoint.pt")]
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)  # the driver alone: it forwards the stop to its worker
    _, err = proc.communicate(timeout=120)
    print(f"sweep driver and worker stopped {time.time() - t0:.1f} s after SIGTERM")
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(
        "wsnas: interrupted; the runs in flight stopped at their last checkpoints, finished runs are kept; "
        f"resume with: wsnas {' '.join(argv)}"
    )
    assert not (run / "summary.json").exists()
    k = torch.load(run / "checkpoint.pt", weights_only=True)["epoch"]
    assert 1 <= k < 40
    rerun = _start(tmp_path, *argv)  # the same command resumes the cut run
    _, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    assert _epochs(run) == list(range(1, 41))
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"


@pytest.mark.slow  # a build driver and its spawned worker
def test_ctrl_c_to_bench_build_stops_its_runs_resumably(tmp_path):
    spec = {
        "space": "nb201_mini",
        "archs": [ARCH],
        "seeds": [0],
        "overrides": ["data.name=digits", "proxy.epochs=30", "proxy.channels=4", "runtime.device=cpu"],
        "executor": {"name": "local", "workers": 1, "threads": 1},
    }
    (tmp_path / "build.yaml").write_text(yaml.safe_dump(spec))
    argv = [
        "bench",
        "build",
        str(tmp_path / "build.yaml"),
        "--out",
        str(tmp_path / "b"),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsnas", *argv],
        env=ENV,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while not list((tmp_path / "b").rglob("checkpoint.pt")) and proc.poll() is None:
        assert time.time() < deadline, "no checkpoint in 300 s"
        time.sleep(0.05)
    (ckpt,) = list((tmp_path / "b").rglob("checkpoint.pt"))
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the driver and its worker at once
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith(
        "wsnas: interrupted; the runs in flight stopped at their last checkpoints, finished runs are kept; "
        f"resume with: wsnas {argv[0]}"
    )
    assert 1 <= torch.load(ckpt, weights_only=True)["epoch"] < 30
    rerun = subprocess.run(
        [sys.executable, "-m", "wsnas", *argv], env=ENV, capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode == 0, rerun.stderr
    assert _epochs(ckpt.parent) == list(range(1, 31)) and (tmp_path / "b" / "table.npz").exists()
