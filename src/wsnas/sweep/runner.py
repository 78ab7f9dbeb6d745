"""Running a sweep: skip what is done, resume what was cut, record what failed.

The sweep dir:

    sweep.yaml        the spec as run, with the command-line overrides (a record)
    base.yaml         the resolved base run config
    runs/NAME/        one run dir per run (see wsnas.engine.rundir)
    status.json       every planned run: label, seed, factor values, status, error
    failed.jsonl      one line per failed or diverged attempt, with the error text
    sequential.json   sequential and paper modes: each stage's scores (mean, std, n) and choice
    paper.json        paper mode: the starting point, the tuned baseline and each
                      one-at-a-time row's runs (what the report compares against what)

What is done is read from the run dirs themselves (summary.json), so a killed sweep
reruns into the same state. A run that raised is retried on the next rerun; a
diverged run is an outcome and is not. In sequential mode a stage is decided only
once all its runs are finished or diverged, and a decided stage is final: a rerun
reuses its choice as long as the stage's runs are the same (delete sequential.json
to decide again). Paper mode runs the sequential stages, then the one-at-a-time
rows around the tuned result.

Progress (`wsnas.sweep.status`): one line per finished run with the sweep's
done/running/failed/total, the current stage and an ETA; `status_lines()` gives the
same from the sweep dir without running anything.
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

from wsnas.config import dump_config
from wsnas.core.atomic import write_text_atomic
from wsnas.core.dirlock import holder
from wsnas.core.errors import WsnasError
from wsnas.sweep.executors import Executor, make_executor
from wsnas.sweep.noise import noise_text, stage_noise
from wsnas.sweep.placement import GpuRequest, local_workers
from wsnas.sweep.plan import PlannedRun, Planner, format_value, get_key, run_state
from wsnas.sweep.reuse import check_reuse
from wsnas.sweep.spec import SweepSpec, assignment, load_spec
from wsnas.sweep.status import Progress, duration_text, run_seconds

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
    force: bool = False
    """Delete and retrain runs whose stored identity differs from the planned one (`--force`)."""
    gpus: GpuRequest | None = None
    """GPU placement (`--gpus`, `--runs-per-gpu`, `--gpus-per-run`), each over the spec's."""

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        self.planner = Planner(self.spec, self.spec_dir, self.out_dir, self.overrides)
        ex = self.spec.executor
        cli_workers, cli_gpus = self.workers, self.gpus or GpuRequest()
        self.executor = self.executor or ex.name
        self.workers = self.workers or ex.workers
        self.threads = self.threads or ex.threads
        self.address = self.address or ex.address
        self.gpus = GpuRequest(
            cli_gpus.gpus or ex.gpus,
            cli_gpus.runs_per_gpu or ex.runs_per_gpu,
            cli_gpus.gpus_per_run or ex.gpus_per_run,
        )
        if self.executor == "local" and self.gpus.any:
            # GPU slots size the pool (progress, ETA); GPU options on the command line override
            # the spec's workers, an explicit --workers must agree with them
            asked = cli_workers if cli_workers is not None or cli_gpus.any else ex.workers
            self.workers = local_workers(asked, self.gpus)
        self._executor: Executor | None = None
        self._status: dict[str, dict[str, Any]] = {}
        self._planned: dict[str, PlannedRun] = {}
        self.progress: Progress | None = None
        self._stage_text: str | None = None
        self._progress_set = any(
            o.split("=", 1)[0].strip() == "runtime.progress"
            for o in [*self.spec.override_items(), *self.overrides]
        )

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

    @property
    def paper_file(self) -> Path:
        return self.out_dir / "paper.json"

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
                "finished",
                "diverged",
            ):
                line = {
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    **{k: result.get(k) for k in ("name", "status", "error", "traceback")},
                }
                with self.failed_file.open("a") as f:
                    f.write(json.dumps(line) + "\n")
        elif state == "diverged":
            entry["error"] = json.loads((run.run_dir / "summary.json").read_text()).get("message")
        if "seconds" not in entry and state in ("finished", "diverged"):
            secs = run_seconds(run.run_dir)
            if secs is not None:
                entry["seconds"] = round(secs, 3)
        self._status[run.name] = entry
        self._planned[run.name] = run

    # ---- execution -----------------------------------------------------------------------
    def _get_executor(self) -> Executor:
        if self._executor is None:
            self._executor = make_executor(
                self.executor or "local", self.workers, self.threads, self.address, self.gpus
            )
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
        self._check_identity(runs)
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
        self._update_progress(running=len(todo))
        self.log(f"progress: {self.progress_line()}")
        for i, result in enumerate(ex.run(tasks), start=1):
            run = by_name[result["name"]]
            self._record(run, stage, result)
            self._save_status()
            final = result.get("final") or {}
            metric = self.spec.select
            tail = (
                f"{metric} {final[metric]:.3f}"
                if isinstance(final.get(metric), float)
                else result.get("error", "")
            )
            secs = f", {result['seconds']:.1f} s" if "seconds" in result else ""
            self._update_progress(running=len(todo) - i)
            self.log(
                f"[{i}/{len(todo)}] {result['status']}: {run.name} ({tail}{secs}) | {self.progress_line()}"
            )

    def _check_identity(self, runs: list[PlannedRun]) -> None:
        """Started runs must have the planned identity (GT, numerics, world size); see sweep.reuse."""
        check_reuse(runs, self.force, self.log)

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
            self._record(
                r,
                stage,
                {"name": r.name, "status": "failed", "error": error, "started_as": run_state(r.run_dir)},
            )
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
        runs, fixed, decided = self._plan_stages()
        if self.spec.mode == "paper" and decided == len(self.spec.factor_order()):
            runs.update((r.name, r) for r in self.planner.around_tuned(fixed))
        return list(runs.values())

    def _plan_stages(self) -> tuple[dict[str, PlannedRun], dict[str, Any], int]:
        """The decided stages' and the next stage's runs, the choices so far, the number decided."""
        runs: dict[str, PlannedRun] = {}
        fixed: dict[str, Any] = {}
        stages = self._load_stages()
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

    def run(self) -> SweepResult:
        if self.gpus is not None and self.gpus.any:  # no GPUs to place on: refused before anything is written
            self._get_executor()
        self._write_records()
        try:
            self._start_progress()
            if self.spec.mode == "paper":
                return self._run_paper()
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

    def _stage_matches(
        self, rec: dict[str, Any], factor: str, fixed: dict[str, Any], runs: list[PlannedRun]
    ) -> bool:
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
        order = self.spec.factor_order()
        for i, factor in enumerate(order):
            self._stage_text = f"{i + 1}/{len(order)} {factor}"
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
                    msg = (
                        f"stage {factor}: {len(failed)} run(s) failed ({', '.join(failed)}); "
                        f"see {self.failed_file}; rerun the sweep to retry them"
                    )
                    self.log(msg)
                    return SweepResult(
                        self.out_dir,
                        list(all_runs.values()),
                        self._status,
                        dict(fixed),
                        complete=False,
                        message=msg,
                    )
                rec = self._choose(factor, fixed, runs)
                stages.append(rec)
                self._save_stages(stages, {**fixed, factor: rec["chosen"]}, done=False)
            fixed[factor] = rec["chosen"]
            self.log(
                f"stage {factor}: chose {format_value(rec['chosen'])} (mean {self.spec.select} over seeds)"
                + noise_text(rec, self.spec.select)
            )
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
        return {**rec, "noise": stage_noise(rec)}

    # ---- paper: sequential stages, then one at a time around the tuned result ---------------
    def _run_paper(self) -> SweepResult:
        seq = self._run_sequential()
        if not seq.complete:
            return seq
        tuned = dict(seq.chosen or {})
        self._stage_text = "one at a time (around the tuned baseline)"
        runs = self.planner.around_tuned(tuned)
        self.execute(runs, stage="one-at-a-time")
        self._save_paper(tuned)
        all_runs = {r.name: r for r in seq.runs}
        all_runs.update((r.name, r) for r in runs)
        return SweepResult(self.out_dir, list(all_runs.values()), self._status, tuned)

    def _save_paper(self, tuned: dict[str, Any]) -> None:
        """paper.json: which runs are the starting point, the tuned baseline and each row."""
        seeds = self.spec.seeds
        start = [r.name for r in self.planner.runs([{}])]
        base = [r.name for r in self.planner.runs([tuned])]
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
        doc = {
            "select": self.spec.select,
            "seeds": seeds,
            "sequential": self.spec.factor_order(),
            "one_at_a_time": self.spec.one_at_a_time_factors(),
            "tuned": tuned,
            "starting_point_runs": start,
            "tuned_runs": base,
            "rows": rows,
        }
        write_text_atomic(self.paper_file, json.dumps(doc, indent=2) + "\n")

    # ---- progress ------------------------------------------------------------------------
    def estimate_total(self) -> tuple[int, bool]:
        """Runs the whole sweep will have, and whether later stages had to be computed ahead.

        A stage not planned yet adds every value of its factor x seeds except the value
        the factor has now (that run is the previous stage's winner); paper mode then adds
        each one-at-a-time value that changes something, x seeds (the tuned baseline is
        the last stage's winner).
        """
        known = self.plan()
        if self.spec.mode not in ("sequential", "paper"):
            return len(known), False
        _, _, decided = self._plan_stages()
        order = self.spec.factor_order()
        n_seeds = len(self.spec.seeds)
        extra = 0
        for factor in order[decided + 1 :]:
            values = [json.dumps(v, sort_keys=True) for v in self.spec.factors[factor]]
            now = json.dumps(get_key(self.planner.base_dict, factor), sort_keys=True)
            extra += (len(values) - (now in values)) * n_seeds
        ahead = decided < len(order)
        if self.spec.mode == "paper" and ahead:
            for key in self.spec.one_at_a_time_factors():
                for v in self.spec.factors[key]:
                    changes = any(
                        json.dumps(get_key(self.planner.base_dict, k), sort_keys=True)
                        != json.dumps(x, sort_keys=True)
                        for k, x in assignment(key, v).items()
                    )
                    extra += n_seeds if changes else 0
        return len(known) + extra, ahead and extra > 0

    def _start_progress(self) -> None:
        total, estimated = self.estimate_total()
        self.progress = Progress(total=total, workers=self.workers or 1, estimated=estimated)

    def _update_progress(self, running: int) -> None:
        if self.progress is None:
            self._start_progress()
        assert self.progress is not None
        entries = list(self._status.values())
        p = self.progress
        p.done = sum(1 for e in entries if e["status"] in ("finished", "diverged"))
        p.failed = sum(1 for e in entries if e["status"] == "failed")
        p.running = max(0, min(running, self.workers or 1))
        p.stage = self._stage_text
        p.durations = [
            e["seconds"] for e in entries if e["status"] in ("finished", "diverged") and e.get("seconds")
        ]
        if p.estimated and self.spec.mode in ("sequential", "paper"):
            p.total, p.estimated = self.estimate_total()

    def progress_line(self) -> str:
        return self.progress.line() if self.progress is not None else ""

    def status_lines(self) -> list[str]:
        """Where the sweep in `out_dir` stands, read from its files; nothing is run or written."""
        known = self.plan()
        recorded = {}
        if self.status_file.exists():
            try:
                recorded = json.loads(self.status_file.read_text()).get("runs", {})
            except ValueError:
                recorded = {}
        states = {r.name: run_state(r.run_dir) for r in known}
        failed = [
            n
            for n, st in states.items()
            if st not in ("finished", "diverged") and recorded.get(n, {}).get("status") == "failed"
        ]
        total, estimated = self.estimate_total()
        done = [n for n, st in states.items() if st in ("finished", "diverged")]
        started = [n for n, st in states.items() if st == "resume"]
        secs = [
            x
            for r in known
            if states[r.name] in ("finished", "diverged")
            for x in [run_seconds(r.run_dir)]
            if x
        ]
        p = Progress(
            total=total,
            workers=self.workers or 1,
            estimated=estimated,
            done=len(done),
            running=len(started),
            failed=len(failed),
            stage=self._current_stage(),
            durations=secs,
        )
        lines = [
            f"sweep {self.out_dir} (mode {self.spec.mode}, {len(self.spec.seeds)} seed(s))",
            f"runs: {len(done)} done ({sum(states[n] == 'finished' for n in done)} finished, "
            f"{sum(states[n] == 'diverged' for n in done)} diverged), {len(started)} running or cut "
            f"(a checkpoint, no summary), {len(failed)} failed, "
            f"{total - len(done) - len(started) - len(failed)} not started, {total} total"
            + (" (estimated: later stages are not planned yet)" if estimated else ""),
        ]
        if p.stage:
            lines.append(f"stage: {p.stage}")
        if self.spec.mode in ("sequential", "paper"):
            _, fixed, _ = self._plan_stages()
            if fixed:
                lines.append("chosen: " + ", ".join(f"{k}={format_value(v)}" for k, v in fixed.items()))
        mean = f" (mean {duration_text(sum(secs) / len(secs))} per finished run)" if secs else ""
        lines.append(f"{p.eta()} at {p.workers} worker(s){mean}")
        return lines

    def _current_stage(self) -> str | None:
        """The first undecided stage of a sequential study, or its one-at-a-time part."""
        if self.spec.mode not in ("sequential", "paper"):
            return None
        _, _, decided = self._plan_stages()
        order = self.spec.factor_order()
        if decided < len(order):
            return f"{decided + 1}/{len(order)} {order[decided]}"
        if self.spec.mode == "paper":
            return "one at a time (around the tuned baseline)"
        return "done"


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
    sweep = Sweep(
        spec, spec_dir, Path(out_dir), list(overrides or []), executor, workers, threads, address, log
    )
    return sweep.run()
