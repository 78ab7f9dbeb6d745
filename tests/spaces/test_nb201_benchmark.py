"""NAS-Bench-201 ground-truth readers on files written here in the official layouts,
and on the real CSV / NATS sample in ../shared/data."""

from __future__ import annotations

import bz2
import contextlib
import csv
import io
import json
import os
import pickle
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import wsnas.spaces.nb201.benchmark as nbb
from wsnas.cli.main import main
from wsnas.core.errors import BenchmarkError
from wsnas.groundtruth import Benchmark, cache_path, import_benchmark, open_benchmark, unpickle
from wsnas.spaces import get_space
from wsnas.spaces.nb201 import gt_nats, gt_pth
from wsnas.spaces.nb201.arch import canonical_id, format_arch, index_to_arch, parse_arch

ARCHS = [format_arch(index_to_arch(k)) for k in (0, 1, 7, 100, 3125, 15624)]
"""meta_archs of the fake benchmarks (any order: the index is the position here)."""
EVALS_V11 = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("ori-test", "x-valid", "x-test"),
    "ImageNet16-120": ("ori-test", "x-valid", "x-test"),
}
EVALS_V10 = {**EVALS_V11, "cifar10-valid": ("x-valid",)}
DS_OFF = {"cifar10-valid": 0.0, "cifar10": 1.0, "cifar100": -20.0, "ImageNet16-120": -40.0}
EV_OFF = {"x-valid": 0.25, "ori-test": 0.0, "x-test": -0.5}


def final_acc(i: int, ds: str, ev: str, seed: int, epochs: int) -> float:
    return 60.0 + 3 * i + DS_OFF[ds] + EV_OFF[ev] + (seed % 7) * 0.1 + (epochs == 200) * 10


def params_of(i: int, ds: str) -> float:
    return 0.1 + 0.01 * i + (0.005 if ds in ("cifar100", "ImageNet16-120") else 0.0)


def result(i: int, ds: str, seed: int, epochs: int, evals) -> dict:
    """A ResultsCount state dict, numpy scalars where the official files have them."""
    acc = {
        f"{ev}@{e}": final_acc(i, ds, ev, seed, epochs) - (epochs - 1 - e) * 0.5
        for ev in evals
        for e in range(epochs)
    }
    return {
        "name": ds,
        "net_state_dict": None,
        "train_acc1es": {e: 10.0 + e for e in range(epochs)},
        "train_acc5es": None,
        "train_losses": {e: 1.0 / (e + 1) for e in range(epochs)},
        "train_times": OrderedDict((e, 1.5) for e in range(epochs)),
        "arch_config": {"channel": 16, "num_cells": 5, "arch_str": ARCHS[i], "class_num": 10},
        "params": np.float64(params_of(i, ds)),
        "flop": 10.0 + i,
        "seed": f"{seed:04d}",
        "epochs": epochs,
        "latency": [np.float64(0.01)],
        "eval_names": list(evals),
        "eval_acc1es": acc,
        "eval_times": {k: 0.5 for k in acc},
        "eval_losses": {k: 1.0 for k in acc},
    }


def arch_results(i: int, epochs: int, seeds: dict[str, list[int]], evals: dict) -> dict:
    """An ArchResults state dict."""
    return {
        "arch_index": i,
        "arch_str": ARCHS[i],
        "all_results": {(ds, s): result(i, ds, s, epochs, evals[ds]) for ds, ss in seeds.items() for s in ss},
        "dataset_seed": {ds: list(ss) for ds, ss in seeds.items()},
        "clear_net_done": True,
    }


def expected(i: int, metric: str, seeds: list[int], epochs: int = 200) -> float:
    ds, ev = metric.split("/")
    return float(np.mean([final_acc(i, ds, ev, s, epochs) for s in seeds]))


# v1.0: 1-3 seeds per cell, 12-epoch ('less') results for cifar10-valid only.
V10_SEEDS = {i: [777, 888, 999][: 1 + i % 3] for i in range(len(ARCHS))}
V10_MISSING = 4


def v10_dict() -> dict:
    infos = {}
    for i in range(len(ARCHS)):
        if i == V10_MISSING:
            continue
        full = {ds: V10_SEEDS[i] for ds in EVALS_V10}
        infos[i] = {
            "less": arch_results(i, 12, {"cifar10-valid": [777]}, EVALS_V10),
            "full": arch_results(i, 200, full, EVALS_V10),
        }
    return {
        "meta_archs": list(ARCHS),
        "total_archs": len(ARCHS),
        "evaluated_indexes": set(infos),
        "arch2infos": infos,
    }


V11_MISSING = 2
V11_LESS = {"cifar10-valid": [111, 777], "cifar10": [111], "cifar100": [111], "ImageNet16-120": [111]}


def v11_dict() -> dict:
    infos = {}
    for i in range(len(ARCHS)):
        if i == V11_MISSING:
            continue
        full = {ds: [777, 888, 999] for ds in EVALS_V11}
        infos[i] = {
            "less": arch_results(i, 12, V11_LESS, EVALS_V11),
            "full": arch_results(i, 200, full, EVALS_V11),
        }
    return {
        "meta_archs": list(ARCHS),
        "total_archs": len(ARCHS),
        "evaluated_indexes": set(infos),
        "arch2infos": infos,
    }


def _scalar():
    return unpickle.numpy_scalar()


class _Numpy1Pickler(pickle._Pickler):
    """Writes numpy scalars under numpy 1.x's global name, as the 2020 files do."""

    def save_global(self, obj, name=None):
        if obj is _scalar():
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\nscalar\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


NUMPY1_PICKLE = types.SimpleNamespace(
    Pickler=_Numpy1Pickler, dump=pickle.dump, load=pickle.load, __name__="numpy1_pickle"
)


def save_pth(obj, path: Path, legacy: bool = False, numpy1: bool = False) -> Path:
    import torch

    kwargs = {"pickle_module": NUMPY1_PICKLE} if numpy1 else {}
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy, **kwargs)
    return path


@pytest.fixture(scope="module")
def pth_v10(tmp_path_factory) -> Path:
    """Legacy (pre-zip) torch format and numpy-1 names, like the 2020 release."""
    d = tmp_path_factory.mktemp("v10")
    return save_pth(v10_dict(), d / "NAS-Bench-201-v1_0-e61699.pth", legacy=True, numpy1=True)


@pytest.fixture(scope="module")
def pth_v11(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("v11")
    return save_pth(v11_dict(), d / "NAS-Bench-201-v1_1-096897.pth")


def write_pbz2(obj, path: Path, protocol: int = 4) -> Path:
    path.write_bytes(bz2.compress(pickle.dumps(obj, protocol=protocol)))
    return path


NATS_RECORDS = (0, 1, 3, 5)
NATS_LESS = V11_LESS
NATS_FULL = {ds: [777, 888, 999] for ds in EVALS_V11}


def nats_record(i: int) -> OrderedDict:
    return OrderedDict(
        [
            ("12", arch_results(i, 12, NATS_LESS, EVALS_V11)),
            ("200", arch_results(i, 200, NATS_FULL, EVALS_V11)),
        ]
    )


def make_nats(folder: Path, records=NATS_RECORDS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    meta = {
        "meta_archs": list(ARCHS),
        "total_archs": len(ARCHS),
        "arch2infos": None,
        "evaluated_indexes": set(),
    }
    write_pbz2(meta, folder / "meta.pickle.pbz2")
    for i in records:
        write_pbz2(nats_record(i), folder / f"{i:06d}.pickle.pbz2", protocol=2)
    return folder


@pytest.fixture
def nats(tmp_path) -> Path:
    return make_nats(tmp_path / "NATS-tss-v1_0-3ffb9-simple")


def rows(b: Benchmark) -> dict[int, float]:
    return {int(i): float(a) for i, a in zip(b.index, b.acc, strict=True)}


METRICS = [f"{ds}/{ev}" for ds, evs in EVALS_V11.items() for ev in evs]


# -- .pth --------------------------------------------------------------------------


@pytest.mark.parametrize("metric", [m for m in METRICS if m != "cifar10-valid/ori-test"])
def test_pth_v10_full_schedule(pth_v10, metric):
    b = nbb.read_nb201(pth_v10, metric, "200")
    want = {i: expected(i, metric, V10_SEEDS[i]) for i in range(len(ARCHS)) if i != V10_MISSING}
    assert rows(b) == pytest.approx(want, abs=1e-9)
    assert b.index.tolist() == sorted(want)  # official order
    assert b.meta["n_missing"] == 1 and b.meta["n_total"] == len(ARCHS)
    assert b.meta["seed_counts"] == {"1": 2, "2": 1, "3": 2}
    ds = metric.split("/")[0]
    assert b.params.tolist() == pytest.approx([params_of(i, ds) for i in sorted(want)])
    assert b.flops.tolist() == [10.0 + i for i in sorted(want)]
    for i, a, c in zip(b.index, b.arch, b.canonical, strict=True):
        assert a == ARCHS[i] and c == canonical_id(parse_arch(ARCHS[i]))


def test_pth_v10_lacks_what_v10_lacks(pth_v10):
    with pytest.raises(BenchmarkError, match=r"unknown metric 'cifar10-valid/ori-test'.*x-valid") as e:
        nbb.read_nb201(pth_v10, "cifar10-valid/ori-test", "200")
    assert str(pth_v10) in str(e.value)
    with pytest.raises(
        BenchmarkError, match=r"unknown dataset 'cifar10' for schedule 12; datasets: cifar10-valid"
    ):
        nbb.read_nb201(pth_v10, "cifar10/ori-test", "12")
    b = nbb.read_nb201(pth_v10, "cifar10-valid/x-valid", "12")
    assert rows(b) == pytest.approx({i: expected(i, "cifar10-valid/x-valid", [777], 12) for i in rows(b)})


@pytest.mark.parametrize("schedule", ["200", "12"])
@pytest.mark.parametrize("metric", METRICS)
def test_pth_v11_every_metric_and_schedule(pth_v11, metric, schedule):
    b = nbb.read_nb201(pth_v11, metric, schedule)
    epochs = int(schedule)
    seeds = [777, 888, 999] if schedule == "200" else V11_LESS[metric.split("/")[0]]
    want = {i: expected(i, metric, seeds, epochs) for i in range(len(ARCHS)) if i != V11_MISSING}
    assert rows(b) == pytest.approx(want, abs=1e-9)
    assert b.meta["reader"] == "nas-bench-201-pth" and b.meta["n_missing"] == 1


def test_pth_gt_for_the_paper_is_cifar10_ori_test_at_epoch_199(pth_v11):
    b = nbb.read_nb201(pth_v11, nbb.normalize_metric("cifar10_test"), "200")
    assert b.acc_of(ARCHS[5]) == pytest.approx(60 + 15 + 1 + 10 + np.mean([777 % 7, 888 % 7, 999 % 7]) * 0.1)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([1, 2, 3], "holds a list, not a NAS-Bench-201 benchmark dict"),
        ({"foo": 1, "bar": 2}, r"missing keys meta_archs, arch2infos; found: bar, foo"),
        (
            {"meta_archs": ["8:16:32:64:64"], "arch2infos": {}, "evaluated_indexes": set()},
            r"not a NAS-Bench-201 topology benchmark \(meta_archs\[0\] = '8:16:32:64:64'\)",
        ),
        ({"meta_archs": ARCHS, "arch2infos": [1], "evaluated_indexes": []}, "arch2infos is a list"),
        (
            {"meta_archs": ARCHS, "arch2infos": {0: {"full": {"x": 1}}}, "evaluated_indexes": []},
            r"cell 0: not an ArchResults record",
        ),
        (
            {"meta_archs": ARCHS, "arch2infos": {9: {}}, "evaluated_indexes": []},
            r"cell index 9 outside meta_archs",
        ),
    ],
)
def test_pth_of_another_kind(tmp_path, obj, message):
    path = save_pth(obj, tmp_path / "other.pth")
    with pytest.raises(BenchmarkError, match=message) as e:
        nbb.read_nb201(path, "cifar10/ori-test", "200")
    assert str(path) in str(e.value)


def test_pth_record_that_contradicts_meta_archs(tmp_path):
    d = v11_dict()
    d["arch2infos"][1]["full"]["arch_str"] = ARCHS[0]
    path = save_pth(d, tmp_path / "x.pth")
    with pytest.raises(BenchmarkError, match=r"cell 1: record arch .* differs from meta_archs\[1\]"):
        nbb.read_nb201(path, "cifar10/ori-test", "200")


class Evil:
    def __reduce__(self):
        return (os.mkdir, (str(Path(os.environ.get("WSNAS_EVIL_DIR", "/nonexistent")) / "pwned"),))


class EvilShell:
    def __reduce__(self):
        return (os.system, (f"touch {Path(os.environ.get('WSNAS_EVIL_DIR', '/nonexistent')) / 'pwned'}",))


@pytest.mark.parametrize("force_weights_only", [False, True])
@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize(("payload", "qualname"), [(Evil, "posix.mkdir"), (EvilShell, "posix.system")])
def test_pth_with_arbitrary_globals_is_refused(
    tmp_path, monkeypatch, payload, qualname, legacy, force_weights_only
):
    monkeypatch.setenv("WSNAS_EVIL_DIR", str(tmp_path))
    d = v11_dict()
    d["arch2infos"][1]["full"]["extra"] = payload()  # deep inside, after many allowed objects
    path = save_pth(d, tmp_path / "evil.pth", legacy=legacy)
    if force_weights_only:  # torch then refuses a pickle_module: torch's own unpickler is used
        monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
    with pytest.raises(BenchmarkError, match=rf"outside the allowlist \({qualname}\)") as e:
        nbb.read_nb201(path, "cifar10/ori-test", "200")
    assert str(path) in str(e.value)
    assert not (tmp_path / "pwned").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.pth"]


def test_restricted_pickle_module_is_what_torch_load_needs():
    mod = unpickle.RESTRICTED_PICKLE
    assert mod.__name__ and issubclass(mod.Unpickler, pickle.Unpickler)
    assert mod.loads(pickle.dumps({"a": [1, 2.5], "s": {3}}, protocol=2)) == {"a": [1, 2.5], "s": {3}}
    assert mod.load(io.BytesIO(pickle.dumps(OrderedDict(x=np.float64(1.5))))) == OrderedDict(x=1.5)
    with pytest.raises(pickle.UnpicklingError, match="refused global posix.mkdir"):
        mod.loads(pickle.dumps(Evil()))
    # several pickles in one stream (the legacy torch format): each load stops at its own end
    big = {f"k{i}": float(i) for i in range(50_000)}  # well past the unpickler's 128 KiB read-ahead
    stream = io.BytesIO(pickle.dumps(big, protocol=2) + pickle.dumps([7], protocol=2) + b"tail")
    assert mod.load(stream) == big and mod.load(stream) == [7] and stream.read() == b"tail"


@pytest.mark.parametrize("legacy", [False, True])
def test_torch_load_of_a_buffer_through_the_restricted_module(tmp_path, legacy):
    """torch.load on a BytesIO (no peek, read by the legacy format with several load() calls)."""
    import torch

    want = {"t": torch.arange(3.0), "x": np.float64(2.5), "big": list(range(100_000))}
    raw = save_pth(want, tmp_path / "b.pth", legacy=legacy).read_bytes()
    got = torch.load(io.BytesIO(raw), weights_only=False, pickle_module=unpickle.RESTRICTED_PICKLE)
    assert torch.equal(got["t"], want["t"]) and got["x"] == 2.5 and got["big"] == want["big"]


def test_restricted_pickle_cannot_alter_an_allowed_function():
    """BUILD on an allowlisted function would set its __defaults__ process-wide; it gets a copy."""
    import torch

    fn = torch._utils._rebuild_tensor_v2
    before = fn.__defaults__
    raw = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nN}X\x0c\x00\x00\x00__defaults__K\x07\x85s\x86b."
    with contextlib.suppress(TypeError):  # the copy may refuse the state, or keep it to itself
        unpickle.RESTRICTED_PICKLE.loads(raw)
    assert torch._utils._rebuild_tensor_v2 is fn and fn.__defaults__ == before


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_torchscript_archive_is_refused_without_running_it(tmp_path, monkeypatch):
    import torch

    class Tiny(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + 1

    path = tmp_path / "script.pth"
    torch.jit.save(torch.jit.script(Tiny()), str(path))
    called = []
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: called.append(a))
    with pytest.raises(BenchmarkError, match=r"script.pth: a TorchScript archive"):
        nbb.read_nb201(path, "cifar10/ori-test", "200")
    assert called == []


def values_of_every_allowed_kind() -> dict:
    import torch

    return {
        "f64": np.float64(1.25),
        "f32": np.float32(2.5),
        "i64": np.int64(-3),
        "b": np.bool_(True),
        "arr": np.arange(6.0).reshape(2, 3),
        "iarr": np.array([1, 2], dtype=np.int32),
        "t": torch.arange(4, dtype=torch.float64),
        "t0": torch.tensor(0.5),
        "param": torch.nn.Parameter(torch.ones(2)),
        "size": torch.Size([2, 3]),
        "dtype": torch.float16,
        "od": OrderedDict([("z", 1), ("a", 2)]),
        "set": {1, 2},
        "fs": frozenset({"x"}),
        "bytes": b"\x00\xff",
        "ba": bytearray(b"ab"),
        "cx": 1 + 2j,
        "tuple_key": {("cifar10", 777): None},
    }


@pytest.mark.parametrize(("legacy", "numpy1"), [(False, False), (True, False), (True, True), (False, True)])
def test_torch_file_values_round_trip(tmp_path, legacy, numpy1):
    import torch

    want = values_of_every_allowed_kind()
    got = gt_pth.load_pth(save_pth(want, tmp_path / "v.pth", legacy=legacy, numpy1=numpy1))
    assert got.keys() == want.keys()
    for k in ("f64", "f32", "i64", "b"):
        assert type(got[k]) is type(want[k]) and got[k] == want[k], k
    for k in ("arr", "iarr"):
        assert got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]), k
    for k in ("t", "t0", "param"):
        assert got[k].dtype == want[k].dtype and torch.equal(got[k], want[k]), k
    assert isinstance(got["param"], torch.nn.Parameter)
    assert isinstance(got["od"], OrderedDict) and list(got["od"]) == ["z", "a"]
    for k in ("size", "dtype", "set", "fs", "bytes", "ba", "cx", "tuple_key"):
        assert got[k] == want[k] and type(got[k]) is type(want[k]), k


@pytest.mark.parametrize("legacy", [False, True])
def test_pth_with_numpy_and_tensor_values(tmp_path, legacy):
    import torch

    d = v11_dict()
    res = d["arch2infos"][3]["full"]["all_results"]
    for s in (777, 888, 999):
        res[("cifar10", s)]["params"] = torch.tensor(params_of(3, "cifar10"), dtype=torch.float64)
        acc = res[("cifar10", s)]["eval_acc1es"]
        acc["ori-test@199"] = np.float64(acc["ori-test@199"])
        res[("cifar10", s)]["latency"] = np.array([0.01, 0.02])
    path = save_pth(d, tmp_path / "x.pth", legacy=legacy, numpy1=legacy)
    b = nbb.read_nb201(path, "cifar10/ori-test", "200")
    want = {
        i: expected(i, "cifar10/ori-test", [777, 888, 999]) for i in range(len(ARCHS)) if i != V11_MISSING
    }
    assert rows(b) == pytest.approx(want, abs=1e-9)
    assert b.params[b.index.tolist().index(3)] == pytest.approx(params_of(3, "cifar10"))


def test_forced_weights_only_still_reads(pth_v10, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
    b = nbb.read_nb201(pth_v10, "cifar100/x-test", "200")
    want = {i: expected(i, "cifar100/x-test", V10_SEEDS[i]) for i in range(len(ARCHS)) if i != V10_MISSING}
    assert rows(b) == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("legacy", [False, True])
def test_truncated_pth(tmp_path, pth_v11, legacy):
    src = save_pth(v11_dict(), tmp_path / "full.pth", legacy=legacy)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size * 2 // 3])
    with pytest.raises(BenchmarkError, match="truncated or corrupt") as e:
        nbb.read_nb201(cut, "cifar10/ori-test", "200")
    assert str(cut) in str(e.value)


# -- NATS-Bench -----------------------------------------------------------------------


@pytest.mark.parametrize("schedule", ["200", "12"])
@pytest.mark.parametrize("metric", METRICS)
def test_nats_folder(nats, metric, schedule):
    b = nbb.read_nb201(nats, metric, schedule)
    seeds = (NATS_FULL if schedule == "200" else NATS_LESS)[metric.split("/")[0]]
    want = {i: expected(i, metric, seeds, int(schedule)) for i in NATS_RECORDS}
    assert rows(b) == pytest.approx(want, abs=1e-9)
    assert b.meta["n_missing"] == len(ARCHS) - len(NATS_RECORDS)
    assert b.meta["n_records"] == len(NATS_RECORDS) and b.meta["reader"] == "nats-tss-simple"
    assert isinstance(b.params[0], np.float64) and b.params[0] == pytest.approx(
        params_of(0, metric.split("/")[0])
    )


def test_nats_parallel_equals_serial(nats, monkeypatch):
    serial = nbb.read_nats_folder(nats, "cifar100/x-test", "200", workers=1)
    monkeypatch.setattr(gt_nats, "PARALLEL_MIN_RECORDS", 1)
    parallel = nbb.read_nats_folder(nats, "cifar100/x-test", "200", workers=2)
    assert rows(parallel) == rows(serial)


def test_nats_single_file(tmp_path):
    data = {
        "meta_archs": list(ARCHS),
        "total_archs": len(ARCHS),
        "arch2infos": {i: nats_record(i) for i in NATS_RECORDS},
        "evaluated_indexes": set(NATS_RECORDS),
    }
    path = write_pbz2(data, tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2")
    b = nbb.read_nb201(path, "cifar10/ori-test", "200")
    assert rows(b) == pytest.approx(
        {i: expected(i, "cifar10/ori-test", [777, 888, 999]) for i in NATS_RECORDS}
    )
    assert b.meta["reader"] == "nats-tss-file"


def test_nats_errors_name_the_file(tmp_path, nats):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BenchmarkError, match=r"not a NATS-Bench 'simple' folder \(no meta.pickle.pbz2\)"):
        nbb.read_nb201(empty, "cifar10/ori-test", "200")
    rec = nats / "000003.pickle.pbz2"
    good = rec.read_bytes()
    rec.write_bytes(good[: len(good) // 2])
    with pytest.raises(BenchmarkError, match=rf"{rec}: not a valid bz2 file or truncated"):
        nbb.read_nb201(nats, "cifar10/ori-test", "200")
    rec.write_bytes(bz2.compress(pickle.dumps(nats_record(3))[:-200]))
    with pytest.raises(BenchmarkError, match=rf"{rec}: corrupt pickle"):
        nbb.read_nb201(nats, "cifar10/ori-test", "200")
    write_pbz2([1, 2], rec)
    with pytest.raises(BenchmarkError, match=rf"{rec}: expected a dict of schedules, got list"):
        nbb.read_nb201(nats, "cifar10/ori-test", "200")
    r = nats_record(3)
    r["200"]["arch_index"] = 4
    write_pbz2(r, rec)
    with pytest.raises(BenchmarkError, match=rf"{rec}: record says arch_index 4"):
        nbb.read_nb201(nats, "cifar10/ori-test", "200")


def test_nats_refuses_arbitrary_globals(tmp_path, nats, monkeypatch):
    monkeypatch.setenv("WSNAS_EVIL_DIR", str(tmp_path))
    r = nats_record(3)
    r["200"]["extra"] = Evil()
    rec = write_pbz2(r, nats / "000003.pickle.pbz2")
    with pytest.raises(BenchmarkError, match=rf"{rec}: refused global posix.mkdir"):
        nbb.read_nb201(nats, "cifar10/ori-test", "200")
    assert not (tmp_path / "pwned").exists()
    meta = nats / "meta.pickle.pbz2"
    write_pbz2({"meta_archs": ARCHS, "x": Evil()}, meta)
    with pytest.raises(BenchmarkError, match=rf"{meta}: refused global"):
        nbb.read_nb201(nats, "cifar10/ori-test", "200")


def test_nats_record_with_a_bad_accuracy(tmp_path):
    folder = make_nats(tmp_path / "n", records=(0,))
    r = nats_record(0)
    r["200"]["all_results"][("cifar10", 888)]["eval_acc1es"]["ori-test@199"] = "n/a"
    rec = write_pbz2(r, folder / "000000.pickle.pbz2")
    with pytest.raises(BenchmarkError, match=rf"{rec}: \('cifar10', 888\) ori-test@199 = 'n/a' is not"):
        nbb.read_nb201(folder, "cifar10/ori-test", "200")


def test_nats_results_of_the_wrong_length(tmp_path):
    folder = make_nats(tmp_path / "n", records=(0,))
    r = nats_record(0)
    r["200"] = arch_results(0, 12, NATS_FULL, EVALS_V11)  # a 12-epoch run filed as 200
    write_pbz2(r, folder / "000000.pickle.pbz2")
    with pytest.raises(BenchmarkError, match=r"ran 12 epochs, expected 200"):
        nbb.read_nb201(folder, "cifar10/ori-test", "200")


def test_unknown_schedule_and_metric_shape(nats):
    with pytest.raises(BenchmarkError, match=r"unknown schedule '13'; NAS-Bench-201 has 12, 200"):
        nbb.read_nb201(nats, "cifar10/ori-test", "13")
    with pytest.raises(BenchmarkError, match=r"must be 'dataset/eval-name'"):
        nbb.read_nb201(nats, "cifar10", "200")


def test_metric_names():
    n = nbb.normalize_metric
    assert n("cifar10_test") == "cifar10/ori-test"
    assert n("cifar100_test") == "cifar100/x-test"
    assert n("imagenet16_120_test") == "ImageNet16-120/x-test"
    assert n("cifar10_valid_xvalid") == "cifar10-valid/x-valid"
    assert n("cifar10_valid_xtest") == "cifar10-valid/ori-test"
    assert n("imagenet16-120/x-valid") == "ImageNet16-120/x-valid"
    assert n("cifar10/test") == "cifar10/ori-test" and n("cifar10/valid") == "cifar10-valid/x-valid"
    assert n("my_column") == "my_column"


# -- CSV ------------------------------------------------------------------------------

HEADER = ["index", "arch_str", "cifar10_test", "cifar100_test", "params", "flops"]


def write_csv(path: Path, rows_, header=HEADER) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows_)
    path.write_text(buf.getvalue())
    return path


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    return write_csv(
        tmp_path / "gt.csv",
        [
            [2, ARCHS[2], "91.5", "70.25", "0.5", "80.0"],
            [0, ARCHS[0], "85.25", "60", "0.1", "15.6"],
            [1, ARCHS[1], "", "61", "0.2", ""],
            [3, ARCHS[3], "93", "nan", "0.3", "20"],
        ],
    )


def test_csv(tiny_csv):
    b = nbb.read_nb201(tiny_csv, "cifar10/ori-test", "200")
    assert b.index.tolist() == [0, 2, 3] and b.acc.tolist() == [85.25, 91.5, 93.0]
    assert b.meta["n_missing"] == 1 and b.meta["n_total"] == 4 and b.meta["column"] == "cifar10_test"
    assert b.params.tolist() == [0.1, 0.5, 0.3] and b.flops.tolist() == [15.6, 80.0, 20.0]
    assert b.best()["arch"] == ARCHS[3]
    raw = nbb.read_nb201(tiny_csv, "cifar100_test", "200")  # a raw column name works too
    assert raw.index.tolist() == [0, 1, 2] and raw.acc.tolist() == [60.0, 61.0, 70.25]
    assert raw.flops[1] != raw.flops[1]  # empty -> NaN


@pytest.mark.parametrize(
    ("rows_", "header", "message"),
    [
        (
            [[0, ARCHS[0], "x1"]],
            ["index", "arch_str", "cifar10_test"],
            r"line 2: column 'cifar10_test': 'x1' is not a number",
        ),
        (
            [[0, ARCHS[0], "1"], [1, "|bad~0|", "2"]],
            ["index", "arch_str", "cifar10_test"],
            r"line 3: NB201 arch '\|bad~0\|'",
        ),
        (
            [["zero", ARCHS[0], "1"]],
            ["index", "arch_str", "cifar10_test"],
            r"line 2: index 'zero' is not an integer",
        ),
        (
            [[0, ARCHS[0], "1"], [0, ARCHS[1], "1"]],
            ["index", "arch_str", "cifar10_test"],
            r"line 3: duplicate",
        ),
        ([[0, ARCHS[0]]], ["index", "arch_str", "cifar10_test"], r"line 2: 2 fields, header has 3"),
        ([[0, "1"]], ["index", "cifar10_test"], r"header lacks column\(s\) arch_str"),
        (
            [[0, ARCHS[0], "1"]],
            ["index", "arch_str", "cifar100_test"],
            r"no column for metric 'cifar10/ori-test'; metrics: cifar100/x-test",
        ),
        ([[0, ARCHS[0], "inf"]], ["index", "arch_str", "cifar10_test"], r"'inf' is infinite"),
        ([[0, ARCHS[0], ""]], ["index", "arch_str", "cifar10_test"], r"no rows with a value"),
        ([], [], r"empty file"),
        (  # issue 35: a NUL byte in a column not read was accepted silently
            [[0, ARCHS[0], "1", "2"], [1, ARCHS[1], "1", "6\x00"]],
            ["index", "arch_str", "cifar10_test", "cifar100_test"],
            r"line 3: column 'cifar100_test' holds a NUL byte \('6\\x00'\); not a text CSV",
        ),
        (
            [[0, ARCHS[0], "1", "2"]],
            ["index", "arch_str", "cifar10_test", "cifar100_test\x00"],
            r"line 1: field 4 holds a NUL byte",
        ),
    ],
)
def test_csv_errors(tmp_path, rows_, header, message):
    path = tmp_path / "bad.csv"
    if header:
        write_csv(path, rows_, header)
    else:
        path.write_text("")
    with pytest.raises(BenchmarkError, match=message) as e:
        nbb.read_nb201(path, "cifar10/ori-test", "200")
    assert str(path) in str(e.value)


def test_csv_metric_typo_suggests(tiny_csv):
    with pytest.raises(BenchmarkError, match=r"did you mean 'cifar100/x-test'"):
        nbb.read_nb201(tiny_csv, "cifar100/x-tset", "200")


def test_csv_is_the_200_epoch_schedule(tiny_csv):
    with pytest.raises(BenchmarkError, match="CSV exports hold the 200-epoch schedule"):
        nbb.read_nb201(tiny_csv, "cifar10/ori-test", "12")


def test_unrecognised_source(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_text("hello")
    with pytest.raises(BenchmarkError, match="unrecognised ground-truth source"):
        nbb.read_nb201(p, "cifar10/ori-test", "200")


# -- through the cache ----------------------------------------------------------------


def test_failed_import_leaves_no_cache(tmp_path, nats):
    (nats / "000001.pickle.pbz2").write_bytes(b"BZh9 garbage")
    with pytest.raises(BenchmarkError, match="000001.pickle.pbz2"):
        import_benchmark(get_space("nb201"), nats, cache_dir=tmp_path / "cache")
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(cache.rglob("*"))


def test_nats_folder_gaining_a_record_is_reimported(tmp_path):
    folder = make_nats(tmp_path / "n", records=(0, 1))
    cache = tmp_path / "cache"
    assert open_benchmark(get_space("nb201"), folder, cache_dir=cache).size == 2
    assert open_benchmark(get_space("nb201"), cache_dir=cache).size == 2
    write_pbz2(nats_record(5), folder / "000005.pickle.pbz2", protocol=2)
    b = open_benchmark(get_space("nb201"), cache_dir=cache)
    assert b.index.tolist() == [0, 1, 5] and b.meta["n_missing"] == len(ARCHS) - 3


def test_csv_column_name_and_metric_share_one_cache(tmp_path, tiny_csv):
    cache = tmp_path / "cache"
    a = open_benchmark(get_space("nb201"), tiny_csv, metric="cifar10_test", cache_dir=cache)
    assert a.metric == "cifar10/ori-test"
    assert cache_path("nb201", "cifar10/ori-test", "200", cache).is_file()
    assert len(list(cache.rglob("*.npz"))) == 1


# -- real data -----------------------------------------------------------------------

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
INDEX0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


@pytest.fixture(scope="module")
def real_csv(shared_data) -> Path:
    path = shared_data / "nb201" / "nb201_accuracy_200ep.csv"
    if not path.is_file():
        pytest.skip(f"real data absent: {path}")
    return path


@pytest.fixture(scope="module")
def real_nats(shared_data) -> Path:
    path = shared_data / "nb201" / "NATS-tss-v1_0-3ffb9-simple"
    if not path.is_dir():
        pytest.skip(f"real data absent: {path}")
    return path


def test_real_csv(real_csv):
    b = nbb.read_nb201(real_csv, "cifar10/ori-test", "200")
    assert b.size == 15625 and b.index.tolist() == list(range(15625))
    assert b.arch[0] == INDEX0
    best = b.best()
    assert best["arch"] == BEST and round(best["acc"], 4) == 94.3733 and best["rank"] == 0
    assert b.rank(BEST) == 0 and len(b.ids()) == 6466  # every unique cell has GT
    valid = nbb.read_nb201(real_csv, "cifar10-valid/x-valid", "200")
    assert round(valid.best()["acc"], 4) == 91.6067


def test_real_nats_agrees_with_the_csv(real_csv, real_nats):
    by_col = {}
    with real_csv.open() as f:
        for r in csv.DictReader(f):
            by_col[int(r["index"])] = r
    for column, metric in nbb.CSV_COLUMNS.items():
        b = nbb.read_nb201(real_nats, metric, "200")
        assert b.index.tolist() == [0, 11, 284] and b.meta["n_missing"] == 15625 - 3
        assert b.meta["seed_counts"] == {"3": 3}
        for i, a, acc in zip(b.index, b.arch, b.acc, strict=True):
            assert a == by_col[int(i)]["arch_str"]
            assert acc == pytest.approx(float(by_col[int(i)][column]), abs=1e-6), (metric, i)
    c10 = nbb.read_nb201(real_nats, "cifar10/ori-test", "200")
    assert round(c10.acc_of(c10.arch[1]), 4) == 91.5833 and c10.index[1] == 11
    assert c10.params[1] == pytest.approx(0.802426) and c10.flops[1] == pytest.approx(113.95137)
    twelve = nbb.read_nb201(real_nats, "cifar10-valid/x-valid", "12")  # seeds 111 and 777
    assert twelve.meta["seed_counts"] == {"2": 3}


def test_cli_import_and_info(real_csv, tmp_path, capsys):
    cache = str(tmp_path / "cache")
    assert main(["bench", "import", "nb201", str(real_csv), "--cache-dir", cache]) == 0
    out = capsys.readouterr().out
    assert "15625" in out and BEST in out and "94.3733" in out and "cifar10__ori-test__200.npz" in out
    assert main(["bench", "info", "nb201", "--cache-dir", cache, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["size"] == 15625 and info["best_acc"] == 94.3733 and info["best_arch"] == BEST
    assert info["source"] == str(real_csv.resolve()) and len(info["source_sha256"]) == 64
    assert info["source_status"] == "valid" and info["metric"] == "cifar10/ori-test"
    assert main(["bench", "info", "nb201", "--cache-dir", cache, "--metric", "cifar100/x-test"]) == 2
    assert "wsnas bench import nb201" in capsys.readouterr().err


def test_cli_import_nats_folder(real_nats, tmp_path, capsys):
    cache = str(tmp_path / "cache")
    argv = ["bench", "import", "nb201", str(real_nats), "--metric", "cifar100_test", "--json"]
    assert main([*argv, "--cache-dir", cache]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["rows"] == 3 and rec["metric"] == "cifar100/x-test" and rec["missing"] == 15622
    assert (
        main(
            ["bench", "import", "nb201", str(real_nats), "--metric", "cifar10/ori-tset", "--cache-dir", cache]
        )
        == 2
    )
    assert "did you mean 'cifar10/ori-test'" in capsys.readouterr().err
