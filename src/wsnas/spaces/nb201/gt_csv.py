"""NAS-Bench-201 ground truth from a CSV export: final accuracies of the 200-epoch schedule.

Header `index,arch_str,<metric columns>[,params,flops]`, one row per cell: the official
index, its arch string, then accuracies in percent. Metric columns are either metric
names ('cifar10/ori-test') or the export's own names (CSV_COLUMNS).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from wsnas.core.errors import ArchError, BenchmarkError, did_you_mean
from wsnas.groundtruth.table import Benchmark
from wsnas.spaces.nb201.arch import parse_arch
from wsnas.spaces.nb201.gt_common import CellGT, build_table, check_accuracy, check_index, schedule_epochs

CSV_COLUMNS: dict[str, str] = {
    "cifar10_test": "cifar10/ori-test",
    "cifar100_test": "cifar100/x-test",
    "imagenet16_120_test": "ImageNet16-120/x-test",
    "cifar10_valid_xvalid": "cifar10-valid/x-valid",
    "cifar10_valid_xtest": "cifar10-valid/ori-test",
}
"""CSV export column -> metric (verified on the real data against the NATS records)."""


def read_csv(path: Path, metric: str, schedule: str) -> Benchmark:
    """`index,arch_str,<metric columns>[,params,flops]`: final accuracies of the 200 schedule.

    An empty or 'nan' accuracy means no GT for that cell; anything else that is
    not a number is an error naming the line.
    """
    where = str(path)
    schedule_epochs(schedule, where)
    if schedule != "200":
        raise BenchmarkError(
            f"{where}: CSV exports hold the 200-epoch schedule; use the official .pth or "
            f"NATS folder for schedule {schedule}"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark (Excel's export) is not a column
    except (OSError, UnicodeDecodeError) as e:
        raise BenchmarkError(f"{where}: cannot read as UTF-8 text ({e})") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise BenchmarkError(f"{where}: empty file, expected a header line")
    _no_nul(header, header, where, 1)
    header = [h.strip() for h in header]
    cols = {h: k for k, h in enumerate(header)}
    missing = [c for c in ("index", "arch_str") if c not in cols]
    if missing:
        raise BenchmarkError(f"{where}: header lacks column(s) {', '.join(missing)}")
    by_metric = {CSV_COLUMNS.get(h, h): h for h in header if h not in ("index", "arch_str")}
    column = metric if metric in cols else by_metric.get(metric)
    if column is None or column in ("index", "arch_str", "params", "flops"):
        offered = sorted(m for m in by_metric if m not in ("params", "flops"))
        raise BenchmarkError(
            f"{where}: no column for metric {metric!r}; metrics: {', '.join(offered) or 'none'}"
            f"{did_you_mean(metric, offered)}"
        )
    acc_col, p_col, f_col = cols[column], cols.get("params"), cols.get("flops")
    rows: dict[int, tuple[str, float, float, float]] = {}
    seen_arch: dict[str, int] = {}
    n_total = 0
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        n_total += 1
        _no_nul(row, header, where, line_no)
        if len(row) != len(header):
            raise BenchmarkError(f"{where}: line {line_no}: {len(row)} fields, header has {len(header)}")
        try:
            idx = int(row[cols["index"]])
        except ValueError:
            raise BenchmarkError(
                f"{where}: line {line_no}: index {row[cols['index']]!r} is not an integer"
            ) from None
        check_index(idx, f"{where}: line {line_no}")
        arch = row[cols["arch_str"]].strip()
        try:
            parse_arch(arch)
        except ArchError as e:
            raise BenchmarkError(f"{where}: line {line_no}: {e}") from None
        if idx in rows or arch in seen_arch:
            raise BenchmarkError(f"{where}: line {line_no}: duplicate index or arch string")
        seen_arch[arch] = idx
        acc = check_accuracy(_csv_number(row[acc_col], where, line_no, column), f"{where}: line {line_no}")
        if math.isnan(acc):
            continue
        params = math.nan if p_col is None else _csv_number(row[p_col], where, line_no, "params")
        flops = math.nan if f_col is None else _csv_number(row[f_col], where, line_no, "flops")
        rows[idx] = (arch, acc, params, flops)
    if not rows:
        raise BenchmarkError(f"{where}: no rows with a value for {metric!r}")
    archs_by_index = {i: r[0] for i, r in rows.items()}
    cells = {i: CellGT(r[1], r[2], r[3], 0) for i, r in rows.items()}
    return build_table(archs_by_index, cells, n_total, {"reader": "csv", "column": column}, where)


def _no_nul(row: list[str], header: list[str], where: str, line_no: int) -> None:
    """Refuse a NUL byte in any field, read or not: text tools stop at it, so the file is not the CSV it
    looks like (a truncated copy, a binary file, an encoding mix-up); Python's csv module keeps it."""
    for k, cell in enumerate(row):
        if "\0" in cell:
            name = header[k].strip() if k < len(header) and "\0" not in header[k] else ""
            column = f"column {name!r}" if name else f"field {k + 1}"
            shown = repr(cell) if len(cell) <= 60 else repr(cell[:60]) + "..."
            raise BenchmarkError(
                f"{where}: line {line_no}: {column} holds a NUL byte ({shown}); "
                "not a text CSV (a damaged or binary file?)"
            )


def _csv_number(cell: str, where: str, line_no: int, column: str) -> float:
    s = cell.strip()
    if not s or s.lower() == "nan":
        return math.nan
    try:
        x = float(s)
    except ValueError:
        raise BenchmarkError(
            f"{where}: line {line_no}: column {column!r}: {cell!r} is not a number"
        ) from None
    if math.isinf(x):
        raise BenchmarkError(f"{where}: line {line_no}: column {column!r}: {cell!r} is infinite")
    return x
