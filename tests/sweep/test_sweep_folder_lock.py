"""One writer per sweep folder (issue 28).

Before: two `wsnas sweep` drivers on one --out each recorded the runs the other held as
failed, a sequential stage never started and both exited 1. Now the driver holds the folder's
lock, a second driver is refused with one line naming it, `--status` keeps working, and a pool
started with --join runs what nobody runs without touching the folder's files. `wsnas bench
build` is refused the same way.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import yaml

import wsnas.sweep.runner as sweep_runner
from fake_executor import FakeExecutor
from wsnas.cli.main import main
from wsnas.core.dirlock import DirLock
from wsnas.sweep import Sweep, parse_spec

SPEC = {
    "base": {"space": {"name": "nb201"}},
    "factors": {"protocol.lr": [0.025, 0.05, 0.1]},
    "seeds": [0],
    "mode": "grid",
}


def _spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    return path


def test_a_second_driver_is_refused_with_one_line_naming_the_first(tmp_path, capsys):
    out = tmp_path / "sweep"
    out.mkdir()
    with DirLock(out, "sweep folder"):  # the first driver, running
        assert main(["sweep", str(_spec_file(tmp_path)), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and f"being run by another `wsnas sweep` (pid {os.getpid()})" in err
        assert "--status" in err and "--join" in err
        assert not (out / "status.json").exists() and not (out / "failed.jsonl").exists()
        assert main(["sweep", str(_spec_file(tmp_path)), "--out", str(out), "--status"]) == 0
        assert "3 total" in capsys.readouterr().out  # --status reads while the sweep runs


def test_the_driver_waits_for_a_run_another_process_writes_instead_of_failing_it(tmp_path):
    logs: list[str] = []
    sweep = Sweep(parse_spec(SPEC), None, tmp_path / "sweep", log=logs.append)
    sweep.execution.poll_seconds = 0.02
    runs = sweep.plan()
    busy = runs[0].run_dir
    busy.mkdir(parents=True)
    other = DirLock(busy, "run dir")
    other.acquire()

    def finish_elsewhere() -> None:  # the other process finishes the run, then lets go
        (busy / "config.yaml").write_text(yaml.safe_dump(runs[0].cfg.to_dict()))
        (busy / "summary.json").write_text('{"status": "finished", "final": {"final_acc": 1.0}}')
        other.release()

    timer = threading.Timer(0.3, finish_elsewhere)
    timer.start()
    sweep._executor = ex = FakeExecutor()
    result = sweep.run()
    timer.join()
    assert result.ok and result.count("finished") == 3
    assert ex.calls == [r.name for r in runs[1:]]  # never run twice
    assert not (tmp_path / "sweep" / "failed.jsonl").exists()
    assert any("waiting for 1 run(s)" in m for m in logs)


def test_a_run_the_other_process_left_unfinished_is_run_by_the_driver(tmp_path):
    sweep = Sweep(parse_spec(SPEC), None, tmp_path / "sweep", log=lambda m: None)
    sweep.execution.poll_seconds = 0.02
    runs = sweep.plan()
    runs[0].run_dir.mkdir(parents=True)
    other = DirLock(runs[0].run_dir, "run dir")
    other.acquire()
    timer = threading.Timer(0.2, other.release)  # stopped (Ctrl-C) before finishing it
    timer.start()
    sweep._executor = ex = FakeExecutor()
    assert sweep.run().ok
    timer.join()
    assert sorted(ex.calls) == sorted(r.name for r in runs)


def test_a_joined_pool_runs_what_nobody_runs_and_writes_no_sweep_file(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep_runner, "POLL_SECONDS", 0.02)
    out = tmp_path / "sweep"
    driver = Sweep(parse_spec(SPEC), None, out, log=lambda m: None)
    driver.files.write_records(driver.spec, [], driver.planner.base)  # what a driver writes first
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    runs = driver.plan()
    runs[0].run_dir.mkdir(parents=True)
    held = DirLock(runs[0].run_dir, "run dir")  # the driver is training this one
    held.acquire()
    folder = DirLock(out, "sweep folder")
    folder.acquire()
    logs: list[str] = []
    joiner = Sweep(parse_spec(SPEC), None, out, log=logs.append, join=True)
    joiner._executor = ex = FakeExecutor()

    def driver_ends() -> None:
        """Once the joiner has run the two free runs, the driver finishes its own and exits (not on a
        timer: a joiner slower than the timer would find base-s0 free and unfinished, and rightly run
        it)."""
        deadline = time.monotonic() + 60
        while len(ex.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        (runs[0].run_dir / "summary.json").write_text(json.dumps({"status": "finished"}))
        held.release()
        folder.release()

    ender = threading.Thread(target=driver_ends)
    ender.start()
    result = joiner.run()
    ender.join()
    assert ex.calls == [r.name for r in runs[1:]]
    assert result.count("finished") == 2
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and p.name != ".wsnas.lock"}
    assert after == {k: v for k, v in before.items() if k != ".wsnas.lock"}  # no status.json, no failed.jsonl
    assert any(f"joining the sweep in {out} (driver pid {os.getpid()})" in m for m in logs)


def test_join_without_a_sweep_is_refused(tmp_path, capsys):
    argv = ["sweep", str(_spec_file(tmp_path)), "--out", str(tmp_path / "none"), "--join"]
    assert main(argv) == 2
    assert "no sweep runs in" in capsys.readouterr().err
    out = tmp_path / "sweep"
    assert main(["sweep", str(_spec_file(tmp_path)), "--out", str(out), "--dry-run"]) == 0
    out.mkdir()
    (out / "sweep.yaml").write_text("{}")  # a sweep that ran once and is not running now
    assert main([*argv[:-2], str(out), "--join"]) == 2
    assert "no driver holds it" in capsys.readouterr().err


def test_a_second_bench_build_is_refused(tmp_path, capsys):
    spec = tmp_path / "build.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "space": "nb201_mini",
                "archs": ["|none~0|+|none~0|skip_connect~1|"],
                "seeds": [0],
                "overrides": ["data.name=digits"],
            }
        )
    )
    out = tmp_path / "b"
    out.mkdir()
    with DirLock(out, "sweep folder"):
        assert main(["bench", "build", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"being run by another `wsnas bench build` (pid {os.getpid()})" in err
    assert not (out / "spec.yaml").exists()
