"""Which runs a sweep has, and the decisions of its sequential and paper stages.

Grid and one-at-a-time sweeps plan every run at once. A sequential sweep tunes one
factor per stage: a stage is decided only once all its runs are finished or
diverged, and a decided stage is final: a rerun reuses its choice (sequential.json)
as long as the stage's runs are the same. Paper mode runs the sequential stages,
then the one-at-a-time rows around the tuned result (paper.json says which runs
the report compares against which).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsnas.core.errors import WsnasError
from wsnas.sweep.files import Status, SweepFiles
from wsnas.sweep.noise import noise_text, stage_noise
from wsnas.sweep.plan import PlannedRun, Planner, format_value
from wsnas.sweep.spec import SweepSpec, assignment

Execute = Callable[[list[PlannedRun], str | None], None]
"""Runs what is not done of the given runs (as stage NAME) and records every outcome."""


def _key(v: Any) -> str:
    return json.dumps(v, sort_keys=True)


@dataclass
class SweepResult:
    """What a sweep did: its planned runs and each one's status (and, sequential, the chosen values)."""

    out_dir: Path
    runs: list[PlannedRun]
    status: Status
    chosen: dict[str, Any] | None = None
    """sequential: the value chosen for each decided factor, in order."""
    complete: bool = True
    """False when a sequential sweep stopped at a stage with failed runs."""
    message: str = ""

    def count(self, status: str) -> int:
        """How many planned runs have STATUS (`finished`, `failed`, `diverged`, ...)."""
        return sum(1 for r in self.runs if self.status.get(r.name, {}).get("status") == status)

    @property
    def ok(self) -> bool:
        """Whether the sweep completed with no failed run."""
        return self.complete and self.count("failed") == 0


@dataclass
class Stages:
    """The runs of each mode, and the sequential and paper stages run one after another."""

    spec: SweepSpec
    planner: Planner
    files: SweepFiles
    log: Callable[[str], None] = print
    stage_text: str | None = field(default=None, init=False)
    """The stage running now, for the progress line (None outside sequential and paper)."""

    # ---- planning ------------------------------------------------------------------------
    def plan(self) -> list[PlannedRun]:
        """The runs known now (sequential: the decided stages and the next one), nothing run."""
        if self.spec.mode == "grid":
            return self.planner.grid()
        if self.spec.mode == "one-at-a-time":
            return self.planner.one_at_a_time()
        runs, fixed, decided = self.plan_stages()
        if self.spec.mode == "paper" and decided == len(self.spec.factor_order()):
            runs.update((r.name, r) for r in self.planner.around_tuned(fixed))
        return list(runs.values())

    def plan_stages(self) -> tuple[dict[str, PlannedRun], dict[str, Any], int]:
        """The decided stages' and the next stage's runs, the choices so far, the number decided."""
        runs: dict[str, PlannedRun] = {}
        fixed: dict[str, Any] = {}
        stages = self.files.load_stages(self.spec.select)
        decided = 0
        for i, factor in enumerate(self.spec.factor_order()):
            stage_runs = self.planner.stage(factor, fixed)
            runs.update((r.name, r) for r in stage_runs)
            rec = stages[i] if i < len(stages) else None
            if rec is None or not self._stage_matches(rec, factor, fixed, stage_runs):
                break
            fixed[factor] = rec["chosen"]
            decided += 1
        return runs, fixed, decided

    def current_stage(self) -> str | None:
        """The first undecided stage of a sequential study, or its one-at-a-time part."""
        if self.spec.mode not in ("sequential", "paper"):
            return None
        _, _, decided = self.plan_stages()
        order = self.spec.factor_order()
        if decided < len(order):
            return f"{decided + 1}/{len(order)} {order[decided]}"
        if self.spec.mode == "paper":
            return "one at a time (around the tuned baseline)"
        return "done"

    def _stage_matches(
        self, rec: dict[str, Any], factor: str, fixed: dict[str, Any], runs: list[PlannedRun]
    ) -> bool:
        return (
            rec.get("factor") == factor
            and _key(rec.get("fixed")) == _key(fixed)
            and _key(rec.get("values")) == _key(self.spec.factors[factor])
            and sorted(rec.get("runs", [])) == sorted(r.name for r in runs)
        )

    # ---- running -------------------------------------------------------------------------
    def run(self, execute: Execute) -> SweepResult:
        """Run the sweep's mode with EXECUTE; the result lists every run it planned."""
        if self.spec.mode == "paper":
            return self.run_paper(execute)
        if self.spec.mode == "sequential":
            return self.run_sequential(execute)
        runs = self.plan()
        execute(runs, None)
        return SweepResult(self.files.out_dir, runs, self.files.status)

    def run_sequential(self, execute: Execute) -> SweepResult:
        stages = self.files.load_stages(self.spec.select)
        status = self.files.status
        fixed: dict[str, Any] = {}
        all_runs: dict[str, PlannedRun] = {}
        order = self.spec.factor_order()
        for i, factor in enumerate(order):
            self.stage_text = f"{i + 1}/{len(order)} {factor}"
            runs = self.planner.stage(factor, fixed)
            all_runs.update((r.name, r) for r in runs)
            rec = stages[i] if i < len(stages) else None
            if rec is not None and not self._stage_matches(rec, factor, fixed, runs):
                rec = None
            if rec is None:
                stages = stages[:i]
            execute(runs, factor)
            if rec is None:
                failed = [r.name for r in runs if status[r.name]["status"] == "failed"]
                if failed:
                    self._save_stages(stages, fixed, done=False)
                    msg = (
                        f"stage {factor}: {len(failed)} run(s) failed ({', '.join(failed)}); "
                        f"see {self.files.failed_file}; rerun the sweep to retry them"
                    )
                    self.log(msg)
                    return SweepResult(
                        self.files.out_dir,
                        list(all_runs.values()),
                        status,
                        dict(fixed),
                        complete=False,
                        message=msg,
                    )
                rec = self.choose(factor, fixed, runs)
                stages.append(rec)
                self._save_stages(stages, {**fixed, factor: rec["chosen"]}, done=False)
            fixed[factor] = rec["chosen"]
            self.log(
                f"stage {factor}: chose {format_value(rec['chosen'])} (mean {self.spec.select} over seeds)"
                + noise_text(rec, self.spec.select)
            )
        self._save_stages(stages, fixed, done=True)
        return SweepResult(self.files.out_dir, list(all_runs.values()), status, dict(fixed))

    def _save_stages(self, stages: list[dict[str, Any]], chosen: dict[str, Any], done: bool) -> None:
        doc = {
            "select": self.spec.select,
            "order": self.spec.factor_order(),
            "stages": stages,
            "chosen": chosen,
            "done": done,
        }
        self.files.save_stages(doc)

    def choose(self, factor: str, fixed: dict[str, Any], runs: list[PlannedRun]) -> dict[str, Any]:
        """The paper's rule: the value with the best mean of `select` over its seeds.

        Values whose seeds all finished come first; a value with a diverged seed is
        considered only when no value finished on every seed.
        """
        metric = self.spec.select
        scores = []
        for value in self.spec.factors[factor]:
            vals, names, complete = [], [], True
            for r in runs:
                if _key(r.assign.get(factor)) != _key(value):
                    continue
                names.append(r.name)
                summary = json.loads((r.run_dir / "summary.json").read_text())
                x = summary.get("final", {}).get(metric) if summary.get("status") == "finished" else None
                if isinstance(x, int | float) and math.isfinite(x):
                    vals.append(float(x))
                else:
                    complete = False
            mean = sum(vals) / len(vals) if vals else None
            std = (
                math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
                if mean is not None and len(vals) > 1
                else 0.0
                if vals
                else None
            )
            scores.append(
                {
                    "value": value,
                    "mean": mean,
                    "std": std,
                    "n": len(vals),
                    "complete": complete,
                    "runs": names,
                }
            )
        eligible = [s for s in scores if s["complete"] and s["mean"] is not None] or [
            s for s in scores if s["mean"] is not None
        ]
        if not eligible:
            raise WsnasError(f"stage {factor}: no run finished with a finite {metric}; cannot choose a value")
        best = max(eligible, key=lambda s: s["mean"])  # first of equals: spec order
        rec = {
            "factor": factor,
            "fixed": dict(fixed),
            "values": self.spec.factors[factor],
            "seeds": self.spec.seeds,
            "scores": scores,
            "chosen": best["value"],
            "runs": [r.name for r in runs],
        }
        return {**rec, "noise": stage_noise(rec)}  # said, not acted on: the pick stays the paper's rule

    # ---- paper: sequential stages, then one at a time around the tuned result ---------------
    def run_paper(self, execute: Execute) -> SweepResult:
        seq = self.run_sequential(execute)
        if not seq.complete:
            return seq
        tuned = dict(seq.chosen or {})
        self.stage_text = "one at a time (around the tuned baseline)"
        runs = self.planner.around_tuned(tuned)
        execute(runs, "one-at-a-time")
        self.files.save_paper(self.paper_doc(tuned))
        all_runs = {r.name: r for r in seq.runs}
        all_runs.update((r.name, r) for r in runs)
        return SweepResult(self.files.out_dir, list(all_runs.values()), self.files.status, tuned)

    def paper_doc(self, tuned: dict[str, Any]) -> dict[str, Any]:
        """paper.json: which runs are the starting point, the tuned baseline and each row."""
        rows = []
        for key in self.spec.one_at_a_time_factors():
            for value in self.spec.factors[key]:
                assign = {**tuned, **assignment(key, value)}
                rows.append(
                    {
                        "factor": key,
                        "value": value,
                        "sets": assignment(key, value),
                        "runs": [r.name for r in self.planner.runs([assign])],
                    }
                )
        return {
            "select": self.spec.select,
            "seeds": self.spec.seeds,
            "sequential": self.spec.factor_order(),
            "one_at_a_time": self.spec.one_at_a_time_factors(),
            "tuned": tuned,
            "starting_point_runs": [r.name for r in self.planner.runs([{}])],
            "tuned_runs": [r.name for r in self.planner.runs([tuned])],
            "rows": rows,
        }
