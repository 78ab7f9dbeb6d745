"""nb201_mini's ground truth: a table built by `wsnas bench build`, shipped with wsnas.

`digits_test_40.npz` holds the mean test accuracy (%) over 3 seeds of every one of
the 125 encodings trained stand-alone on scikit-learn's digits (P_proxy of
`MiniSpace.proxy`); `digits_test_40_runs.csv` holds every (arch, seed) result.
The exact command, seeds and wall time are in the table's metadata
(`wsnas bench info nb201_mini`) and in docs/mini-benchmark.md.
"""

from __future__ import annotations

from pathlib import Path

from wsnas.core.errors import BenchmarkError
from wsnas.groundtruth.loaders import BUILT_PREFIX, BenchLoader
from wsnas.groundtruth.table import Benchmark

HERE = Path(__file__).resolve().parent
TABLE = HERE / "digits_test_40.npz"
RUNS = HERE / "digits_test_40_runs.csv"
METRIC = f"{BUILT_PREFIX}digits-test"
SCHEDULE = "40"


def read_table(source: Path, metric: str, schedule: str) -> Benchmark:
    """Only wsnas tables (`.npz`, read by `import_benchmark` itself) are nb201_mini ground truth."""
    raise BenchmarkError(f"nb201_mini ground truth {source}: expected a table made by `wsnas bench build`")


def normalize_metric(metric: str) -> str:
    raise BenchmarkError(
        f"nb201_mini has no metric {metric!r}: its tables are built stand-alone "
        f"(metrics named {BUILT_PREFIX}<data>-<split>, e.g. {METRIC})"
    )


LOADER = BenchLoader(
    read=read_table,
    normalize_metric=normalize_metric,
    sources="a table made by `wsnas bench build` (.npz); the digits one ships with wsnas",
    default_metric=METRIC,
    default_schedule=SCHEDULE,
    default_source=TABLE,
)
"""How wsnas reads this space's ground truth (`SearchSpace.loader`)."""
