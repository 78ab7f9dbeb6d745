"""scores.csv of a `wsnas estimate` run: one line per architecture, appended with one write() so a
kill leaves a line entirely or not at all; a torn last line is cut on resume; sorted by pool
position at the end (atomically)."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any

from wsnas.core.atomic import write_text_atomic
from wsnas.core.errors import WsnasError
from wsnas.estimators.plan import Plan
from wsnas.estimators.zero_cost import Score


def csv_header(columns: list[str]) -> list[str]:
    return [
        "pos", "arch", "canonical", "index", *columns, "gt_acc", "gt_rank",
        "seconds", "seconds_zero_cost", "reason",
    ]  # fmt: skip


def _fmt(v: float) -> str:
    return "nan" if math.isnan(v) else repr(float(v))


def format_row(plan: Plan, i: int, result: dict[str, Any]) -> str:
    p = plan.pool
    vals: dict[str, Score] = result["values"]
    reasons = "; ".join(s.reason for s in vals.values() if s.reason)
    secs = sum(result["seconds"].values())
    row = [
        i,
        p.arch_strs[i],
        p.canonical[i],
        int(p.index[i]),
        *(_fmt(vals[c].value) for c in plan.columns),
        repr(float(p.gt[i])),
        int(p.gt_rank[i]),
        f"{secs:.6f}",
        f"{result['seconds'].get('zero_cost', 0.0):.6f}",
        reasons,
    ]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(row)
    return buf.getvalue()


def read_scores(path: Path, columns: list[str], repair: bool = False) -> list[dict[str, str]]:
    """The complete rows of scores.csv; with REPAIR, a torn last line (a writer killed mid-line, or a
    power cut) is cut off the file. A wrong header is an error (another run's file)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    keep = data if data.endswith(b"\n") else data[: data.rfind(b"\n") + 1]
    if repair and len(keep) != len(data):
        with open(path, "r+b") as f:
            f.truncate(len(keep))
    rows = list(csv.reader(io.StringIO(keep.decode("utf-8"))))
    if not rows:
        return []
    want = csv_header(columns)
    if rows[0] != want:
        raise WsnasError(f"{path}: header {rows[0]} is not this run's {want}")
    return [dict(zip(want, r, strict=True)) for r in rows[1:] if len(r) == len(want)]


def append_line(path: Path, line: str) -> None:
    """One whole line with one write() on an O_APPEND file: a kill leaves it entirely or not at all."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        data = line.encode("utf-8")
        n = os.write(fd, data)
        if n != len(data):
            raise OSError(f"short write to {path}")
    finally:
        os.close(fd)


def sort_scores(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    """Rewrite scores.csv in pool order (atomically; nothing to do when it already is)."""
    if [int(r["pos"]) for r in rows] == sorted(int(r["pos"]) for r in rows):
        return
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=csv_header(columns), lineterminator="\n")
    w.writeheader()
    w.writerows(sorted(rows, key=lambda r: int(r["pos"])))
    write_text_atomic(path, buf.getvalue())
