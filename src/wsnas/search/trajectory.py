"""trajectory.csv: every evaluated architecture of a search, in order; rewritten atomically per row.

Fitness is written with `repr`, so reading it back gives the exact float the algorithm
saw, and a replay after a kill takes exactly the same decisions.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from wsnas.core.atomic import write_text_atomic
from wsnas.core.errors import WsnasError
from wsnas.search.oracle import Row

COLUMNS = ("row", "arch", "canonical", "fitness", "evals", "same_path_as", "gt_acc", "gt_rank", "seconds")
"""`row` and `same_path_as` count from 1; `evals`: super-net evaluations so far; GT empty when unknown;
`seconds`: the search's wall time (over all attempts) when the row was added."""


def write_trajectory(path: Path, rows: list[Row]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for i, r in enumerate(rows):
        w.writerow(
            [
                i + 1,
                r.arch,
                r.canonical,
                repr(r.fitness),
                r.evals,
                "" if r.same_path_as is None else r.same_path_as + 1,
                "" if r.gt_acc is None else repr(r.gt_acc),
                "" if r.gt_rank is None else r.gt_rank,
                f"{r.seconds:.3f}",
            ]
        )
    write_text_atomic(path, buf.getvalue())


def read_trajectory(path: Path) -> list[Row]:
    """The rows of PATH (none if it does not exist); WsnasError naming the file and row if malformed."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise WsnasError(
                f"{path}: not a wsnas trajectory (columns {reader.fieldnames}, expected {list(COLUMNS)})"
            )
        rows = []
        for n, rec in enumerate(reader, start=1):
            try:
                if int(rec["row"]) != n:
                    raise ValueError(f"row number {rec['row']}")
                fitness = float(rec["fitness"])
                if not math.isfinite(fitness):
                    raise ValueError(f"fitness {rec['fitness']}")
                shared = int(rec["same_path_as"]) - 1 if rec["same_path_as"] else None
                if shared is not None and not 0 <= shared < n - 1:
                    raise ValueError(f"same_path_as {rec['same_path_as']}")
                rows.append(
                    Row(
                        rec["arch"],
                        rec["canonical"],
                        fitness,
                        int(rec["evals"]),
                        shared,
                        float(rec["gt_acc"]) if rec["gt_acc"] else None,
                        int(rec["gt_rank"]) if rec["gt_rank"] else None,
                        float(rec["seconds"]),
                    )
                )
            except (TypeError, ValueError) as e:
                raise WsnasError(
                    f"{path}: row {n} is malformed ({e}); remove the search dir to start again"
                ) from None
    return rows
