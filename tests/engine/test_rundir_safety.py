"""Run dirs under adversarial use (issue 14): what a run dir loads, where it is, who writes it.

- a planted checkpoint never runs code on `--resume` (one-line error, exit 2);
- run names are one folder name, and a folder wsnas did not make is never written into;
- one writer per run dir (an OS lock naming the holder's pid; kill -9 leaves no stale lock),
  and the sweep runner skips runs another process writes;
- a failed start-up leaves no run dir, and a resume removes temp files a killed writer left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from fake_executor import FakeExecutor
from wsnas.cli.main import main
from wsnas.config import StandaloneConfig, dump_config, load_config
from wsnas.core.dirlock import LOCK_NAME, DirLock, Locked, holder
from wsnas.core.errors import ConfigError, WsnasError
from wsnas.engine.rundir import RunDir
from wsnas.engine.runtime import rng_state, set_rng_state
from wsnas.sweep import Sweep, parse_spec
from wsnas.trainers.standalone_trainer import StandaloneTrainer, train_standalone
from wsnas.trainers.supernet_trainer import train

pytest.importorskip("sklearn")

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|"
MINI = [
    "space.name=nb201_mini",
    "data.name=digits",
    "lowfi.channels=4",
    "lowfi.cells_per_stage=1",
    "protocol.batch_size=64",
    "protocol.epochs=1",
    "eval.pool_size=8",
    "eval.batch_size=128",
    "eval.epochs=[]",
    "runtime.device=cpu",
    "runtime.threads=1",
    "runtime.progress=false",
]
SOLO = [
    "space.name=nb201_mini",
    "data.name=digits",
    "runtime.device=cpu",
    "runtime.threads=1",
    "runtime.progress=false",
    "proxy.channels=4",
    "proxy.epochs=1",
    f"arch='{ARCH}'",
]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}


@pytest.fixture
def mini(tmp_path, monkeypatch):
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    return [*MINI, f"out_dir={tmp_path / 'runs'}"]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ROOT (but the GT cache) with its bytes (None for a folder)."""
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(root.rglob("*"))
        if "cache" not in p.relative_to(root).parts
    }


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("wsnas: error: ") and "\n" not in err and "Traceback" not in err, err
    return err


# ---- security: checkpoints load with weights_only=True ----------------------------------------
class Plant:
    """Unpickling this calls `func(*args)`; a safe loader must refuse it."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(marker: Path) -> dict[str, object]:
    return {
        "open": {"epoch": Plant(open, str(marker), "w")},
        "system": {"epoch": 0, "history": [Plant(os.system, f"touch {marker}")]},
        "nested": {"epoch": 0, "rng": {"python": Plant(Path.touch, marker)}},
    }


@pytest.mark.parametrize("payload", ["open", "system", "nested"])
@pytest.mark.parametrize("kind", ["train", "standalone"])
def test_planted_checkpoint_never_runs(tmp_path, monkeypatch, capsys, kind, payload):
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    marker = tmp_path / "pwned"
    if kind == "train":
        dump_config(load_config(None, MINI), run / "config.yaml")
        argv = ["train", "--resume", str(run)]
    else:
        dump_config(load_config(None, SOLO, model=StandaloneConfig), run / "config.yaml")
        argv = ["standalone", "train", "--resume", str(run)]
    torch.save(_payloads(marker)[payload], run / "checkpoint.pt")
    assert main(argv) == 2
    err = one_error_line(capsys)
    assert f"checkpoint {run / 'checkpoint.pt'} is unreadable" in err and "refused" in err
    assert not marker.exists()


def test_checkpoint_is_plain_and_resumes_exactly(tmp_path, mini):
    summary = train(load_config(None, [*mini, "name=plain"]))
    ckpt = Path(summary["run_dir"]) / "checkpoint.pt"
    assert torch.serialization.get_unsafe_globals_in_checkpoint(ckpt) == []
    state = torch.load(ckpt, weights_only=True)
    assert isinstance(state["rng"]["numpy_global"]["words"], torch.Tensor)


def test_rng_state_round_trip_and_older_checkpoints():
    rng = np.random.default_rng(7)
    saved, legacy = rng_state(rng), np.random.get_state()
    expect = (np.random.rand(3), rng.random(3), torch.rand(3))
    old = {**saved, "numpy_global": legacy}  # how checkpoints held it before
    for state in (saved, old):
        np.random.seed(0)
        rng2 = np.random.default_rng(0)
        set_rng_state(state, rng2)
        got = (np.random.rand(3), rng2.random(3), torch.rand(3))
        assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(got, expect, strict=True))


def test_older_checkpoint_with_numpy_state_still_loads(tmp_path):
    run = RunDir(tmp_path)
    torch.save({"epoch": 1, "rng": {"numpy_global": np.random.get_state()}}, run.checkpoint)
    state = run.load_checkpoint()
    assert state["rng"]["numpy_global"][1].dtype == np.uint32


# ---- run names and folders wsnas did not make ---------------------------------------------------
BAD_NAMES = ["../../x", "../x", "a/b", "x/", "a\\b", ".", ".."]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_run_name_is_one_folder_name(tmp_path, mini, capsys, name):
    before = snapshot(tmp_path)
    assert main(["train", *mini, f"name={name}"]) == 2
    assert "key 'name'" in one_error_line(capsys)
    assert snapshot(tmp_path) == before and not (tmp_path.parent / "x").exists()


@pytest.mark.parametrize("name", ["", " ", "/abs-x", "..", "a/b", "nul\0byte"])
def test_run_name_checked_by_the_api_and_standalone(tmp_path, mini, name):
    if name.startswith("/"):
        name = str(tmp_path / "abs-x")
    cfg = load_config(None, mini).model_copy(update={"name": name})
    with pytest.raises(ConfigError, match="key 'name'"):
        train(cfg)
    solo = load_config(None, [*SOLO, f"out_dir={tmp_path / 'runs'}"], model=StandaloneConfig)
    with pytest.raises(ConfigError, match="key 'name'"):
        train_standalone(solo.model_copy(update={"name": name}))
    assert not (tmp_path / "runs").exists() and not (tmp_path / "abs-x").exists()


def _wsnas_config_text() -> str:
    path = Path("/tmp") / f"wsnas-cfg-{os.getpid()}.yaml"
    dump_config(load_config(None, MINI), path)
    text = path.read_text()
    path.unlink()
    return text


FOREIGN = {
    "own config.yaml": {"config.yaml": "mine: 1\n"},
    "own config.yaml and notes": {"config.yaml": "mine: 1\n", "notes.txt": "keep\n"},
    "notes only": {"notes.txt": "keep\n"},
    "a wsnas config next to user files": {"config.yaml": None, "data.csv": "1,2\n"},
    "a log.jsonl that is not ours": {"log.jsonl": "{}\n", "README": "x\n"},
}


@pytest.mark.parametrize("files", FOREIGN.values(), ids=FOREIGN.keys())
def test_a_folder_that_is_not_a_run_dir_is_never_written(tmp_path, mini, capsys, files):
    folder = tmp_path / "runs" / "mine"
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(_wsnas_config_text() if text is None else text)
    before = snapshot(tmp_path)
    assert main(["train", *mini, "name=mine"]) == 2
    assert "is not a wsnas run dir; it is left alone" in one_error_line(capsys)
    if "config.yaml" in files:  # and --resume of it is refused too
        assert main(["train", "--resume", str(folder)]) == 2
        one_error_line(capsys)
    assert snapshot(tmp_path) == before


def test_a_file_in_place_of_the_run_dir(tmp_path, mini, capsys):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "f").write_text("x")
    assert main(["train", *mini, "name=f"]) == 2
    assert "is not a folder" in one_error_line(capsys)
    assert (tmp_path / "runs" / "f").read_text() == "x"


# ---- one writer per run dir ---------------------------------------------------------------------
def test_dir_lock_names_its_holder(tmp_path):
    first = DirLock(tmp_path)
    first.acquire()
    assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    assert holder(tmp_path) == os.getpid()
    with pytest.raises(Locked, match=f"pid {os.getpid()}") as e:
        DirLock(tmp_path).acquire()
    assert e.value.pid == os.getpid()
    first.release()
    assert holder(tmp_path) is None
    with DirLock(tmp_path) as again:
        assert again.held


def test_kill_9_leaves_no_stale_lock(tmp_path):
    code = (
        "import sys, time; from wsnas.core.dirlock import DirLock; DirLock(sys.argv[1]).acquire(); "
        "print('locked', flush=True); time.sleep(120)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, env=ENV)
    assert proc.stdout.readline().strip() == b"locked"
    assert holder(tmp_path) == proc.pid
    with pytest.raises(Locked, match=f"pid {proc.pid}"):
        DirLock(tmp_path).acquire()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert holder(tmp_path) is None
    DirLock(tmp_path).acquire()


@pytest.mark.parametrize("how", ["new", "resume", "standalone", "standalone-resume"])
def test_a_second_writer_is_refused(tmp_path, mini, capsys, how):
    run = tmp_path / "runs" / "busy"
    run.mkdir(parents=True)
    if how == "resume":
        dump_config(load_config(None, mini), run / "config.yaml")
    if how == "standalone-resume":
        dump_config(load_config(None, SOLO, model=StandaloneConfig), run / "config.yaml")
    lock = DirLock(run)
    lock.acquire()  # this process plays the other writer
    before = snapshot(tmp_path)
    argv = {
        "new": ["train", *mini, "name=busy"],
        "resume": ["train", "--resume", str(run)],
        "standalone": [
            "standalone",
            "train",
            "nb201_mini",
            ARCH,
            *SOLO[1:-1],
            f"out_dir={run.parent}",
            "name=busy",
        ],
        "standalone-resume": ["standalone", "train", "--resume", str(run)],
    }[how]
    t0 = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - t0 < 30  # refused before the trainer is built
    err = one_error_line(capsys)
    assert f"run dir {run} is being written by another process (pid {os.getpid()})" in err
    assert snapshot(tmp_path) == before
    lock.release()


@pytest.mark.slow
def test_two_trains_with_one_name(tmp_path, monkeypatch, capsys):
    """The second `wsnas train` (other config, same name) fails at once naming the first's pid;
    the first (a subprocess) finishes undisturbed."""
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    common = [*MINI, f"out_dir={tmp_path / 'runs'}", "name=same", "protocol.epochs=30"]
    env = {**ENV, "WSNAS_CACHE": str(tmp_path / "cache")}
    first = subprocess.Popen(
        [sys.executable, "-m", "wsnas", "train", *common],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    run = tmp_path / "runs" / "same"
    deadline = time.time() + 120
    while holder(run) != first.pid and time.time() < deadline and first.poll() is None:
        time.sleep(0.02)
    assert holder(run) == first.pid
    assert main(["train", *common, "protocol.lr=0.1"]) == 2
    assert first.poll() is None, "the first run must still be writing"
    assert one_error_line(capsys) == (
        f"wsnas: error: run dir {run} is being written by another process (pid {first.pid}); "
        "wait for it to finish or choose another name/out_dir"
    )
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    cfg = load_config(None, common)
    assert RunDir(run).load_config().hash() == cfg.hash()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["config_hash"] == cfg.hash()
    log = [json.loads(x)["type"] for x in (run / "log.jsonl").read_text().splitlines()]
    assert log == ["epoch"] * 30 + ["eval"]


def test_sweep_runs_the_others_first_and_waits_for_a_run_another_process_writes(tmp_path):
    """A run another process writes is never run twice nor recorded as failed (issue 28): the
    driver runs the others, waits for it, and records what that process left."""
    spec = parse_spec(
        {
            "base": {"space": {"name": "nb201"}},
            "factors": {"protocol.lr": [0.025, 0.1]},
            "seeds": [0],
            "mode": "grid",
        }
    )
    logs: list[str] = []
    sweep = Sweep(spec, None, tmp_path / "sweep", log=logs.append)
    sweep.execution.poll_seconds = 0.02
    runs = sweep.plan()
    busy = runs[0].run_dir
    busy.mkdir(parents=True)
    lock = DirLock(busy)
    lock.acquire()
    order: list[str] = []
    sweep._executor = ex = FakeExecutor()
    timer = threading.Timer(0.3, lambda: (order.append("released"), lock.release()))
    timer.start()
    result = sweep.run()
    timer.join()
    assert ex.calls == [r.name for r in runs[1:]] + [runs[0].name]  # the others first, it once released
    assert order == ["released"] and result.ok
    assert any(runs[0].name in m and f"pid {os.getpid()}" in m and "waiting" in m for m in logs)


# ---- failed start-up, stale temp files ----------------------------------------------------------
STARTUP = {
    "data root": ["data.name=cifar10", "data.root=/nonexistent/cifar"],
    "metric": ["bench.metric=no_such_metric"],
    "schedule": ["bench.schedule=no_such_schedule"],
}


@pytest.mark.parametrize("bad", STARTUP.values(), ids=STARTUP.keys())
@pytest.mark.parametrize("existing", [False, True], ids=["new folder", "empty folder"])
def test_a_failed_start_up_leaves_no_run_dir(tmp_path, mini, capsys, bad, existing):
    if existing:
        (tmp_path / "runs" / "r").mkdir(parents=True)
    before = snapshot(tmp_path)
    assert main(["train", *mini, "name=r", *bad]) == 2
    one_error_line(capsys)
    assert snapshot(tmp_path) == before


def test_a_failed_start_up_on_a_bad_seed_leaves_no_run_dir(tmp_path, mini):
    before = snapshot(tmp_path)
    with pytest.raises((WsnasError, RuntimeError, ValueError, OverflowError)):
        train(load_config(None, [*mini, "name=r"]).model_copy(update={"seed": 2**64 + 1}))
    assert snapshot(tmp_path) == before


def _cut_after_one_epoch(monkeypatch, cls) -> None:
    original = cls.train_epoch
    calls = {"n": 0}

    def train_epoch(self):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # stands in for the kill
        return original(self)

    monkeypatch.setattr(cls, "train_epoch", train_epoch)


def test_resume_removes_temp_files_a_killed_writer_left(tmp_path, monkeypatch):
    cfg = load_config(
        None, [*SOLO, f"out_dir={tmp_path}", "name=r", "proxy.epochs=2"], model=StandaloneConfig
    )
    _cut_after_one_epoch(monkeypatch, StandaloneTrainer)
    with pytest.raises(KeyboardInterrupt):
        train_standalone(cfg)
    monkeypatch.undo()
    run = tmp_path / "r"
    for name in (".checkpoint.pt.k1ll3d.tmp", ".summary.json.x.tmp", ".log.jsonl.y.tmp"):
        (run / name).write_bytes((run / "checkpoint.pt").read_bytes())  # full size
    assert main(["standalone", "train", "--resume", str(run)]) == 0
    assert not list(run.rglob("*.tmp"))
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_kill_9_during_a_checkpoint_write(tmp_path):
    """A real SIGKILL in the middle of writing the second checkpoint; the resume cleans up."""
    code = r"""
import os, signal, sys
import wsnas.engine.rundir as rd
from wsnas.config import load_config
from wsnas.trainers.supernet_trainer import train
saves = {"n": 0}
real = rd.torch.save
def save(obj, f):
    saves["n"] += 1
    real(obj, f)
    if saves["n"] == 2:
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
rd.torch.save = save
train(load_config(None, sys.argv[1:]))
"""
    args = [*MINI, f"out_dir={tmp_path / 'runs'}", "name=k", "protocol.epochs=3"]
    env = {**ENV, "WSNAS_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    run = tmp_path / "runs" / "k"
    (tmp,) = run.glob(".checkpoint.pt.*.tmp")
    assert tmp.stat().st_size > 0.9 * (run / "checkpoint.pt").stat().st_size  # a full-size leftover
    rc = subprocess.run(
        [sys.executable, "-m", "wsnas", "train", "--resume", str(run)], env=env, capture_output=True
    )
    assert rc.returncode == 0, rc.stderr.decode()
    assert not list(run.rglob("*.tmp"))
    log = [json.loads(x)["type"] for x in (run / "log.jsonl").read_text().splitlines()]
    assert log == ["epoch", "epoch", "epoch", "eval"]
