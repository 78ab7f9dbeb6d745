"""Thread count, OpenMP wait policy and the busy-machine note (`wsnas.core.threads`, issue 27)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from wsnas.core import threads
from wsnas.core.threads import busy_note, default_threads

SRC = Path(__file__).resolve().parents[2] / "src"


def test_busy_note_only_when_the_run_asks_for_more_threads_than_idle_cores():
    assert busy_note(2, load=0.1, cores=2) == ""
    assert busy_note(1, load=1.2, cores=2) == ""  # 0.8 idle: one thread fits
    note = busy_note(2, load=1.3, cores=2)  # another 1-2 thread process beside a 2-thread run
    assert note.startswith("busy machine: load 1.3 on 2 cores leaves about 0.7 idle, this run uses 2 threads")
    assert note.endswith("try runtime.threads=1")
    assert busy_note(1, load=5.0, cores=2) == ""  # one thread waits for no sibling: it gets its share
    assert busy_note(3, load=5.0, cores=4).endswith("try runtime.threads=1")
    assert busy_note(2, own_load=2.0, load=2.2, cores=2) == ""  # the load is this run's own threads
    assert busy_note(4, load=6.0, cores=8, short=True) == "load 6.0/8 cores, try runtime.threads=2"


def test_cgroup_quota_caps_the_usable_cores(tmp_path, monkeypatch):
    f = tmp_path / "cpu.max"
    f.write_text("150000 100000\n")
    assert threads._cgroup_quota(f) == 2
    f.write_text("max 100000\n")
    assert threads._cgroup_quota(f) is None
    assert threads._cgroup_quota(tmp_path / "absent") is None
    monkeypatch.setattr(threads, "_cgroup_quota", lambda: 1)
    assert threads.usable_cores() == 1


def test_default_threads_are_omp_num_threads_else_the_usable_cores(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert default_threads() == threads.usable_cores() == len(os.sched_getaffinity(0))


PROBE = """
import json, os, sys
from wsnas.cli.main import main
main(["list", "spaces"])
import torch
print(json.dumps({k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}), file=sys.stderr)
"""


def _policy(extra: dict[str, str]) -> dict[str, str | None]:
    env = {k: v for k, v in os.environ.items() if k not in threads.WAIT_VARS}
    env.update(extra, PYTHONPATH=str(SRC))
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    return json.loads(out.stderr.strip().splitlines()[-1])


def test_the_cli_sets_a_passive_wait_policy_before_torch_unless_the_user_chose_one():
    assert _policy({}) == {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": None}
    assert _policy({"GOMP_SPINCOUNT": "1000"}) == {"OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": "1000"}
