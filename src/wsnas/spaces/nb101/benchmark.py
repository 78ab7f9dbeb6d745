"""NAS-Bench-101 ground truth from the official tfrecord files, without TensorFlow.

`nasbench_only108.tfrecord` (~499 MB, 1,270,872 records) and `nasbench_full.tfrecord`
(epoch budgets 4, 12, 36 and 108) are streamed record by record: TensorFlow's
TFRecord framing (uint64 little-endian length, masked CRC32C of those 8 bytes,
data, masked CRC32C of the data), every CRC checked with the C-accelerated
`google-crc32c`. Each record is a JSON list `[module_hash, epochs, adjacency,
operations, metrics]` (layout learned from the official API, see docs/background.md#nb101-ground-truth-file):
the adjacency is a flat 0/1 string of n*n chars, the operations are
comma-separated, and the metrics are base64 of a serialized `ModelMetrics`
protobuf, decoded with the `protobuf` package from message types built here at
run time (no protoc, no generated code).

GT per module hash and epoch budget = mean over the repeats (3 per budget) of
the final `evaluation_data` entry's accuracy, in percent (the file stores
fractions). Metrics: "test" (the paper's GT) and "valid". Rows are the hashes in
order of first appearance in the file (`index`), `arch` = the compact JSON
`{"matrix":[[...]],"ops":[...]}` of the cell as recorded (already pruned),
`canonical` = the module hash, `params` = trainable parameters in millions (the
table's NB201 convention), `flops` unknown (NaN). Errors name the file and the
record number, counted from 0, with its byte offset.
"""

from __future__ import annotations

import binascii
import json
import math
import os
import re
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import google_crc32c
import numpy as np

from wsnas.core.errors import BenchmarkError, did_you_mean
from wsnas.groundtruth.loaders import BenchLoader, cifar10_only, metric_from_aliases
from wsnas.groundtruth.table import Benchmark

SCHEDULES: tuple[str, ...] = ("4", "12", "36", "108")
"""Epoch budgets of nasbench_full; nasbench_only108 has "108" only."""
DEFAULT_METRIC = "test"
DEFAULT_SCHEDULE = "108"
METRICS: dict[str, str] = {"test": "test_accuracy", "valid": "validation_accuracy"}
"""Metric name -> EvaluationData field (a fraction in the file, percent in the table)."""
_ALIASES: dict[str, str] = {
    "test_accuracy": "test",
    "test_acc": "test",
    "validation_accuracy": "valid",
    "validation": "valid",
    "valid_accuracy": "valid",
    "val": "valid",
    "val_accuracy": "valid",
    "val_acc": "valid",
}
OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
_PLAIN_OPS = frozenset({"input", "output", *OPS})
MAX_VERTICES = 7
MAX_EDGES = 9
SOURCES = "nasbench_only108.tfrecord or nasbench_full.tfrecord (the official NAS-Bench-101 files)"
READ_BUFFER = 1 << 20
"""Bytes the file object buffers: records are read one at a time, never the whole file."""

_HEADER = struct.Struct("<QI")
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8
_HASH_RE = re.compile(r"[0-9a-f]{32}\Z")


# -- metric names -----------------------------------------------------------------


def normalize_metric(metric: str) -> str:
    """'test' or 'valid'; API field names (test_accuracy, final_validation_accuracy, ...) mapped.

    Raises for anything else: NB101 has exactly two metrics, so a typo is caught
    before a 500 MB file is read.
    """
    m = str(metric).strip().lower()
    for prefix in ("cifar10/", "final_"):
        m = m.removeprefix(prefix)
    return metric_from_aliases(metric, m, METRICS, _ALIASES, "NAS-Bench-101")


def _epochs(schedule: str, where: str) -> int:
    if schedule not in SCHEDULES:
        raise BenchmarkError(
            f"{where}: unknown schedule {schedule!r}; NAS-Bench-101 has "
            f"{', '.join(SCHEDULES)}{did_you_mean(schedule, SCHEDULES)}"
        )
    return int(schedule)


# -- ModelMetrics protobuf, built at run time ---------------------------------------


def _decode_error() -> type[Exception]:
    from google.protobuf.message import DecodeError

    return DecodeError


@cache
def metrics_classes() -> tuple[Any, Any]:
    """(ModelMetrics, EvaluationData) message classes of nasbench/lib/model_metrics.proto.

    Built from a FileDescriptorProto in a private pool, so they never clash with
    a generated `model_metrics_pb2` that the official package may have loaded. protobuf is
    imported here, where a file is read, so that commands that read none start fast.
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(
        name="wsnas/nasbench_model_metrics.proto", package="nasbench", syntax="proto2"
    )
    F = descriptor_pb2.FieldDescriptorProto
    ev = fdp.message_type.add(name="EvaluationData")
    for number, name in enumerate(
        ("current_epoch", "training_time", "train_accuracy", "validation_accuracy", "test_accuracy"), 1
    ):
        ev.field.add(name=name, number=number, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    ev.field.add(name="checkpoint_path", number=6, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    mm = fdp.message_type.add(name="ModelMetrics")
    mm.field.add(
        name="evaluation_data",
        number=1,
        type=F.TYPE_MESSAGE,
        label=F.LABEL_REPEATED,
        type_name=".nasbench.EvaluationData",
    )
    mm.field.add(name="trainable_parameters", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    mm.field.add(name="total_time", number=3, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("nasbench.ModelMetrics")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("nasbench.EvaluationData")),
    )


# -- TFRecord framing -----------------------------------------------------------------


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC32C: rotate right by 15 bits, add a constant (mod 2^32)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def _at(path: Path, k: int, offset: int) -> str:
    return f"{path}: record {k} (0-based, byte offset {offset})"


def iter_tfrecords(path: Path, check_crc: bool = True) -> Iterator[tuple[int, int, bytes]]:
    """(record number from 0, byte offset, data) of each record, streamed.

    Memory stays at one record plus the read buffer. A cut anywhere (length
    header, data, data CRC) or a CRC mismatch raises BenchmarkError naming the
    record; lengths are checked against the file size before reading, so a
    corrupt length never allocates gigabytes.
    """
    path = Path(path)
    k = offset = 0
    try:
        f = open(path, "rb", buffering=READ_BUFFER)  # noqa: SIM115 - closed in the finally below
    except OSError as e:
        raise BenchmarkError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        size = os.fstat(f.fileno()).st_size
        read = f.read
        while True:
            head = read(12)
            if not head:
                return
            if len(head) < 12:
                raise BenchmarkError(
                    f"{_at(path, k, offset)}: truncated in the length header ({len(head)} of 12 bytes)"
                )
            length, length_crc = _HEADER.unpack(head)
            if check_crc and masked_crc32c(head[:8]) != length_crc:
                hint = " (not a TFRecord file?)" if k == 0 else ""
                raise BenchmarkError(f"{_at(path, k, offset)}: length CRC mismatch, corrupt header{hint}")
            left = size - offset - 12
            if length > left:
                raise BenchmarkError(
                    f"{_at(path, k, offset)}: truncated: {length} bytes of data announced, {left} left"
                )
            if length + 4 > left:
                raise BenchmarkError(
                    f"{_at(path, k, offset)}: truncated in the data CRC ({left - length} of 4 bytes)"
                )
            data = read(length)
            tail = read(4)
            if len(data) < length or len(tail) < 4:
                raise BenchmarkError(f"{_at(path, k, offset)}: truncated while reading (the file shrank)")
            if check_crc and masked_crc32c(data) != _CRC.unpack(tail)[0]:
                raise BenchmarkError(f"{_at(path, k, offset)}: data CRC mismatch, corrupt record")
            yield k, offset, data
            k += 1
            offset += 16 + length
    except OSError as e:
        raise BenchmarkError(f"{path}: read error near record {k} ({e.strerror or e})") from None
    finally:
        f.close()


# -- one record -----------------------------------------------------------------------


def cell_json(adjacency: str, operations: list[str], n: int) -> str:
    """Compact `{"matrix":[[...]],"ops":[...]}` (json.dumps with separators (",", ":"))."""
    rows = "],[".join(",".join(adjacency[r * n : (r + 1) * n]) for r in range(n))
    if all(o in _PLAIN_OPS for o in operations):  # checked labels need no JSON escaping
        ops = '["' + '","'.join(operations) + '"]'
    else:
        ops = json.dumps(operations, separators=(",", ":"))
    return '{"matrix":[[' + rows + ']],"ops":' + ops + "}"


@cache
def _lower_mask(n: int) -> int:
    """Bits of the diagonal and below in an n*n adjacency read as one binary number."""
    return sum(1 << (n * n - 1 - (r * n + c)) for r in range(n) for c in range(r + 1))


def check_cell(module_hash: Any, adjacency: Any, operations: Any) -> tuple[int, list[str]]:
    """(vertices, ops) of a recorded cell; ValueError says what is malformed."""
    if not isinstance(module_hash, str) or not _HASH_RE.match(module_hash):
        raise ValueError(f"module hash {module_hash!r} is not 32 lowercase hex digits")
    if not isinstance(adjacency, str) or not isinstance(operations, str):
        raise ValueError("adjacency and operations must be strings")
    n = math.isqrt(len(adjacency))
    if n * n != len(adjacency) or not 2 <= n <= MAX_VERTICES:
        raise ValueError(
            f"adjacency {adjacency!r} has {len(adjacency)} chars, not n*n for n in 2..{MAX_VERTICES}"
        )
    if adjacency.strip("01"):
        raise ValueError(f"adjacency {adjacency!r} holds characters other than 0 and 1")
    bits = int(adjacency, 2)  # entry (r, c) is bit n*n-1-(r*n+c)
    if bits & _lower_mask(n):
        raise ValueError(f"adjacency {adjacency!r} is not strictly upper-triangular")
    if adjacency.count("1") > MAX_EDGES:
        raise ValueError(f"adjacency {adjacency!r} has {adjacency.count('1')} edges (at most {MAX_EDGES})")
    ops = operations.split(",")
    if len(ops) != n:
        raise ValueError(f"{len(ops)} operations {operations!r} for a {n}x{n} matrix")
    if ops[0] != "input" or ops[-1] != "output":
        raise ValueError(f"operations {operations!r} must start with input and end with output")
    bad = [o for o in ops[1:-1] if o not in OPS]
    if bad:
        raise ValueError(f"unknown operation {bad[0]!r} (ops: {', '.join(OPS)}){did_you_mean(bad[0], OPS)}")
    row_mask = (1 << n) - 1
    reach = 1 << (n - 1)  # vertex v is bit n-1-v, as in each row of BITS
    for r in range(n - 1):
        if reach >> (n - 1 - r) & 1:
            reach |= (bits >> (n * (n - 1 - r))) & row_mask
    if not reach & 1:
        raise ValueError(f"adjacency {adjacency!r}: output is not reachable from input")
    return n, ops


def _final_entry(metrics: Any, where: str) -> Any:
    if not metrics.evaluation_data:
        raise BenchmarkError(f"{where}: ModelMetrics has no evaluation_data")
    final = metrics.evaluation_data[-1]
    for name in ("test_accuracy", "validation_accuracy"):
        if not final.HasField(name):
            raise BenchmarkError(f"{where}: the final evaluation_data entry lacks {name}")
        x = getattr(final, name)
        if not 0.0 <= x <= 1.0:
            raise BenchmarkError(f"{where}: {name} = {x!r} is not a fraction in [0, 1]")
    return final


# -- aggregation ----------------------------------------------------------------------


@dataclass
class Nb101Summary:
    """Per-hash GT of one epoch budget, hashes in order of first appearance in the file.

    `index` is each row's first-appearance position among all hashes of the file
    (hashes without this budget are skipped, so it can have gaps); accuracies are
    percent means over repeats; `train_time` is the mean final training_time (s).
    """

    index: np.ndarray
    hashes: list[str]
    archs: list[str]
    test: np.ndarray
    valid: np.ndarray
    params: np.ndarray
    train_time: np.ndarray
    repeats: np.ndarray
    n_hashes: int
    n_records: int
    epochs_in_file: list[int] = field(default_factory=list)


def summarise_tfrecord(path: Path, schedule: str = DEFAULT_SCHEDULE, check_crc: bool = True) -> Nb101Summary:
    """Stream PATH once and aggregate the repeats of every hash at SCHEDULE epochs."""
    path = Path(path)
    target = _epochs(str(schedule), str(path))
    model_metrics, _ = metrics_classes()
    parse = model_metrics.FromString
    a2b = binascii.a2b_base64
    position: dict[str, int] = {}
    signature: list[int] = []  # hash((adjacency, operations)) of each hash's first record
    hashes: list[str] = []
    archs: list[str] = []
    params: list[float] = []
    test_sum: list[float] = []
    valid_sum: list[float] = []
    time_sum: list[float] = []
    count: list[int] = []
    epochs_seen: set[int] = set()
    n_records = 0
    for k, offset, data in iter_tfrecords(path, check_crc):
        n_records += 1
        try:
            rec = json.loads(data)
        except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, too many digits
            raise BenchmarkError(f"{_at(path, k, offset)}: not a JSON record ({str(e)[:200]})") from None
        except RecursionError:
            raise BenchmarkError(f"{_at(path, k, offset)}: JSON record nested too deeply") from None
        if type(rec) is not list or len(rec) != 5:
            raise BenchmarkError(
                f"{_at(path, k, offset)}: expected a JSON list [module_hash, epochs, adjacency, "
                f"operations, metrics], got {_brief(rec)}"
            )
        module_hash, epochs, adjacency, operations, raw = rec
        if type(epochs) is not int or epochs <= 0:
            raise BenchmarkError(f"{_at(path, k, offset)}: epochs {epochs!r} is not a positive integer")
        try:
            metrics = parse(a2b(raw, strict_mode=True))
        except (binascii.Error, TypeError, ValueError) as e:
            raise BenchmarkError(f"{_at(path, k, offset)}: metrics are not valid base64 ({e})") from None
        except _decode_error() as e:
            raise BenchmarkError(
                f"{_at(path, k, offset)}: metrics are not a ModelMetrics protobuf ({e})"
            ) from None
        i = position.get(module_hash) if type(module_hash) is str else None
        if i is None:
            try:
                n, ops = check_cell(module_hash, adjacency, operations)
            except ValueError as e:
                raise BenchmarkError(f"{_at(path, k, offset)}: {e}") from None
            if not metrics.HasField("trainable_parameters"):
                raise BenchmarkError(f"{_at(path, k, offset)}: ModelMetrics lacks trainable_parameters")
            i = position[module_hash] = len(hashes)
            hashes.append(module_hash)
            signature.append(hash((adjacency, operations)))
            archs.append(cell_json(adjacency, ops, n))
            params.append(metrics.trainable_parameters / 1e6)
            test_sum.append(0.0)
            valid_sum.append(0.0)
            time_sum.append(0.0)
            count.append(0)
        elif signature[i] != hash((adjacency, operations)):
            raise BenchmarkError(
                f"{_at(path, k, offset)}: hash {module_hash} recorded with another cell than in its "
                f"first record ({adjacency!r}, {operations!r} vs {archs[i]})"
            )
        epochs_seen.add(epochs)
        final = _final_entry(metrics, _at(path, k, offset))
        if epochs == target:
            test_sum[i] += final.test_accuracy
            valid_sum[i] += final.validation_accuracy
            time_sum[i] += final.training_time
            count[i] += 1
    if not n_records:
        raise BenchmarkError(f"{path}: no records (empty file); sources: {SOURCES}")
    if target not in epochs_seen:
        raise BenchmarkError(
            f"{path}: no records for schedule {schedule} (epochs in this file: "
            f"{', '.join(map(str, sorted(epochs_seen)))}); {SOURCES.split(' (')[0]}"
        )
    counts = np.array(count, dtype=np.int64)
    rows = np.flatnonzero(counts)
    repeats = counts[rows]
    return Nb101Summary(
        index=rows.astype(np.int64),
        hashes=[hashes[r] for r in rows],
        archs=[archs[r] for r in rows],
        test=np.array(test_sum)[rows] / repeats * 100.0,
        valid=np.array(valid_sum)[rows] / repeats * 100.0,
        params=np.array(params)[rows],
        train_time=np.array(time_sum)[rows] / repeats,
        repeats=repeats,
        n_hashes=len(hashes),
        n_records=n_records,
        epochs_in_file=sorted(epochs_seen),
    )


def _brief(x: Any) -> str:
    text = json.dumps(x)
    return f"{type(x).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


# -- the loader -----------------------------------------------------------------------


def read_nb101(source: Path, metric: str, schedule: str) -> Benchmark:
    """A Benchmark of METRIC ('test' or 'valid') at SCHEDULE epochs from a NB101 tfrecord."""
    source = Path(source)
    where = str(source)
    metric = normalize_metric(metric)
    _epochs(str(schedule), where)
    if source.is_dir():
        raise BenchmarkError(f"{where}: is a folder; expected {SOURCES}")
    if not source.is_file():
        raise BenchmarkError(f"{where}: no such file; expected {SOURCES}")
    s = summarise_tfrecord(source, str(schedule))
    acc = s.test if metric == "test" else s.valid
    repeats = Counter(s.repeats.tolist())
    return Benchmark(
        index=s.index,
        arch=s.archs,
        canonical=s.hashes,
        acc=acc,
        params=s.params,
        meta={
            "reader": "nasbench-tfrecord",
            "file": source.name,
            "n_records": s.n_records,
            "n_total": s.n_hashes,
            "n_missing": s.n_hashes - len(s.hashes),
            "epochs_in_file": s.epochs_in_file,
            "repeat_counts": {str(k): v for k, v in sorted(repeats.items())},
            "field": f"final evaluation_data.{METRICS[metric]} x 100, mean over repeats",
            "params_unit": "millions of trainable parameters",
            "train_time_s_mean": float(s.train_time.mean()) if len(s.hashes) else None,
        },
    )


LOADER = BenchLoader(
    read=read_nb101,
    normalize_metric=normalize_metric,
    sources=SOURCES,
    default_metric=DEFAULT_METRIC,
    measured=cifar10_only,  # every metric of this benchmark is CIFAR-10's
    default_schedule=DEFAULT_SCHEDULE,
    gt_columns={"cifar10": {"test": "test", "valid": "valid"}},
)
"""How wsnas reads this space's ground truth (`SearchSpace.loader`)."""
