"""NAS-Bench-101 tfrecord reader on small files written here in the official structure.

The writer below is independent of the reader: TFRecord framing packed with
`struct` and its own CRC masking, ModelMetrics bytes encoded by hand (protobuf
wire format) and cross-checked against the runtime-built message class.
"""

from __future__ import annotations

import base64
import io
import json
import struct
from pathlib import Path

import google_crc32c
import numpy as np
import pytest

import wsnas.spaces.nb101.benchmark as nbb
from nb101_records import (
    C1,
    C3,
    INCEPTION_MATRIX,
    INCEPTION_OPS,
    INCEPTION_PARAMS,
    MP,
    eval_bytes,
    frame,
    masked,
    metrics_bytes,
)
from wsnas.cli.main import main
from wsnas.core.errors import BenchmarkError
from wsnas.groundtruth import Benchmark, cache_path, import_benchmark, open_benchmark
from wsnas.spaces import get_space
from wsnas.spaces.nb101.graph import CellSpec, prune, spec_hash

INCEPTION = (INCEPTION_MATRIX, INCEPTION_OPS, INCEPTION_PARAMS)
"""The official API's example cell and its parameter count (docs/background.md#nasbench-101 / data README)."""
CELLS = [
    INCEPTION,
    ([[0, 1], [0, 0]], ["input", "output"], 227274),
    ([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", C3, "output"], 1069066),
    (
        [[0, 1, 0, 0, 1], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]],
        ["input", MP, C1, C3, "output"],
        1353354,
    ),
]


# -- an independent writer ------------------------------------------------------------


def flat(matrix: list[list[int]]) -> str:
    return "".join(str(x) for row in matrix for x in row)


def module_hash(matrix: list[list[int]], ops: list[str]) -> str:
    return spec_hash(CellSpec.of(matrix, ops))


def acc(c: int, rep: int, epochs: int, kind: str) -> float:
    """A fraction, different per cell, repeat, budget and split (as in the file)."""
    return 0.70 + 0.0035 * c + 0.003 * rep + epochs / 2000 + (0.001 if kind == "valid" else 0.0)


def train_time(c: int, rep: int, epochs: int) -> float:
    return 100.0 * epochs + 10 * c + rep


def record(c: int, rep: int, epochs: int, cells=CELLS, params: int | None = None) -> bytes:
    matrix, ops, p = cells[c]
    evals = [
        eval_bytes(0.0, 0.0, 0.1, 0.1, 0.1),
        eval_bytes(epochs / 2, train_time(c, rep, epochs) / 2, 0.5, 0.5, 0.5),
        eval_bytes(
            float(epochs),
            train_time(c, rep, epochs),
            0.99,
            acc(c, rep, epochs, "valid"),
            acc(c, rep, epochs, "test"),
            f"/ckpt/{c}/model.ckpt-{epochs}",
        ),
    ]
    raw = base64.b64encode(metrics_bytes(evals, p if params is None else params, 1234.5)).decode()
    return json.dumps([module_hash(matrix, ops), epochs, flat(matrix), ",".join(ops), raw]).encode()


ORDER_108 = [(2, 0), (0, 0), (2, 1), (1, 0), (0, 1), (2, 2), (3, 0), (1, 1), (0, 2), (1, 2), (3, 1), (3, 2)]
"""(cell, repeat) record order: interleaved, first appearances 2, 0, 1, 3."""
FIRST = [2, 0, 1, 3]


def write(path: Path, datas: list[bytes]) -> Path:
    path.write_bytes(b"".join(frame(d) for d in datas))
    return path


def only108(path: Path) -> Path:
    return write(path, [record(c, r, 108) for c, r in ORDER_108])


FULL_MISSING = (1, 4)
"""Cell 1 has no 4-epoch records in the fake nasbench_full."""


def full(path: Path) -> Path:
    datas = [record(c, r, e) for e in (4, 12, 36, 108) for c, r in ORDER_108 if (c, e) != FULL_MISSING]
    return write(path, datas)


@pytest.fixture
def f108(tmp_path) -> Path:
    return only108(tmp_path / "nasbench_only108.tfrecord")


@pytest.fixture
def ffull(tmp_path) -> Path:
    return full(tmp_path / "nasbench_full.tfrecord")


def expected(c: int, epochs: int, kind: str) -> float:
    return float(np.mean([acc(c, r, epochs, kind) for r in range(3)]) * 100)


def arch_of(c: int, cells=CELLS) -> str:
    matrix, ops, _ = cells[c]
    return json.dumps({"matrix": matrix, "ops": ops}, separators=(",", ":"))


# -- the writer is the official structure ---------------------------------------------


def test_hand_encoded_metrics_match_the_runtime_protobuf_class():
    model_metrics, evaluation_data = nbb.metrics_classes()
    m = model_metrics(trainable_parameters=2694282, total_time=1234.5)
    m.evaluation_data.add(
        current_epoch=0.0, training_time=0.0, train_accuracy=0.1, validation_accuracy=0.1, test_accuracy=0.1
    )
    m.evaluation_data.append(
        evaluation_data(
            current_epoch=108.0,
            training_time=5.0,
            train_accuracy=0.99,
            validation_accuracy=0.93,
            test_accuracy=0.92,
            checkpoint_path="/x/model.ckpt-1",
        )
    )
    mine = metrics_bytes(
        [eval_bytes(0.0, 0.0, 0.1, 0.1, 0.1), eval_bytes(108.0, 5.0, 0.99, 0.93, 0.92, "/x/model.ckpt-1")],
        2694282,
        1234.5,
    )
    assert m.SerializeToString() == mine
    back = model_metrics.FromString(mine)
    assert back.evaluation_data[-1].test_accuracy == 0.92 and back.trainable_parameters == 2694282


def test_masked_crc32c():
    assert google_crc32c.value(b"123456789") == 0xE3069283  # the CRC-32C check value
    for data in (b"", b"\x00" * 8, b"hello", bytes(range(256))):
        assert nbb.masked_crc32c(data) == masked(data)


def test_framing_round_trip(tmp_path):
    datas = [b"", b"a", b"x" * 5000, b'["json"]']
    path = write(tmp_path / "r.tfrecord", datas)
    got = list(nbb.iter_tfrecords(path))
    assert [d for _, _, d in got] == datas
    assert [k for k, _, _ in got] == [0, 1, 2, 3]
    assert [o for _, o, _ in got] == [0, 16, 33, 5049]


@pytest.mark.skipif(CellSpec is None, reason="wsnas.spaces.nb101.graph not importable")
def test_arch_string_is_the_cellspec_json():
    for matrix, ops, _ in CELLS:
        n = len(ops)
        assert nbb.cell_json(flat(matrix), ops, n) == CellSpec.of(matrix, ops).to_json()


def _reaches(adj: str, n: int) -> bool:
    seen, todo = {0}, [0]
    while todo:
        u = todo.pop()
        for v in range(n):
            if adj[u * n + v] == "1" and v not in seen:
                seen.add(v)
                todo.append(v)
    return n - 1 in seen


def test_check_cell_reachability_agrees_with_a_search():
    rng = np.random.default_rng(0)
    checked = {True: 0, False: 0}
    for _ in range(3000):
        n = int(rng.integers(2, 8))
        m = np.triu(rng.random((n, n)) < 0.25, k=1).astype(int)
        adj = flat(m.tolist())
        if adj.count("1") > 9:
            continue
        ops = ",".join(["input", *[C3] * (n - 2), "output"])
        ok = _reaches(adj, n)
        checked[ok] += 1
        if ok:
            assert nbb.check_cell("0" * 32, adj, ops) == (n, ops.split(","))
        else:
            with pytest.raises(ValueError, match="output is not reachable from input"):
                nbb.check_cell("0" * 32, adj, ops)
    assert min(checked.values()) > 300


# -- reading --------------------------------------------------------------------------


def test_only108_test_accuracy(f108):
    b = nbb.read_nb101(f108, "test", "108")
    assert b.size == 4 and b.index.tolist() == [0, 1, 2, 3]
    assert b.arch.tolist() == [arch_of(c) for c in FIRST]  # order of first appearance
    assert b.canonical.tolist() == [module_hash(*CELLS[c][:2]) for c in FIRST]
    assert b.acc.tolist() == pytest.approx([expected(c, 108, "test") for c in FIRST], abs=1e-12)
    assert b.params.tolist() == pytest.approx([CELLS[c][2] / 1e6 for c in FIRST])
    assert np.isnan(b.flops).all()
    assert b.acc_of(arch_of(0)) == pytest.approx(expected(0, 108, "test"))
    assert b.acc_of(module_hash(*INCEPTION[:2])) == pytest.approx(expected(0, 108, "test"))
    meta = b.meta
    assert meta["n_records"] == 12 and meta["n_total"] == 4 and meta["n_missing"] == 0
    assert meta["repeat_counts"] == {"3": 4} and meta["epochs_in_file"] == [108]
    assert meta["reader"] == "nasbench-tfrecord" and meta["file"] == f108.name
    want_time = np.mean([np.mean([train_time(c, r, 108) for r in range(3)]) for c in range(4)])
    assert meta["train_time_s_mean"] == pytest.approx(want_time)
    assert b.best()["arch"] == arch_of(3)


def test_only108_valid_accuracy(f108):
    b = nbb.read_nb101(f108, "valid", "108")
    assert b.acc.tolist() == pytest.approx([expected(c, 108, "valid") for c in FIRST], abs=1e-12)
    assert "validation_accuracy" in b.meta["field"]


def test_summary_holds_training_time(f108):
    s = nbb.summarise_tfrecord(f108, "108")
    assert s.hashes == [module_hash(*CELLS[c][:2]) for c in FIRST]
    assert s.train_time.tolist() == pytest.approx(
        [np.mean([train_time(c, r, 108) for r in range(3)]) for c in FIRST]
    )
    assert s.repeats.tolist() == [3, 3, 3, 3]


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("test", "test"),
        ("test_accuracy", "test"),
        ("final_test_accuracy", "test"),
        (" TEST ", "test"),
        ("cifar10/test", "test"),
        ("valid", "valid"),
        ("validation_accuracy", "valid"),
        ("final_validation_accuracy", "valid"),
        ("val_accuracy", "valid"),
    ],
)
def test_metric_aliases(alias, name):
    assert nbb.normalize_metric(alias) == name
    assert get_space("nb101").loader.normalize_metric(alias) == name


def test_unknown_metric_is_refused_early():
    with pytest.raises(BenchmarkError, match=r"no metric 'tset'; metrics: test, valid.*did you mean 'test'"):
        nbb.normalize_metric("tset")
    with pytest.raises(BenchmarkError, match=r"no metric 'cifar10/ori-test'"):
        nbb.normalize_metric("cifar10/ori-test")


@pytest.mark.parametrize("schedule", ["4", "12", "36", "108"])
@pytest.mark.parametrize("metric", ["test", "valid"])
def test_full_file_every_schedule(ffull, schedule, metric):
    b = nbb.read_nb101(ffull, metric, schedule)
    e = int(schedule)
    first = [2, 0, 3, 1]  # cell 1 first appears among the 12-epoch records
    cells = [c for c in first if (c, e) != FULL_MISSING]
    assert b.arch.tolist() == [arch_of(c) for c in cells]
    assert b.acc.tolist() == pytest.approx([expected(c, e, metric) for c in cells], abs=1e-12)
    assert b.index.tolist() == [first.index(c) for c in cells]  # indices are shared by all budgets
    assert b.meta["epochs_in_file"] == [4, 12, 36, 108] and b.meta["n_records"] == 4 * 12 - 3
    assert b.meta["n_missing"] == (1 if e == 4 else 0)


def test_schedule_not_in_file(f108):
    with pytest.raises(BenchmarkError, match=r"no records for schedule 36 \(epochs in this file: 108\)") as e:
        nbb.read_nb101(f108, "test", "36")
    assert str(f108) in str(e.value)
    with pytest.raises(BenchmarkError, match=r"unknown schedule '200'; NAS-Bench-101 has 4, 12, 36, 108"):
        nbb.read_nb101(f108, "test", "200")


def test_streams_record_by_record(tmp_path, monkeypatch):
    """Many records through a 1 KiB buffer; no read asks for more than one record."""
    cells = [CELLS[k % 4] for k in range(4)]
    datas = [record(k % 4, r, 108, cells) for r in range(3) for k in range(4)]
    path = write(tmp_path / "big.tfrecord", datas * 40)  # same hashes repeated: 120 repeats each
    assert path.stat().st_size > 100 * 1024
    requests: list[int | None] = []
    real_open = open

    class Spy(io.BufferedReader):
        def read(self, size: int | None = -1) -> bytes:
            requests.append(size)
            return super().read(size)

    def spy_open(file, mode="r", buffering=-1, *args, **kwargs):
        assert mode == "rb"
        assert buffering <= 1024
        return Spy(real_open(file, "rb", buffering=0), buffer_size=buffering)

    monkeypatch.setattr(nbb, "READ_BUFFER", 1024)
    monkeypatch.setattr(nbb, "open", spy_open, raising=False)
    b = nbb.read_nb101(path, "test", "108")
    assert b.size == 4 and b.meta["n_records"] == 480 and b.meta["repeat_counts"] == {"120": 4}
    assert requests and all(r is not None and 0 <= r <= max(map(len, datas)) for r in requests)
    assert len(requests) == 3 * 480 + 1  # header, data, CRC per record, then the empty read at EOF


def test_real_params_sample(shared_data, tmp_path):
    """The 60 real cells of ../shared/data, pruned as the official file stores them."""
    sample = shared_data / "nb101" / "nb101_params_sample.json"
    if not sample.is_file():
        pytest.skip(f"real data absent: {sample}")
    cells, seen = [], set()
    for item in json.loads(sample.read_text()):
        p = prune(CellSpec.of(item["matrix"], item["ops"]))
        if p not in seen:  # several sample cells prune to the same recorded cell
            seen.add(p)
            cells.append(([list(r) for r in p.matrix], list(p.ops), int(item["trainable_parameters"])))
    path = write(
        tmp_path / "real.tfrecord", [record(c, r, 108, cells) for r in range(3) for c in range(len(cells))]
    )
    b = nbb.read_nb101(path, "test", "108")
    assert b.size == len(cells) > 40
    assert b.arch.tolist() == [CellSpec.of(m, o).to_json() for m, o, _ in cells]
    assert b.canonical.tolist() == [spec_hash(CellSpec.of(m, o)) for m, o, _ in cells]
    assert b.params.tolist() == pytest.approx([p / 1e6 for _, _, p in cells])


# -- errors ---------------------------------------------------------------------------


def good_records() -> list[bytes]:
    return [record(c, r, 108) for c, r in ORDER_108]


def offsets(datas: list[bytes]) -> list[int]:
    out, pos = [], 0
    for d in datas:
        out.append(pos)
        pos += 16 + len(d)
    return out


def _cut(datas: list[bytes], k: int, inside: int) -> bytes:
    """The file cut INSIDE bytes into record K's frame."""
    blob = b"".join(frame(d) for d in datas)
    return blob[: offsets(datas)[k] + inside]


def _flip(blob: bytes, pos: int) -> bytes:
    return blob[:pos] + bytes([blob[pos] ^ 0x01]) + blob[pos + 1 :]


D = good_records()
OFFS = offsets(D)
L2 = len(D[2])


@pytest.mark.parametrize(
    ("blob", "k", "message"),
    [
        (_cut(D, 2, 0) + b"\x01\x02\x03\x04\x05", 2, r"truncated in the length header \(5 of 12 bytes\)"),
        (_cut(D, 2, 10), 2, r"truncated in the length header \(10 of 12 bytes\)"),
        (_cut(D, 2, 12 + L2 // 2), 2, rf"truncated: {L2} bytes of data announced, {L2 // 2} left"),
        (_cut(D, 2, 12 + L2), 2, r"truncated in the data CRC \(0 of 4 bytes\)"),
        (_cut(D, 2, 12 + L2 + 2), 2, r"truncated in the data CRC \(2 of 4 bytes\)"),
        (_flip(b"".join(frame(d) for d in D), OFFS[1] + 9), 1, r"length CRC mismatch, corrupt header"),
        (_flip(b"".join(frame(d) for d in D), OFFS[1] + 3), 1, r"length CRC mismatch"),
        (_flip(b"".join(frame(d) for d in D), OFFS[1] + 40), 1, r"data CRC mismatch, corrupt record"),
        (_flip(b"".join(frame(d) for d in D), OFFS[2] - 1), 1, r"data CRC mismatch"),
        (b"hello, this is not a tfrecord file", 0, r"length CRC mismatch, corrupt header \(not a TFRecord"),
    ],
    ids=[
        "cut-header",
        "cut-header-crc",
        "cut-data",
        "cut-before-crc",
        "cut-data-crc",
        "bad-length-crc",
        "bad-length",
        "bad-data",
        "bad-data-crc",
        "not-tfrecord",
    ],
)
def test_framing_errors(tmp_path, blob, k, message):
    path = tmp_path / "bad.tfrecord"
    path.write_bytes(blob)
    with pytest.raises(BenchmarkError, match=message) as e:
        nbb.read_nb101(path, "test", "108")
    text = str(e.value)
    offset = OFFS[k] if k < len(OFFS) else 0
    assert text.startswith(f"{path}: record {k} (0-based, byte offset {offset}): "), text


def _json_record(fields: list) -> bytes:
    return json.dumps(fields).encode()


NEW_HASH = "0123456789abcdef" * 2


def _fields() -> list:
    """Inception's record under a hash not seen before, so the cell checks run on it."""
    f = json.loads(record(0, 0, 108))
    f[0] = NEW_HASH
    return f


def _with(i: int, value) -> bytes:
    f = _fields()
    f[i] = value
    return _json_record(f)


def _metrics_with(test: float | None = 0.9, params: int | None = 5, evals: bool = True) -> str:
    e = (
        [eval_bytes(108.0, 1.0, 0.99, 0.9, test)]
        if test is not None
        else [bytes([(1 << 3) | 1]) + struct.pack("<d", 108.0)]
    )
    return base64.b64encode(metrics_bytes(e if evals else [], params, 1.0)).decode()


INCEPTION_ADJ = flat(INCEPTION[0])
INCEPTION_OPS = ",".join(INCEPTION[1])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b'["abc", 108, ', r"not a JSON record \(Expecting value"),
        (b"\xff\xfe garbage", r"not a JSON record"),
        (
            _json_record([1, 2]),
            r"expected a JSON list \[module_hash, epochs, adjacency, operations, metrics\], got list",
        ),
        (_json_record({"hash": 1}), r"got dict"),
        (_with(4, "@@not base64@@"), r"metrics are not valid base64"),
        (_with(4, "QUJD"), r"metrics are not a ModelMetrics protobuf"),  # b"ABC": truncated field
        (_with(4, 17), r"metrics are not valid base64"),
        (_with(4, _metrics_with(evals=False)), r"ModelMetrics has no evaluation_data"),
        (_with(4, _metrics_with(test=None)), r"final evaluation_data entry lacks test_accuracy"),
        (_with(4, _metrics_with(test=93.2)), r"test_accuracy = 93.2 is not a fraction in \[0, 1\]"),
        (_with(0, "not-a-hash"), r"module hash 'not-a-hash' is not 32 lowercase hex digits"),
        (_with(0, "A" * 32), r"module hash 'A{32}' is not 32 lowercase hex digits"),
        (_with(0, None), r"module hash None is not 32"),
        (_with(1, "108"), r"epochs '108' is not a positive integer"),
        (_with(1, 0), r"epochs 0 is not a positive integer"),
        (_with(2, INCEPTION_ADJ[:-1]), r"has 48 chars, not n\*n for n in 2..7"),
        (_with(2, "0" * 64), r"has 64 chars, not n\*n"),
        (_with(2, INCEPTION_ADJ.replace("1", "2", 1)), r"holds characters other than 0 and 1"),
        (_with(2, "1" + INCEPTION_ADJ[1:]), r"is not strictly upper-triangular"),
        (_with(2, "0" * 7 + "1" + INCEPTION_ADJ[8:]), r"is not strictly upper-triangular"),
        (_with(2, "0111111" + "0011111" + "0001111" + "0" * 28), r"has 15 edges \(at most 9\)"),
        (_with(2, "0" * 49), r"output is not reachable from input"),
        (_with(2, 12), r"adjacency and operations must be strings"),
        (_with(3, INCEPTION_OPS.rsplit(",", 1)[0]), r"6 operations .* for a 7x7 matrix"),
        (_with(3, INCEPTION_OPS.replace("output", "input")), r"must start with input and end with output"),
        (
            _with(3, INCEPTION_OPS.replace(MP, "maxpool3x4")),
            r"unknown operation 'maxpool3x4'.*did you mean 'maxpool3x3'",
        ),
        (_with(4, _metrics_with(params=None)), r"ModelMetrics lacks trainable_parameters"),
    ],
)
def test_record_errors(tmp_path, bad, message):
    """Record 3 (0-based) is bad; the first three are fine."""
    datas = [*good_records()[:3], bad, *good_records()[3:]]
    path = write(tmp_path / "bad.tfrecord", datas)
    with pytest.raises(BenchmarkError, match=message) as e:
        nbb.read_nb101(path, "test", "108")
    assert str(e.value).startswith(f"{path}: record 3 (0-based, byte offset {offsets(datas)[3]}): ")


def test_repeat_with_another_cell(tmp_path):
    f = json.loads(record(0, 1, 108))
    f[3] = f[3].replace(C3, C1)
    datas = [*good_records(), json.dumps(f).encode()]
    path = write(tmp_path / "bad.tfrecord", datas)
    with pytest.raises(BenchmarkError, match=r"record 12 .*: hash [0-9a-f]{32} recorded with another cell"):
        nbb.read_nb101(path, "test", "108")


def test_empty_file_and_folder(tmp_path):
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    with pytest.raises(BenchmarkError, match=rf"{empty}: no records \(empty file\)"):
        nbb.read_nb101(empty, "test", "108")
    with pytest.raises(BenchmarkError, match=rf"{tmp_path}: is a folder"):
        nbb.read_nb101(tmp_path, "test", "108")


# -- through the cache and the CLI -----------------------------------------------------


def test_failed_import_leaves_no_cache(tmp_path):
    path = tmp_path / "cut.tfrecord"
    path.write_bytes(_cut(D, 11, 30))
    cache = tmp_path / "cache"
    with pytest.raises(BenchmarkError, match=rf"{path}: record 11 .*truncated"):
        import_benchmark(get_space("nb101"), path, cache_dir=cache)
    assert not cache.exists() or not any(cache.rglob("*"))


def test_open_benchmark_defaults_and_aliases(tmp_path, f108):
    cache = tmp_path / "cache"
    b = open_benchmark(get_space("nb101"), f108, cache_dir=cache)  # the space's defaults: test, 108
    assert (b.space, b.metric, b.schedule) == ("nb101", "test", "108")
    assert cache_path("nb101", "test", "108", cache).is_file()
    same = open_benchmark(get_space("nb101"), metric="test_accuracy", schedule="108", cache_dir=cache)
    assert same.acc.tolist() == b.acc.tolist() and same.arch.tolist() == b.arch.tolist()
    assert len(list(cache.rglob("*.npz"))) == 1
    v = open_benchmark(get_space("nb101"), f108, metric="valid", schedule=108, cache_dir=cache)
    assert v.acc.tolist() == pytest.approx([expected(c, 108, "valid") for c in FIRST])
    loaded = Benchmark.load(cache_path("nb101", "valid", "108", cache))
    assert loaded.meta["repeat_counts"] == {"3": 4} and loaded.params.tolist() == v.params.tolist()


def test_loader_defaults():
    nb101 = get_space("nb101").loader
    assert (nb101.default_metric, nb101.default_schedule) == ("test", "108")
    assert (get_space("nb201").loader.default_metric, get_space("nb201").loader.default_schedule) == (
        "cifar10/ori-test",
        "200",
    )


def test_cli_import_and_info(tmp_path, ffull, capsys):
    cache = str(tmp_path / "cache")
    assert main(["bench", "import", "nb101", str(ffull), "--cache-dir", cache, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["rows"] == 4 and rec["metric"] == "test" and rec["schedule"] == "108"
    assert rec["best_arch"] == arch_of(3) and rec["best_acc"] == round(expected(3, 108, "test"), 4)
    assert rec["cache"].endswith("nb101/test__108.npz")
    argv = ["bench", "import", "nb101", str(ffull), "--metric", "validation_accuracy", "--schedule", "4"]
    assert main([*argv, "--cache-dir", cache, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["rows"] == 3 and rec["missing"] == 1 and rec["metric"] == "valid"
    assert main(["bench", "info", "nb101", "--cache-dir", cache, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["size"] == 4 and info["unique"] == 4 and info["source_status"] == "valid"
    assert info["source"] == str(ffull.resolve()) and info["metric"] == "test" and info["schedule"] == "108"
    assert main(["bench", "info", "nb101", "--metric", "valid", "--schedule", "4", "--cache-dir", cache]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["bench", "info", "nb101", "--schedule", "36", "--cache-dir", cache]) == 2
    assert "wsnas bench import nb101 SOURCE --metric test --schedule 36" in capsys.readouterr().err
    assert main(["bench", "import", "nb101", str(ffull), "--metric", "tset", "--cache-dir", cache]) == 2
    assert "did you mean 'test'" in capsys.readouterr().err
