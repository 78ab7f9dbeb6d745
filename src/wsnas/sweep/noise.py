"""Whether a sequential stage's winner is within noise of the runner-up (`sequential.json`, the sweep's
log line, the report). The picking rule stays the paper's (best mean over seeds, `Sweep._choose`);
this only says when that pick is not clear.

The test: the winner's interval mean ± std (sample std over seeds) overlaps the runner-up's. With one
seed per value there is no spread to compare, and the note says so instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TEST = "overlapping mean ± std over seeds (sample std)"
"""The test, as the files state it."""


def stage_noise(rec: dict[str, Any]) -> dict[str, Any] | None:
    """{runner_up, gap, within_noise, test} for a stage record (its `scores` and `chosen`); None with
    fewer than two values scored. `within_noise` is None where a value has only one seed."""
    scored = [s for s in rec.get("scores", []) if s.get("mean") is not None]
    best = next((s for s in scored if s["value"] == rec.get("chosen")), None)
    rest = sorted((s for s in scored if s is not best), key=lambda s: -s["mean"])
    if best is None or not rest:
        return None
    up = rest[0]
    overlap = best["mean"] - best["std"] <= up["mean"] + up["std"]
    within = None if min(best["n"], up["n"]) < 2 else overlap
    return {
        "runner_up": up["value"],
        "gap": best["mean"] - up["mean"],
        "within_noise": within,
        "test": TEST,
    }


def noise_text(rec: dict[str, Any], metric: str) -> str:
    """'' for a clear pick; else a clause for the stage's line: why the pick is not clear."""
    noise = rec.get("noise") or stage_noise(rec)
    if noise is None or noise["within_noise"] is False:
        return ""
    scores = {json.dumps(s["value"]): s for s in rec["scores"]}
    won, up = scores[json.dumps(rec["chosen"])], scores[json.dumps(noise["runner_up"])]
    both = f"{_ms(won)} vs {_v(up['value'])} {_ms(up)}"
    if noise["within_noise"] is None:
        return f"; one seed per value, so no noise estimate ({metric} {both})"
    return f"; within noise of {_v(up['value'])}: {metric} {both}, the intervals mean ± std overlap"


def _v(value: Any) -> str:
    """A factor value as a config spells it (`false`, `0.025`, `fairnas`)."""
    return value if isinstance(value, str) else json.dumps(value)


def _ms(s: dict[str, Any]) -> str:
    return f"{s['mean']:.3f} ± {s['std']:.3f} (n={s['n']})"


def sequential_notes(sweep_dirs: list[Path]) -> list[str]:
    """Report warnings: each decided stage of these sweep dirs' sequential.json that is within noise."""
    notes = []
    for d in sweep_dirs:
        try:
            doc = json.loads((d / "sequential.json").read_text())
        except (OSError, ValueError):
            continue
        metric = doc.get("select", "the selection metric")
        for rec in doc.get("stages", []):
            text = noise_text(rec, metric)
            if text:
                notes.append(f"{d.name}: stage {rec.get('factor')} chose {_v(rec.get('chosen'))}{text}")
    return notes
