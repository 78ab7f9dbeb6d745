"""Before a sweep reuses a run dir: its stored identity must be the planned one.

A run dir is found by its name (label, seed, config hash), which says nothing of the
ground truth it was scored against, the numerics or the world size. A rerun into the
same sweep dir with another GT file or AMP setting would otherwise reuse runs whose
numbers mean something else. `check_reuse` stops such a sweep with the differing
fields; with `force` it deletes those run dirs so they are trained again. A run dir
without an identity (written before wsnas recorded them) cannot be checked: it is
reused as before, with one log line, and the report shows it as "legacy".
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from wsnas.core.errors import WsnasError
from wsnas.engine.identity import identity_diff, planned_identity, read_identity
from wsnas.engine.rundir import run_state
from wsnas.sweep.plan import PlannedRun

SHOWN = 5
"""Mismatching runs listed in the message (the count says how many more)."""


def mismatches(runs: list[PlannedRun]) -> tuple[list[tuple[PlannedRun, list[str]]], list[PlannedRun]]:
    """(run, differing fields) of every started run whose stored identity is not the planned one,
    and the started runs without a stored identity (legacy)."""
    benches: dict[tuple, Any] = {}
    bad, legacy = [], []
    for r in runs:
        if run_state(r.run_dir) == "new":
            continue
        stored = read_identity(r.run_dir)
        if stored is None:
            legacy.append(r)
            continue
        diff = identity_diff(stored, planned_identity(r.cfg, benches=benches))
        if diff:
            bad.append((r, diff))
    return bad, legacy


def check_reuse(runs: list[PlannedRun], force: bool = False, log: Callable[[str], None] = print) -> None:
    """Raise (naming the fields) if a started run of RUNS has another identity; FORCE: retrain it."""
    bad, legacy = mismatches(runs)
    if legacy:
        log(
            f"{len(legacy)} run(s) without a recorded identity (older wsnas): reused unchecked, "
            "shown as legacy in reports"
        )
    if not bad:
        return
    if force:
        for r, diff in bad:
            shutil.rmtree(r.run_dir)
            log(f"--force: {r.name} had another identity ({'; '.join(diff)}); deleted, to be retrained")
        return
    lines = [f"  {r.name}: {'; '.join(diff)}" for r, diff in bad[:SHOWN]]
    if len(bad) > SHOWN:
        lines.append(f"  ... and {len(bad) - SHOWN} more")
    raise WsnasError(
        f"{len(bad)} run(s) in {bad[0][0].run_dir.parent} were made with another identity than "
        "this sweep plans, so their results cannot be mixed with it:\n"
        + "\n".join(lines)
        + "\nuse another --out, or --force to delete and retrain them"
    )
