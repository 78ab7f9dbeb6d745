"""Sweep workers die with their driver, even when the driver is killed with SIGKILL.

- `die_with_driver` on its own, in a torch-free process whose parent is killed: the
  kernel's parent-death signal and the watch thread each end the orphan; with neither
  it would live on (the harness's control);
- a real `wsnas sweep` (local pool, 2 workers) killed with SIGKILL while training: its
  pool workers are gone within seconds;
- the same with `--executor ray` on the local Ray the sweep starts: the task running
  the run, the other Ray workers and the Ray servers go with the driver.

Processes are read from /proc (Linux): a zombie counts as gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "src" / "wsnas" / "execution" / "worker.py"

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")

ORPHAN = f"""
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("sweep_worker", {str(WORKER)!r})
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)  # the module alone: no torch, no wsnas package
driver, mode = int(sys.argv[1]), sys.argv[2]
worker.die_with_driver(driver, pdeathsig=mode == "pdeathsig", watch_s=0.1 if mode == "watch" else None)
print("ready", flush=True)
time.sleep(60)
"""

DRIVER = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid()), sys.argv[2]])
print(child.pid, flush=True)
time.sleep(60)
"""


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a process, None if there is none."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, ppid = text[text.rindex(")") + 2 :].split()[:2]
    return state, int(ppid)


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (st := _stat(int(d.name))) is not None:
            kids.setdefault(st[1], []).append(int(d.name))
    return kids


def _descendants(pid: int) -> list[int]:
    kids, out, todo = _children(), [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _wait_gone(pids: list[int], timeout: float) -> float:
    """Seconds until every pid is gone; fails (naming the survivors) after `timeout`."""
    t0 = time.perf_counter()
    while (left := [p for p in pids if _alive(p)]) and time.perf_counter() - t0 < timeout:
        time.sleep(0.02)
    assert not left, f"still running {timeout:.0f} s after the driver died: " + ", ".join(
        f"{p} ({_cmdline(p)[:80]})" for p in left
    )
    return time.perf_counter() - t0


def _kill(pids: list[int]) -> None:
    """Clean-up after a failed test: end what it started, by pid."""
    for p in pids:
        if _alive(p):
            os.kill(p, signal.SIGKILL)


@pytest.mark.parametrize("mode", ["pdeathsig", "watch", "none"])
def test_orphan_dies_with_its_driver(mode):
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, ORPHAN, mode], stdout=subprocess.PIPE, text=True)
    child = int(driver.stdout.readline())
    try:
        assert driver.stdout.readline().strip() == "ready"
        driver.kill()
        driver.wait()
        if mode == "none":  # the control: an orphan with neither mechanism lives on
            time.sleep(1.0)
            assert _alive(child)
        else:
            _wait_gone([child], timeout=3.0)
    finally:
        _kill([child])
        driver.stdout.close()


def test_worker_of_an_already_dead_driver_exits_at_once():
    # the driver pid is not this process's parent: as if the driver died before the initializer
    proc = subprocess.run(
        [sys.executable, "-c", ORPHAN, str(os.getpid() + 10**7), "watch"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1 and "ready" not in proc.stdout


def _spec(tmp_path: Path, executor: dict) -> Path:
    spec = {
        "base": str(ROOT / "src" / "wsnas" / "presets" / "demo.yaml"),
        "overrides": {
            "protocol.epochs": 200,
            "lowfi.channels": 4,
            "eval.pool_size": 10,
            "eval.epochs": [],
            "runtime.threads": 1,
            "runtime.device": "cpu",
            "bench.cache_dir": str(tmp_path / "cache"),
        },
        "factors": {"protocol.lr": [0.025, 0.05]},
        "seeds": [0],
        "executor": executor,
    }
    f = tmp_path / "spec.yaml"
    f.write_text(yaml.safe_dump(spec))
    return f


def _start_sweep(tmp_path: Path, executor: dict) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "wsnas", "sweep", str(_spec(tmp_path, executor)), "--out", str(out)]
    with open(tmp_path / "driver.err", "w") as err:  # the child keeps its own copy of the file
        proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=err)
    return proc, out


def _wait_training(
    proc: subprocess.Popen, out: Path, tmp_path: Path, ready, timeout: float = 300
) -> list[int]:
    """Wait until a run has written its log and `ready(descendants)` holds; the descendants."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        procs = _descendants(proc.pid)
        if list(out.glob("runs/*/log.jsonl")) and ready(procs):
            return procs
        time.sleep(0.1)
    err = (tmp_path / "driver.err").read_text()
    raise AssertionError(f"no run training (driver rc {proc.poll()}):\n{err}")


RAY_AGENTS = ("ray::DashboardAgent", "ray::RuntimeEnvAgent")


def _is_pool_worker(pid: int) -> bool:
    return "--multiprocessing-fork" in _cmdline(pid)


@pytest.mark.slow
def test_local_sweep_workers_die_when_driver_is_killed(tmp_path):
    proc, out = _start_sweep(tmp_path, {"name": "local", "workers": 2})
    procs: list[int] = []
    try:
        procs = _wait_training(proc, out, tmp_path, ready=lambda ps: sum(map(_is_pool_worker, ps)) == 2)
        workers = [p for p in procs if _is_pool_worker(p)]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        took = _wait_gone(workers, timeout=5.0)
        took_all = took + _wait_gone(procs, timeout=5.0)  # the resource tracker too
        print(
            f"local pool: {len(workers)} workers gone {took:.2f} s after kill -9 of the driver, "
            f"all {len(procs)} children {took_all:.2f} s"
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _kill(procs)


@pytest.mark.slow
def test_ray_sweep_tasks_die_when_driver_is_killed(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'wsnas[ray]'")
    proc, out = _start_sweep(tmp_path, {"name": "ray", "workers": 1})
    procs: list[int] = []
    try:
        procs = _wait_training(
            proc, out, tmp_path, ready=lambda ps: any("ray::run_task" in _cmdline(p) for p in ps)
        )
        tasks = [p for p in procs if "ray::run_task" in _cmdline(p)]
        # Ray's per-node agents notice the raylet's death only after a gRPC timeout (about a
        # minute, measured on Ray 2.60); they train nothing, so they are left to Ray (and to finally)
        rest = [p for p in procs if not any(a in _cmdline(p) for a in RAY_AGENTS)]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        took = _wait_gone(tasks, timeout=30.0)
        took_all = took + _wait_gone(rest, timeout=30.0)
        print(
            f"ray: the running task gone {took:.2f} s after kill -9 of the driver, "
            f"the local Ray's {len(rest)} other workers and servers {took_all:.2f} s"
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _kill(procs)


class _FakeRay:
    """Just enough of Ray for RayExecutor: refs are ints, the first ref waited on is done."""

    def __init__(self, interrupt: bool) -> None:
        self.interrupt, self.submitted, self.cancelled = interrupt, 0, []

    def is_initialized(self) -> bool:
        return True  # the caller's Ray: used as it is, never shut down

    def cluster_resources(self) -> dict:
        return {"CPU": 4}

    def remote(self, fn_or_task):  # ray.remote(fn), then .remote(task) on the result
        if callable(fn_or_task):
            return self
        self.submitted += 1
        return self.submitted

    def options(self, **kw):
        return self

    def wait(self, refs, num_returns):
        if self.interrupt:
            raise KeyboardInterrupt  # Ctrl-C while the driver waits
        return refs[:1], refs[1:]

    def get(self, ref) -> dict:
        return {"name": f"r{ref}", "status": "finished"}

    def cancel(self, ref) -> None:
        self.cancelled.append(ref)


@pytest.mark.parametrize("how", ["ctrl-c in wait", "generator closed", "only close()"])
def test_ray_executor_cancels_tasks_in_flight_when_stopped_early(monkeypatch, how):
    from wsnas.execution import executors

    fake = _FakeRay(interrupt=how == "ctrl-c in wait")
    monkeypatch.setattr(executors, "import_ray", lambda: fake)
    ex = executors.RayExecutor(workers=2)
    gen = ex.run([{"name": f"r{i}", "run_dir": f"d{i}"} for i in (1, 2, 3)])
    if how == "ctrl-c in wait":
        with pytest.raises(KeyboardInterrupt):
            next(gen)
        assert fake.cancelled == [1, 2]  # both in flight; the third was never sent
    else:
        assert next(gen)["name"] == "r1"
        if how == "generator closed":
            gen.close()
        ex.close()  # a caller whose loop raised closes the executor, maybe not the generator
        assert fake.cancelled == [2]
    ex.close()
    gen.close()
    assert fake.submitted == 2 and len(set(fake.cancelled)) == len(fake.cancelled)  # none twice
