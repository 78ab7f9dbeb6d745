"""A paper-mode sweep's roles, read from its paper.json: the two baselines and each row.

The paper compares the hyper-parameters of P_ws against the starting point (Random NAS
with the stand-alone hyper-parameters) and every other factor against the tuned
baseline. Which runs are which is recorded by the sweep (`wsnas.sweep.stages`); the
report reads it here, for the sweep dirs its run dirs live in (SWEEP/runs/NAME).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsnas.report.runs import RunRecord

STUDY_FILE = "paper.json"


@dataclass
class Row:
    """One one-at-a-time row: the factor, its value (maybe compound) and the run names."""

    factor: str
    value: Any
    runs: set[str]


@dataclass
class PaperStudy:
    """Run names by role; merged over several sweep dirs of one space."""

    sequential: list[str] = field(default_factory=list)
    one_at_a_time: list[str] = field(default_factory=list)
    start_runs: set[str] = field(default_factory=set)
    tuned_runs: set[str] = field(default_factory=set)
    rows: list[Row] = field(default_factory=list)

    def add(self, doc: dict[str, Any]) -> None:
        self.sequential += [k for k in doc.get("sequential", []) if k not in self.sequential]
        self.one_at_a_time += [k for k in doc.get("one_at_a_time", []) if k not in self.one_at_a_time]
        self.start_runs |= set(doc.get("starting_point_runs", []))
        self.tuned_runs |= set(doc.get("tuned_runs", []))
        self.rows += [Row(r["factor"], r["value"], set(r["runs"])) for r in doc.get("rows", [])]


def load_studies(runs: list[RunRecord]) -> dict[str, PaperStudy]:
    """Space -> the paper study its runs' sweep dirs record (spaces without one are left out)."""
    docs: dict[Path, dict[str, Any] | None] = {}
    out: dict[str, PaperStudy] = {}
    for r in runs:
        sweep_dir = r.path.parent.parent
        if sweep_dir not in docs:
            try:
                docs[sweep_dir] = json.loads((sweep_dir / STUDY_FILE).read_text())
            except (OSError, ValueError):
                docs[sweep_dir] = None
            doc = docs[sweep_dir]
            if doc is not None:
                out.setdefault(r.space, PaperStudy()).add(doc)
    return out
