"""What the ENAS and NAO tests share: the mini run's settings, a run killed with SIGKILL inside a
controller update, and the comparison of a resumed run with an uninterrupted one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from mini_runs import mini_run

MINI = mini_run()
"""tests/algorithms/test_search_runs.py's tiny run: nb201_mini on digits, a 4-channel super-net."""

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from wsnas.algorithms.controller_base import ControllerAlgorithm
    from wsnas.cli.main import main

    step = ControllerAlgorithm.clip_and_step
    calls = []

    def kill_in_epoch_2(self):
        if self.epoch == 1:
            calls.append(1)
            if len(calls) == int(os.environ["KILL_AT"]):  # gradients computed, optimiser not stepped
                os.kill(os.getpid(), signal.SIGKILL)
        step(self)

    ControllerAlgorithm.clip_and_step = kill_in_epoch_2
    sys.exit(main(["train", *sys.argv[1:]]))
    """
)


def kill_mid_controller_update(tmp_path: Path, args: list[str], kill_at: int) -> Path:
    """Run `wsnas train ARGS name=killed` in a child that SIGKILLs itself inside the KILL_AT-th
    controller update of epoch 2; the killed run's dir."""
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    proc = subprocess.run(
        [sys.executable, str(script), *args, "name=killed"],
        env={**os.environ, "KILL_AT": str(kill_at), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    run = tmp_path / "killed"
    assert not (run / "summary.json").exists()
    epochs = [json.loads(line)["epoch"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert epochs == [1, 1], "killed inside epoch 2, after epoch 1 and its evaluation"
    return run


def assert_same_run(killed_dir: Path, straight: dict[str, Any]) -> None:
    """The resumed run's final record, trajectory and log (less timings) are the uninterrupted run's,
    whose dir is the sibling `straight`."""
    killed = json.loads((killed_dir / "summary.json").read_text())
    same = lambda a, b: json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # noqa: E731 - NaN == NaN
    assert same(killed["final"], straight["final"])
    assert same(killed["algorithm"]["trajectory"], straight["algorithm"]["trajectory"])
    log = lambda d: [  # noqa: E731
        {k: v for k, v in json.loads(line).items() if k not in ("seconds", "images_per_s")}
        for line in (d / "log.jsonl").read_text().splitlines()
    ]
    assert same(log(killed_dir), log(killed_dir.parent / "straight"))
