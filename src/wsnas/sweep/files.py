"""The files of a sweep dir, each read and written here only.

    sweep.yaml        the spec as run, with the command-line overrides (a record)
    base.yaml         the resolved base run config
    status.json       every planned run: label, seed, factor values, status, error
    failed.jsonl      one line per failed or diverged attempt, with the error text
    sequential.json   sequential and paper modes: each stage's scores and choice
    paper.json        paper mode: which runs the report compares against which

What is done is read from the run dirs themselves (summary.json); these files record
what the sweep saw and decided, so a killed sweep reruns into the same state.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wsnas.config import RunConfig, dump_config
from wsnas.core.atomic import write_text_atomic
from wsnas.core.errors import WsnasError
from wsnas.engine.rundir import run_state
from wsnas.sweep.plan import PlannedRun
from wsnas.sweep.spec import SweepSpec
from wsnas.sweep.status import run_seconds

Status = dict[str, dict[str, Any]]
"""status.json's runs: run name -> label, seed, factors, stage, status, error, seconds."""


@dataclass
class SweepFiles:
    """A sweep dir's record files and the status of every run recorded so far."""

    out_dir: Path
    mode: str
    status: Status = field(default_factory=dict)
    read_only: bool = False
    """A pool that joined another driver's sweep (`--join`) keeps its records in memory only:
    the sweep folder's files have one writer, the driver that holds its lock."""

    @property
    def status_file(self) -> Path:
        return self.out_dir / "status.json"

    @property
    def failed_file(self) -> Path:
        return self.out_dir / "failed.jsonl"

    @property
    def sequential_file(self) -> Path:
        return self.out_dir / "sequential.json"

    @property
    def paper_file(self) -> Path:
        return self.out_dir / "paper.json"

    def write_records(self, spec: SweepSpec, overrides: list[str], base: RunConfig) -> None:
        """sweep.yaml and base.yaml: what was asked, as a record next to the runs."""
        if self.read_only:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        record = {"spec": spec.model_dump(mode="json"), "overrides": overrides}
        write_text_atomic(self.out_dir / "sweep.yaml", yaml.safe_dump(record, sort_keys=False))
        dump_config(base, self.out_dir / "base.yaml")

    # ---- status.json and failed.jsonl ----------------------------------------------------
    def save_status(self) -> None:
        if self.read_only:
            return
        doc = {"mode": self.mode, "runs": self.status}
        write_text_atomic(self.status_file, json.dumps(doc, indent=2) + "\n")

    def read_status(self) -> Status:
        """The runs status.json recorded (empty when it is missing or unreadable)."""
        if not self.status_file.exists():
            return {}
        try:
            return dict(json.loads(self.status_file.read_text()).get("runs", {}))
        except ValueError:
            return {}

    def record(self, run: PlannedRun, stage: str | None, result: dict[str, Any] | None) -> None:
        """RUN's status entry: from its run dir, or from an executor's RESULT when given;
        a new failed or diverged attempt also gets a line in failed.jsonl."""
        state = run_state(run.run_dir)
        entry: dict[str, Any] = {
            "label": run.label,
            "seed": run.seed,
            "factors": run.assign,
            "stage": stage,
            "status": state if state in ("finished", "diverged") else "pending",
        }
        if result is not None:
            entry["status"] = result["status"]
            if result.get("error"):
                entry["error"] = result["error"]
            if "seconds" in result:
                entry["seconds"] = round(result["seconds"], 3)
            if result["status"] in ("failed", "diverged") and result.get("started_as") not in (
                "finished",
                "diverged",
            ):
                self._append_failure(result)
        elif state == "diverged":
            entry["error"] = json.loads((run.run_dir / "summary.json").read_text()).get("message")
        if "seconds" not in entry and state in ("finished", "diverged"):
            secs = run_seconds(run.run_dir)
            if secs is not None:
                entry["seconds"] = round(secs, 3)
        self.status[run.name] = entry

    def _append_failure(self, result: dict[str, Any]) -> None:
        if self.read_only:
            return
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **{k: result.get(k) for k in ("name", "status", "error", "traceback")},
        }
        with self.failed_file.open("a") as f:
            f.write(json.dumps(line) + "\n")

    # ---- sequential.json and paper.json --------------------------------------------------
    def load_stages(self, select: str) -> list[dict[str, Any]]:
        """The decided stages sequential.json holds (none when it chose by another metric)."""
        if not self.sequential_file.exists():
            return []
        try:
            doc = json.loads(self.sequential_file.read_text())
        except ValueError as e:
            msg = f"{self.sequential_file} is not valid JSON ({e}); delete it to decide again"
            raise WsnasError(msg) from None
        if doc.get("select") != select:
            return []
        return list(doc.get("stages", []))

    def save_stages(self, doc: dict[str, Any]) -> None:
        if self.read_only:
            return
        write_text_atomic(self.sequential_file, json.dumps(doc, indent=2) + "\n")

    def save_paper(self, doc: dict[str, Any]) -> None:
        if self.read_only:
            return
        write_text_atomic(self.paper_file, json.dumps(doc, indent=2) + "\n")
