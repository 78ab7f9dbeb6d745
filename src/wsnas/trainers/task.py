"""A training run as a worker task (`wsnas.execution.tasks`): a super-net or stand-alone config
trained (or resumed, or left as it is when already done) in its run dir.

The run's state is re-read here rather than trusted from the driver, so a task retried after its
worker died resumes from the run's last checkpoint. A diverged run is a result, not an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wsnas.config import RunConfig, StandaloneConfig, validate
from wsnas.engine.rundir import run_state
from wsnas.spaces.check import mark_checked
from wsnas.trainers.standalone_trainer import train_standalone
from wsnas.trainers.supernet_trainer import Diverged, train

TARGET = "wsnas.trainers.task:train_task"
"""The target both training kinds ("supernet", "standalone") register."""


def train_task(task: dict[str, Any]) -> dict[str, Any]:
    """Train the task's config; {status, final, error, started_as}.

    `task["kind"]` is "supernet" (a RunConfig) or "standalone" (a StandaloneConfig);
    `task["checked"]`: the driver checked the config (`spaces.check`), so it is not checked again.
    """
    standalone = task.get("kind") == "standalone"
    model = StandaloneConfig if standalone else RunConfig
    cfg = validate(task["config"], source=f"run {task['name']}", model=model)
    if task.get("checked"):  # by the driver, before anything was written
        mark_checked(cfg)
    run_dir = Path(task["run_dir"])
    state = run_state(run_dir)
    result: dict[str, Any] = {"started_as": state}
    if state in ("finished", "diverged"):
        summary = json.loads((run_dir / "summary.json").read_text())
        return {**result, "status": state, "final": summary.get("final", {}), "error": summary.get("message")}
    resume = str(run_dir) if state == "resume" else None
    try:
        summary = _train(cfg, resume, standalone)
    except Diverged as e:
        return {**result, "status": "diverged", "error": str(e)}
    return {**result, "status": "finished", "final": summary["final"]}


def _train(cfg: Any, resume_dir: str | None, standalone: bool) -> dict[str, Any]:
    if standalone:
        return train_standalone(cfg, resume_dir=resume_dir)
    return train(cfg, resume_dir=resume_dir)
