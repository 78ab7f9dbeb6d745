"""Where a sweep stands: runs done/running/failed/total, the current stage, an ETA.

One plain line per event (a finished run, a stage start), so the same text reads
well on a terminal and in a log file; no carriage returns. The ETA is the mean
duration of the finished runs times the runs left, divided by the workers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path


def run_seconds(run_dir: Path) -> float | None:
    """Training time a finished or diverged run recorded (summary.json timing.seconds)."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    secs = (summary.get("timing") or {}).get("seconds")
    return float(secs) if isinstance(secs, int | float) and math.isfinite(secs) else None


def duration_text(seconds: float) -> str:
    """`45s`, `12m05s`, `3h07m`, `2d04h`."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


@dataclass
class Progress:
    """Counts over the whole sweep (not one stage), updated by the runner."""

    total: int
    workers: int = 1
    estimated: bool = False
    """True while later sequential stages are not planned yet (the total is computed ahead)."""
    done: int = 0
    running: int = 0
    failed: int = 0
    stage: str | None = None
    durations: list[float] = field(default_factory=list)

    def eta_seconds(self) -> float | None:
        left = max(0, self.total - self.done - self.failed)
        if left == 0:
            return 0.0
        if not self.durations:
            return None
        mean = sum(self.durations) / len(self.durations)
        return mean * math.ceil(left / max(1, self.workers))

    def counts(self) -> str:
        total = f"{self.total} total" + (" (estimated)" if self.estimated else "")
        return f"{self.done} done, {self.running} running, {self.failed} failed, {total}"

    def eta(self) -> str:
        eta = self.eta_seconds()
        return "ETA ?" if eta is None else f"ETA {duration_text(eta)}"

    def line(self) -> str:
        parts = [self.counts()]
        if self.stage:
            parts.append(f"stage {self.stage}")
        parts.append(self.eta())
        return " | ".join(parts)
