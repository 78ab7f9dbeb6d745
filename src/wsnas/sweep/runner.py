"""Running a sweep: skip what is done, resume what was cut, record what failed.

The sweep dir:

    sweep.yaml        the spec as run, with the command-line overrides (a record)
    base.yaml         the resolved base run config
    runs/NAME/        one run dir per run (see wsnas.rundir)
    status.json       every planned run: label, seed, factor values, status, error
    failed.jsonl      one line per failed or diverged attempt, with the error text
    sequential.json   sequential mode: each stage's scores and chosen value

What is done is read from the run dirs themselves (summary.json), so a killed sweep
reruns into the same state. A run that raised is retried on the next rerun; a
diverged run is an outcome and is not. In sequential mode a stage is decided only
once all its runs are finished or diverged, and a decided stage is final: a rerun
reuses its choice as long as the stage's runs are the same (delete sequential.json
to decide again).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wsnas.atomic import write_text_atomic
from wsnas.config import dump_config
from wsnas.dirlock import holder
from wsnas.errors import WsnasError
from wsnas.sweep.executors import Executor, make_executor
from wsnas.sweep.plan import PlannedRun, Planner, format_value, run_state
from wsnas.sweep.spec import SweepSpec, load_spec

Log = Callable[[str], None]


@dataclass
class SweepResult:
    out_dir: Path
    runs: list[PlannedRun]
    status: dict[str, dict[str, Any]]
    chosen: dict[str, Any] | None = None
    """sequential: the value chosen for each decided factor, in order."""
    complete: bool = True
    """False when a sequential sweep stopped at a stage with failed runs."""
    message: str = ""

    def count(self, status: str) -> int:
        return sum(1 for r in self.runs if self.status.get(r.name, {}).get("status") == status)

    @property
    def ok(self) -> bool:
        return self.complete and self.count("failed") == 0


def _key(v: Any) -> str:
    return json.dumps(v, sort_keys=True)


@dataclass
class Sweep:
    """One sweep dir driven by one spec; `run()` is idempotent."""

    spec: SweepSpec
    spec_dir: Path | None
    out_dir: Path
    overrides: list[str] = field(default_factory=list)
    executor: str | None = None
    workers: int | None = None
    threads: int | None = None
    address: str | None = None
    log: Log = print

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.planner = Planner(self.spec, self.spec_dir, self.out_dir, self.overrides)
        ex = self.spec.executor
        self.executor = self.executor or ex.name
        self.workers = self.workers or ex.workers
        self.threads = self.threads or ex.threads
        self.address = self.address or ex.address
        self._executor: Executor | None = None
        self._status: dict[str, dict[str, Any]] = {}
        self._planned: dict[str, PlannedRun] = {}
        self._progress_set = any(o.split("=", 1)[0].strip() == "runtime.progress"
                                 for o in [*self.spec.override_items(), *self.overrides])

    # ---- files ---------------------------------------------------------------------------
    @property
    def status_file(self) -> Path:
        return self.out_dir / "status.json"

    @property
    def failed_file(self) -> Path:
        return self.out_dir / "failed.jsonl"

    @property
    def sequential_file(self) -> Path:
        return self.out_dir / "sequential.json"

    def _write_records(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        record = {"spec": self.spec.model_dump(mode="json"), "overrides": self.overrides}
        write_text_atomic(self.out_dir / "sweep.yaml", yaml.safe_dump(record, sort_keys=False))
        dump_config(self.planner.base, self.out_dir / "base.yaml")

    def _save_status(self) -> None:
        doc = {"mode": self.spec.mode, "runs": self._status}
        write_text_atomic(self.status_file, json.dumps(doc, indent=2) + "\n")

    def _record(self, run: PlannedRun, stage: str | None, result: dict[str, Any] | None) -> None:
        state = run_state(run.run_dir)
        entry = {
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
                "finished", "diverged"
            ):
                line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **{
                    k: result.get(k) for k in ("name", "status", "error", "traceback")}}
                with self.failed_file.open("a") as f:
                    f.write(json.dumps(line) + "\n")
        elif state == "diverged":
            entry["error"] = json.loads((run.run_dir / "summary.json").read_text()).get("message")
        self._status[run.name] = entry
        self._planned[run.name] = run

    # ---- execution -----------------------------------------------------------------------
    def _get_executor(self) -> Executor:
        if self._executor is None:
            self._executor = make_executor(self.executor or "local", self.workers, self.threads,
                                           self.address)
        return self._executor

    def _task(self, run: PlannedRun, threads: int) -> dict[str, Any]:
        cfg = run.cfg.to_dict()
        rt = cfg["runtime"]
        rt["threads"] = rt["threads"] or threads
        if not self._progress_set:
            rt["progress"] = False
        return {"name": run.name, "run_dir": str(run.run_dir), "config": cfg, "threads": rt["threads"]}

    def execute(self, runs: list[PlannedRun], stage: str | None = None) -> None:
        """Run those of `runs` that are not finished or diverged; record every outcome."""
        todo = []
        for r in runs:
            self._record(r, stage, None)
            if self._status[r.name]["status"] == "pending":
                todo.append(r)
        todo = self._skip_locked(todo, stage)
        self._save_status()
        where = f"stage {stage}: " if stage else ""
        done = len(runs) - len(todo)
        resume = sum(1 for r in todo if run_state(r.run_dir) == "resume")
        self.log(f"{where}{len(runs)} runs: {done} done, {len(todo)} to run ({resume} to resume)")
        if not todo:
            return
        ex = self._get_executor()
        by_name = {r.name: r for r in todo}
        tasks = [self._task(r, ex.threads) for r in todo]
        for i, result in enumerate(ex.run(tasks), start=1):
            run = by_name[result["name"]]
            self._record(run, stage, result)
            self._save_status()
            final = result.get("final") or {}
            metric = self.spec.select
            tail = (f"{metric} {final[metric]:.3f}" if isinstance(final.get(metric), float)
                    else result.get("error", ""))
            secs = f", {result['seconds']:.1f} s" if "seconds" in result else ""
            self.log(f"[{i}/{len(todo)}] {result['status']}: {run.name} ({tail}{secs})")

    def _skip_locked(self, todo: list[PlannedRun], stage: str | None) -> list[PlannedRun]:
        """The runs of TODO that no other process is writing; the others are skipped and
        recorded as failed (reported, and retried by a rerun once that process is done)."""
        free = []
        for r in todo:
            pid = holder(r.run_dir)
            if pid is None:
                free.append(r)
                continue
            error = f"skipped: run dir {r.run_dir} is being written by another process (pid {pid})"
            self.log(f"{r.name}: {error}")
            self._record(r, stage, {"name": r.name, "status": "failed", "error": error,
                                    "started_as": run_state(r.run_dir)})
        return free

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()
            self._executor = None

    # ---- modes ---------------------------------------------------------------------------
    def plan(self) -> list[PlannedRun]:
        """The runs known now (sequential: the decided stages and the next one), nothing run."""
        if self.spec.mode == "grid":
            return self.planner.grid()
        if self.spec.mode == "one-at-a-time":
            return self.planner.one_at_a_time()
        runs: dict[str, PlannedRun] = {}
        fixed: dict[str, Any] = {}
        stages = self._load_stages()
        for i, factor in enumerate(self.spec.factor_order()):
            stage_runs = self.planner.stage(factor, fixed)
            runs.update((r.name, r) for r in stage_runs)
            rec = stages[i] if i < len(stages) else None
            if rec is None or not self._stage_matches(rec, factor, fixed, stage_runs):
                break
            fixed[factor] = rec["chosen"]
        return list(runs.values())

    def run(self) -> SweepResult:
        self._write_records()
        try:
            if self.spec.mode == "sequential":
                return self._run_sequential()
            runs = self.plan()
            self.execute(runs)
            return SweepResult(self.out_dir, runs, self._status)
        finally:
            self.close()

    # ---- sequential ----------------------------------------------------------------------
    def _load_stages(self) -> list[dict[str, Any]]:
        if not self.sequential_file.exists():
            return []
        try:
            doc = json.loads(self.sequential_file.read_text())
        except ValueError as e:
            msg = f"{self.sequential_file} is not valid JSON ({e}); delete it to decide again"
            raise WsnasError(msg) from None
        if doc.get("select") != self.spec.select:
            return []
        return list(doc.get("stages", []))

    def _stage_matches(self, rec: dict[str, Any], factor: str, fixed: dict[str, Any],
                       runs: list[PlannedRun]) -> bool:
        return (
            rec.get("factor") == factor
            and _key(rec.get("fixed")) == _key(fixed)
            and _key(rec.get("values")) == _key(self.spec.factors[factor])
            and sorted(rec.get("runs", [])) == sorted(r.name for r in runs)
        )

    def _save_stages(self, stages: list[dict[str, Any]], chosen: dict[str, Any], done: bool) -> None:
        doc = {
            "select": self.spec.select,
            "order": self.spec.factor_order(),
            "stages": stages,
            "chosen": chosen,
            "done": done,
        }
        write_text_atomic(self.sequential_file, json.dumps(doc, indent=2) + "\n")

    def _run_sequential(self) -> SweepResult:
        stages = self._load_stages()
        fixed: dict[str, Any] = {}
        all_runs: dict[str, PlannedRun] = {}
        for i, factor in enumerate(self.spec.factor_order()):
            runs = self.planner.stage(factor, fixed)
            all_runs.update((r.name, r) for r in runs)
            rec = stages[i] if i < len(stages) else None
            if rec is not None and not self._stage_matches(rec, factor, fixed, runs):
                rec = None
            if rec is None:
                stages = stages[:i]
            self.execute(runs, stage=factor)
            if rec is None:
                failed = [r.name for r in runs if self._status[r.name]["status"] == "failed"]
                if failed:
                    self._save_stages(stages, fixed, done=False)
                    msg = (f"stage {factor}: {len(failed)} run(s) failed ({', '.join(failed)}); "
                           f"see {self.failed_file}; rerun the sweep to retry them")
                    self.log(msg)
                    return SweepResult(self.out_dir, list(all_runs.values()), self._status, dict(fixed),
                                       complete=False, message=msg)
                rec = self._choose(factor, fixed, runs)
                stages.append(rec)
                self._save_stages(stages, {**fixed, factor: rec["chosen"]}, done=False)
            fixed[factor] = rec["chosen"]
            self.log(f"stage {factor}: chose {format_value(rec['chosen'])} "
                     f"(mean {self.spec.select} over seeds)")
        self._save_stages(stages, fixed, done=True)
        return SweepResult(self.out_dir, list(all_runs.values()), self._status, dict(fixed))

    def _choose(self, factor: str, fixed: dict[str, Any], runs: list[PlannedRun]) -> dict[str, Any]:
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
            std = (math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
                   if mean is not None and len(vals) > 1 else 0.0 if vals else None)
            scores.append({"value": value, "mean": mean, "std": std, "n": len(vals),
                           "complete": complete, "runs": names})
        eligible = [s for s in scores if s["complete"] and s["mean"] is not None] or [
            s for s in scores if s["mean"] is not None]
        if not eligible:
            raise WsnasError(f"stage {factor}: no run finished with a finite {metric}; cannot choose a value")
        best = max(eligible, key=lambda s: s["mean"])  # first of equals: spec order
        return {
            "factor": factor,
            "fixed": dict(fixed),
            "values": self.spec.factors[factor],
            "seeds": self.spec.seeds,
            "scores": scores,
            "chosen": best["value"],
            "runs": [r.name for r in runs],
        }


def run_sweep(
    spec_path: str | Path,
    out_dir: str | Path,
    overrides: list[str] | None = None,
    executor: str | None = None,
    workers: int | None = None,
    threads: int | None = None,
    address: str | None = None,
    log: Log = print,
) -> SweepResult:
    """Load SPEC, expand it and run what is not done yet into OUT_DIR."""
    spec, spec_dir = load_spec(spec_path)
    sweep = Sweep(spec, spec_dir, Path(out_dir), list(overrides or []), executor, workers, threads,
                  address, log)
    return sweep.run()
