"""How far a sweep is: the total it will reach, the live progress line while it runs,
and the status lines `wsnas sweep --status` reads from its files without running anything.

The counts and the ETA text are `wsnas.sweep.status.Progress`; this module fills them
from the sweep's status entries (while running) or from its run dirs (status lines).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from wsnas.engine.rundir import run_state
from wsnas.sweep.files import SweepFiles
from wsnas.sweep.plan import Planner, format_value, get_key
from wsnas.sweep.spec import SweepSpec, assignment
from wsnas.sweep.stages import Stages
from wsnas.sweep.status import Progress, duration_text, run_seconds


@dataclass
class Tracker:
    """The progress of one sweep over all its stages."""

    spec: SweepSpec
    planner: Planner
    files: SweepFiles
    stages: Stages
    workers: int
    progress: Progress | None = field(default=None, init=False)

    def estimate_total(self) -> tuple[int, bool]:
        """Runs the whole sweep will have, and whether later stages had to be computed ahead.

        A stage not planned yet adds every value of its factor x seeds except the value
        the factor has now (that run is the previous stage's winner); paper mode then adds
        each one-at-a-time value that changes something, x seeds (the tuned baseline is
        the last stage's winner).
        """
        known = self.stages.plan()
        if self.spec.mode not in ("sequential", "paper"):
            return len(known), False
        _, _, decided = self.stages.plan_stages()
        order = self.spec.factor_order()
        n_seeds = len(self.spec.seeds)
        base = self.planner.base_dict
        extra = 0
        for factor in order[decided + 1 :]:
            values = [json.dumps(v, sort_keys=True) for v in self.spec.factors[factor]]
            now = json.dumps(get_key(base, factor), sort_keys=True)
            extra += (len(values) - (now in values)) * n_seeds
        ahead = decided < len(order)
        if self.spec.mode == "paper" and ahead:
            for key in self.spec.one_at_a_time_factors():
                for v in self.spec.factors[key]:
                    changes = any(
                        json.dumps(get_key(base, k), sort_keys=True) != json.dumps(x, sort_keys=True)
                        for k, x in assignment(key, v).items()
                    )
                    extra += n_seeds if changes else 0
        return len(known) + extra, ahead and extra > 0

    def start(self) -> None:
        total, estimated = self.estimate_total()
        self.progress = Progress(total=total, workers=self.workers, estimated=estimated)

    def update(self, running: int) -> None:
        """Counts from the status entries recorded so far, RUNNING runs in flight."""
        if self.progress is None:
            self.start()
        assert self.progress is not None
        entries = list(self.files.status.values())
        p = self.progress
        p.done = sum(1 for e in entries if e["status"] in ("finished", "diverged"))
        p.failed = sum(1 for e in entries if e["status"] == "failed")
        p.running = max(0, min(running, self.workers))
        p.stage = self.stages.stage_text
        p.durations = [
            e["seconds"] for e in entries if e["status"] in ("finished", "diverged") and e.get("seconds")
        ]
        if p.estimated and self.spec.mode in ("sequential", "paper"):
            p.total, p.estimated = self.estimate_total()

    def line(self) -> str:
        return self.progress.line() if self.progress is not None else ""

    def status_lines(self) -> list[str]:
        """Where the sweep stands, read from its files; nothing is run or written."""
        known = self.stages.plan()
        recorded = self.files.read_status()
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
            workers=self.workers,
            estimated=estimated,
            done=len(done),
            running=len(started),
            failed=len(failed),
            stage=self.stages.current_stage(),
            durations=secs,
        )
        lines = [
            f"sweep {self.files.out_dir} (mode {self.spec.mode}, {len(self.spec.seeds)} seed(s))",
            f"runs: {len(done)} done ({sum(states[n] == 'finished' for n in done)} finished, "
            f"{sum(states[n] == 'diverged' for n in done)} diverged), {len(started)} running or cut "
            f"(a checkpoint, no summary), {len(failed)} failed, "
            f"{total - len(done) - len(started) - len(failed)} not started, {total} total"
            + (" (estimated: later stages are not planned yet)" if estimated else ""),
        ]
        if p.stage:
            lines.append(f"stage: {p.stage}")
        if self.spec.mode in ("sequential", "paper"):
            _, fixed, _ = self.stages.plan_stages()
            if fixed:
                lines.append("chosen: " + ", ".join(f"{k}={format_value(v)}" for k, v in fixed.items()))
        mean = f" (mean {duration_text(sum(secs) / len(secs))} per finished run)" if secs else ""
        lines.append(f"{p.eta()} at {p.workers} worker(s){mean}")
        return lines
