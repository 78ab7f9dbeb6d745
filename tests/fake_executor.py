"""A sweep executor that trains nothing: it writes what a run would, from a formula.

Shared by the sweep, paper-mode and run-dir tests, so the driver's logic is tested in
milliseconds; each test passes the accuracy formula (and what diverges or fails).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from wsnas.execution.executors import Executor


class FakeExecutor(Executor):
    """Writes config.yaml and summary.json per task; names containing a `fail` entry fail,
    configs `diverges` accepts diverge, a checkpoint already there counts as a resume."""

    name = "fake"

    def __init__(
        self,
        accuracy: Callable[[dict[str, Any]], float] = lambda cfg: 1.0,
        fail: tuple[str, ...] = (),
        diverges: Callable[[dict[str, Any]], bool] = lambda cfg: False,
        seconds: float = 0.0,
    ) -> None:
        self.accuracy, self.fail, self.diverges, self.seconds = accuracy, fail, diverges, seconds
        self.calls: list[str] = []
        self.resumed: list[str] = []

    def run(self, tasks):
        for t in tasks:
            self.calls.append(t["name"])
            run = Path(t["run_dir"])
            run.mkdir(parents=True, exist_ok=True)
            (run / "config.yaml").write_text(yaml.safe_dump(t["config"]))
            if (run / "checkpoint.pt").exists():
                self.resumed.append(t["name"])
            if any(f in t["name"] for f in self.fail):
                yield {
                    "name": t["name"],
                    "status": "failed",
                    "error": "OSError: disk on fire",
                    "traceback": "Traceback ...",
                    "seconds": self.seconds,
                }
                continue
            if self.diverges(t["config"]):
                summary: dict[str, Any] = {"status": "diverged", "message": "run diverged at epoch 1 step 3"}
            else:
                summary = {"status": "finished", "final": {"final_acc": self.accuracy(t["config"])}}
                if self.seconds:
                    summary["timing"] = {"seconds": self.seconds}
            (run / "summary.json").write_text(json.dumps(summary))
            yield {
                "name": t["name"],
                "status": summary["status"],
                "final": summary.get("final", {}),
                "error": summary.get("message"),
                "seconds": self.seconds,
            }
