"""NAS-Bench-201 ground truth from the official files, without their packages: the entry point.

`read_nb201` picks the reader by what the source is: the NATS-Bench topology "simple"
folder or single file (gt_nats), the NAS-Bench-201 `.pth` v1.0/v1.1 (gt_pth) or a CSV
export (gt_csv). `normalize_metric` maps the names users type to the readers' metrics.
All pickled data goes through the allowlist of wsnas.groundtruth.unpickle.
"""

from __future__ import annotations

from pathlib import Path

from wsnas.core.errors import BenchmarkError
from wsnas.groundtruth.loaders import BenchLoader, MeasuredOn
from wsnas.groundtruth.table import Benchmark
from wsnas.spaces.nb201.gt_common import SOURCES, schedule_epochs
from wsnas.spaces.nb201.gt_csv import CSV_COLUMNS, read_csv
from wsnas.spaces.nb201.gt_nats import read_nats_file, read_nats_folder
from wsnas.spaces.nb201.gt_pth import read_pth

__all__ = [
    "CSV_COLUMNS",
    "DATASETS",
    "SOURCES",
    "normalize_metric",
    "read_csv",
    "read_nats_file",
    "read_nats_folder",
    "read_nb201",
    "read_pth",
]

DATASETS: tuple[str, ...] = ("cifar10-valid", "cifar10", "cifar100", "ImageNet16-120")
_SHORT_NAMES: dict[str, str] = {
    "cifar10/valid": "cifar10-valid/x-valid",
    "cifar10/test": "cifar10/ori-test",
    "cifar100/valid": "cifar100/x-valid",
    "cifar100/test": "cifar100/x-test",
    "ImageNet16-120/valid": "ImageNet16-120/x-valid",
    "ImageNet16-120/test": "ImageNet16-120/x-test",
}
"""The official API's 'valid'/'test' shorthands."""


def normalize_metric(metric: str) -> str:
    """'dataset/eval-name' in NATS spelling; CSV column names and shorthands mapped."""
    m = str(metric).strip()
    if m in CSV_COLUMNS:
        return CSV_COLUMNS[m]
    if "/" not in m:
        return m
    ds, _, ev = m.partition("/")
    ds = next((d for d in DATASETS if d.lower() == ds.lower()), ds)
    m = f"{ds}/{ev}"
    return _SHORT_NAMES.get(m, m)


DATA_NAMES: dict[str, str] = {
    "cifar10-valid": "cifar10",
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "ImageNet16-120": "imagenet16_120",
}
"""The benchmark's data sets -> data.name of the images they were trained and scored on."""
_SPLITS: dict[str, dict[str, str]] = {
    "cifar10": {"ori-test": "test"},
    "cifar100": {"ori-test": "test", "x-valid": "x-valid", "x-test": "x-test"},
    "ImageNet16-120": {"ori-test": "test", "x-valid": "x-valid", "x-test": "x-test"},
}
"""(data set, eval name) -> the data.eval_split scoring the same images. cifar10-valid's x-valid is
a fixed half of the training set that wsnas does not ship, so its split is not checked."""


def measured_on(metric: str) -> MeasuredOn | None:
    """The data.name / data.eval_split a normalised metric ('dataset/eval') was measured on."""
    ds, _, ev = metric.partition("/")
    if ds not in DATA_NAMES:
        return None
    return MeasuredOn((DATA_NAMES[ds],), _SPLITS.get(ds, {}).get(ev))


def read_nb201(source: Path, metric: str, schedule: str) -> Benchmark:
    """Pick the reader by what SOURCE is: folder, .csv, .pbz2, else a torch file."""
    source = Path(source)
    where = str(source)
    schedule_epochs(schedule, where)
    if source.is_dir():
        return read_nats_folder(source, metric, schedule)
    if not source.is_file():
        raise BenchmarkError(f"{where}: no such file or folder; sources: {SOURCES}")
    name = source.name.lower()
    if name.endswith(".csv"):
        return read_csv(source, metric, schedule)
    if name.endswith(".pbz2") or name.endswith(".bz2"):
        return read_nats_file(source, metric, schedule)
    with source.open("rb") as f:
        head = f.read(4)
    if head.startswith(b"BZh"):
        return read_nats_file(source, metric, schedule)
    if name.endswith(".pth") or head.startswith(b"PK") or head[:1] == b"\x80":
        return read_pth(source, metric, schedule)
    raise BenchmarkError(f"{where}: unrecognised ground-truth source; sources: {SOURCES}")


GT_COLUMNS: dict[str, dict[str, str]] = {
    "cifar10": {
        "ori-test": "cifar10/ori-test",
        "x-valid": "cifar10-valid/x-valid",
        "x-test": "cifar10-valid/ori-test",
    },
    **{
        DATA_NAMES[ds]: {ev: f"{ds}/{ev}" for ev in ("ori-test", "x-valid", "x-test")}
        for ds in ("cifar100", "ImageNet16-120")
    },
}
"""data.name -> {label: metric}: the benchmark's ground truths per data set (cifar10-valid's test-set
accuracy, `cifar10-valid/ori-test`, is the x-test of CIFAR-10; a source may hold only some)."""


LOADER = BenchLoader(
    read=read_nb201,
    normalize_metric=normalize_metric,
    sources=SOURCES,
    default_metric="cifar10/ori-test",
    default_schedule="200",
    metric_by_data={"cifar100": "cifar100/x-test", "imagenet16_120": "ImageNet16-120/x-test"},
    measured=measured_on,
    gt_columns=GT_COLUMNS,
)
"""How wsnas reads this space's ground truth (`SearchSpace.loader`)."""
