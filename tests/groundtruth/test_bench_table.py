"""The ground-truth table, its .npz cache and the cache policy (space-agnostic parts)."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

import wsnas.groundtruth.table as table_mod
from wsnas.core.cachedir import cache_root
from wsnas.core.errors import ArchError, BenchmarkError, ConfigError
from wsnas.groundtruth import BenchLoader, Benchmark, cache_path, open_benchmark
from wsnas.groundtruth.cache import check_source, fingerprint, hash_source, import_benchmark
from wsnas.spaces import get_space

A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
# two isomorphic encodings: node 1 feeds nothing that survives (edges from node 1 are none)
B1 = "|nor_conv_1x1~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"
B2 = "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"
C = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


def small(meta: dict | None = None) -> Benchmark:
    """Hand-checkable table: accs 90, 95, 95, 80 -> ranks 2, 0, 0, 3."""
    from wsnas.spaces.nb201.arch import canonical_id, parse_arch

    archs = [A, B1, B2, C]
    return Benchmark(
        index=[3, 7, 9, 12],
        arch=archs,
        canonical=[canonical_id(parse_arch(a)) for a in archs],
        acc=[90.0, 95.0, 95.0, 80.0],
        params=[1.5, 0.2, 0.2, np.nan],
        meta={"space": "nb201", "metric": "cifar10/ori-test", "schedule": "200", **(meta or {})},
    )


# -- the table ----------------------------------------------------------------------


def test_ranks_by_hand_ties_share_the_smaller_rank():
    b = small()
    assert b.size == len(b) == 4
    assert [b.rank(a) for a in (A, B1, B2, C)] == [2, 0, 0, 3]
    assert b.ranks().tolist() == [2, 0, 0, 3]
    assert b.best()["arch"] == B1  # first of the tie in official order
    assert b.best()["rank"] == 0


def test_query_by_arch_and_by_canonical():
    b = small()
    q = b.query(A)
    assert q == {
        "index": 3,
        "arch": A,
        "canonical": b.canonical[0],
        "acc": 90.0,
        "rank": 2,
        "params": 1.5,
        "flops": None,
        "count": 1,
    }
    assert b.canonical[1] == b.canonical[2]
    qc = b.query(str(b.canonical[2]))
    assert qc["index"] == 7 and qc["arch"] == B1 and qc["count"] == 2
    assert b.query(C)["params"] is None
    assert b.ids() == [str(b.canonical[0]), str(b.canonical[1]), str(b.canonical[3])]
    assert A in b and str(b.canonical[1]) in b and "nope" not in b


def test_acc_is_a_column_and_a_lookup():
    b = small()
    assert b.acc_of(A) == 90.0 and b.acc_of(str(b.canonical[1])) == 95.0
    assert b.acc[[0, 3]].tolist() == [90.0, 80.0]
    assert type(b.acc[[0, 3]]) is np.ndarray and type(b.acc > 85) is np.ndarray
    assert float(b.acc.max()) == 95.0
    assert b.rows([C, A]).tolist() == [3, 0]
    for col in (b.index, b.arch, b.canonical, b.acc, b.params, b.flops):
        assert not col.flags.writeable
    with pytest.raises(ValueError):
        b.acc[0] = 1.0


def test_unknown_and_malformed_keys():
    b = small().bind(get_space("nb201"))
    with pytest.raises(BenchmarkError, match="has no row for"):
        b.query("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(ArchError, match="unknown op 'conv'"):
        b.rank("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    # surrounding whitespace is normalised through the space's codec
    assert b.rank(f"  {A} ") == 2


def test_constructor_rejects_bad_tables():
    with pytest.raises(BenchmarkError, match="not a finite number"):
        Benchmark(index=[0], arch=[A], canonical=["x"], acc=[np.nan])
    with pytest.raises(BenchmarkError, match="shape"):
        Benchmark(index=[0, 1], arch=[A], canonical=["x"], acc=[1.0])
    with pytest.raises(BenchmarkError, match="arch strings are not unique"):
        Benchmark(index=[0, 1], arch=[A, A], canonical=["x", "x"], acc=[1.0, 2.0])
    with pytest.raises(BenchmarkError, match="indices are not unique"):
        Benchmark(index=[0, 0], arch=[A, C], canonical=["x", "y"], acc=[1.0, 2.0])
    with pytest.raises(BenchmarkError, match="empty"):
        Benchmark(index=[], arch=[], canonical=[], acc=[]).best()


# -- save / load --------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    b = small({"source": "/x", "note": "ü"})
    path = b.save(tmp_path / "sub" / "t.npz")
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == ["t.npz"]
    with np.load(path, allow_pickle=False) as z:  # no pickle anywhere in the file
        assert set(z.files) == {"index", "arch", "canonical", "acc", "params", "flops", "meta"}
    c = Benchmark.load(path)
    for col in ("index", "arch", "canonical", "params", "flops"):
        np.testing.assert_array_equal(getattr(c, col), getattr(b, col))
    np.testing.assert_array_equal(np.asarray(c.acc), np.asarray(b.acc))
    assert c.arch.dtype.kind == "U" and c.index.dtype == np.int64
    assert c.meta["note"] == "ü" and c.meta["format"] == "wsnas-benchmark"
    assert (c.space, c.metric, c.schedule, c.source) == ("nb201", "cifar10/ori-test", "200", "/x")
    assert c.query(str(b.canonical[1]))["count"] == 2 and c.rank(C) == 3


def test_save_needs_space_metric_schedule(tmp_path):
    b = Benchmark(index=[0], arch=[A], canonical=["x"], acc=[1.0])
    with pytest.raises(BenchmarkError, match="metadata lacks"):
        b.save(tmp_path / "t.npz")
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_nothing_and_keeps_the_old_cache(tmp_path, monkeypatch):
    path = small().save(tmp_path / "t.npz")
    before = path.read_bytes()

    def boom(f, arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(table_mod, "_write_npz", boom)
    with pytest.raises(OSError, match="disk full"):
        small({"x": 1}).save(path)
    with pytest.raises(OSError):
        small().save(tmp_path / "new.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.npz"]
    assert path.read_bytes() == before


def _npz(path: Path, **arrays) -> Path:
    with path.open("wb") as f:
        np.savez(f, **arrays)
    return path


def _good_arrays() -> dict:
    b = small()
    meta = {**b.meta, "format": "wsnas-benchmark", "format_version": 1}
    return {
        "index": b.index,
        "arch": b.arch,
        "canonical": b.canonical,
        "acc": np.asarray(b.acc),
        "params": b.params,
        "flops": b.flops,
        "meta": np.array([json.dumps(meta)]),
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("canonical"), "missing arrays canonical"),
        (lambda a: a.update(acc=np.array([1.0, 2.0])), "column 'index' has shape .4,., expected .2,."),
        (lambda a: a.update(index=np.array(["a", "b", "c", "d"])), "column 'index' has dtype"),
        (lambda a: a.update(acc=np.array([1.0, np.inf, 2.0, 3.0])), "row 1 is not a finite"),
        (lambda a: a.update(meta=np.array(["{not json"])), "metadata is not JSON"),
        (lambda a: a.update(meta=np.array(['{"format": "other"}'])), "not a wsnas-benchmark"),
        (
            lambda a: a.update(meta=np.array(['{"format": "wsnas-benchmark", "format_version": 99}'])),
            "format version 99",
        ),
        (
            lambda a: a.update(meta=np.array(['{"format": "wsnas-benchmark", "format_version": 1}'])),
            "metadata lacks space, metric, schedule",
        ),
    ],
)
def test_load_validates_and_names_the_file(tmp_path, change, message):
    arrays = _good_arrays()
    change(arrays)
    path = _npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(BenchmarkError, match=message) as e:
        Benchmark.load(path)
    assert str(path) in str(e.value)


def test_load_rejects_garbage_missing_and_pickled_files(tmp_path):
    with pytest.raises(BenchmarkError, match="no such file"):
        Benchmark.load(tmp_path / "absent.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(BenchmarkError, match=f"{junk}: unreadable"):
        Benchmark.load(junk)
    arrays = _good_arrays()
    arrays["arch"] = np.array(list(arrays["arch"]), dtype=object)  # would need pickle
    with pytest.raises(BenchmarkError, match="unreadable"):
        Benchmark.load(_npz(tmp_path / "obj.npz", **arrays))
    good = small().save(tmp_path / "good.npz")
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(BenchmarkError, match="cut.npz"):
        Benchmark.load(cut)
    assert zipfile.is_zipfile(good)


# -- cache location -----------------------------------------------------------------


def test_cache_root_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "env"))
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"
    assert cache_root() == tmp_path / "env"
    monkeypatch.delenv("WSNAS_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "wsnas"


def test_cache_path_is_sanitised(tmp_path):
    assert cache_path("nb201", "cifar10/ori-test", "200", tmp_path) == (
        tmp_path / "nb201" / "cifar10__ori-test__200.npz"
    )
    p = cache_path("nb201", "../../etc/pass wd", "12", tmp_path)
    assert p.parent == tmp_path / "nb201" and "/" not in p.name and " " not in p.name
    assert not p.name.startswith(".")


# -- cache policy, with a toy loader (the plug-in point NB101/DARTS use) ----------------

READS: list[Path] = []


def _toy_read(source: Path, metric: str, schedule: str) -> Benchmark:
    """A JSON {arch: acc} file; counts reads so tests can see (re-)imports."""
    READS.append(source)
    data = json.loads(source.read_text()) if source.is_file() else {}
    if source.is_dir():
        data = json.loads((source / "meta.json").read_text())
    archs = sorted(data)
    return Benchmark(index=range(len(archs)), arch=archs, canonical=archs, acc=[data[a] for a in archs])


class _Toy:
    """The least a space must offer the cache: a name, a loader and a codec."""

    name = "toy"
    loader = BenchLoader(
        read=_toy_read,
        normalize_metric=lambda m: m.lower(),
        sources="a JSON file",
        default_metric="cifar10/ori-test",
        default_schedule="200",
    )

    def parse(self, text: str) -> str:
        return text.strip()

    def format(self, arch: str) -> str:
        return arch


TOY = _Toy()


@pytest.fixture
def toy(tmp_path):
    READS.clear()
    src = tmp_path / "gt.json"
    src.write_text(json.dumps({"a": 1.0, "b": 3.0}))
    return src, tmp_path / "cache"


def test_first_open_imports_then_the_cache_is_used(toy):
    src, cache = toy
    b = open_benchmark(TOY, src, metric="M", cache_dir=cache)
    assert [src.resolve()] == READS and b.best()["arch"] == "b"
    path = cache_path("toy", "m", "200", cache)
    assert path.is_file()
    meta = Benchmark.load(path).meta
    assert meta["source"] == str(src.resolve()) and meta["source_size"] == src.stat().st_size
    assert meta["source_sha256"] == hash_source(src) and meta["metric"] == "m"
    assert meta["wsnas_version"] and meta["created"]
    for source in (src, None):
        assert open_benchmark(TOY, source, metric="m", cache_dir=cache).size == 2
    assert len(READS) == 1


def test_touched_source_is_rehashed_not_reimported(toy):
    src, cache = toy
    open_benchmark(TOY, src, cache_dir=cache)
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert (
        check_source(
            open_benchmark.__globals__["Benchmark"]
            .load(cache_path("toy", "cifar10/ori-test", "200", cache))
            .meta
        )
        == "touched"
    )
    open_benchmark(TOY, cache_dir=cache)
    assert len(READS) == 1
    meta = Benchmark.load(cache_path("toy", "cifar10/ori-test", "200", cache)).meta
    assert meta["source_mtime_ns"] == src.stat().st_mtime_ns  # re-stamped
    assert check_source(meta) == "valid"


def test_changed_source_invalidates_and_reimports(toy):
    src, cache = toy
    open_benchmark(TOY, src, cache_dir=cache)
    src.write_text(json.dumps({"a": 9.0, "b": 3.0}))
    b = open_benchmark(TOY, cache_dir=cache)  # the recorded source is re-read
    assert len(READS) == 2 and b.best()["arch"] == "a"
    assert Benchmark.load(cache_path("toy", "cifar10/ori-test", "200", cache)).acc_of("a") == 9.0


def test_same_content_elsewhere_counts_as_the_same_source(toy, tmp_path):
    src, cache = toy
    open_benchmark(TOY, src, cache_dir=cache)
    copy = tmp_path / "copy.json"
    copy.write_bytes(src.read_bytes())
    b = open_benchmark(TOY, copy, cache_dir=cache)
    assert len(READS) == 1 and b.source == str(copy.resolve())


def test_deleted_source_keeps_the_cache(toy):
    src, cache = toy
    open_benchmark(TOY, src, cache_dir=cache)
    src.unlink()
    assert open_benchmark(TOY, cache_dir=cache).size == 2 and len(READS) == 1
    with pytest.raises(BenchmarkError, match="no such file"):
        open_benchmark(TOY, src, cache_dir=cache)  # an explicit source must exist


def test_no_cache_no_source_says_to_import(toy):
    _, cache = toy
    with pytest.raises(BenchmarkError, match=r"run `wsnas bench import toy SOURCE --metric m"):
        open_benchmark(TOY, metric="M", cache_dir=cache)


def test_corrupt_cache(toy):
    src, cache = toy
    open_benchmark(TOY, src, cache_dir=cache)
    path = cache_path("toy", "cifar10/ori-test", "200", cache)
    path.write_bytes(b"garbage")
    with pytest.raises(BenchmarkError, match=str(path)):
        open_benchmark(TOY, cache_dir=cache)
    assert open_benchmark(TOY, src, cache_dir=cache).size == 2  # a source rebuilds it
    assert len(READS) == 2


def test_failed_import_leaves_no_cache(toy):
    src, cache = toy
    src.write_text("{broken")
    with pytest.raises(json.JSONDecodeError):
        import_benchmark(TOY, src, cache_dir=cache)
    assert not cache.exists() or not any(cache.rglob("*"))


def test_folder_fingerprint(tmp_path):
    d = tmp_path / "nats"
    d.mkdir()
    (d / "meta.json").write_text(json.dumps({"a": 1.0}))
    (d / "000001.rec").write_bytes(b"x" * 10)
    fp = fingerprint(d)
    assert fp["source_kind"] == "folder" and fp["source_size"] == (d / "meta.json").stat().st_size + 10
    same_size = hash_source(d)
    (d / "000001.rec").write_bytes(b"y" * 10)  # same name and size: same checksum (documented)
    assert hash_source(d) == same_size
    (d / "000002.rec").write_bytes(b"z")
    assert hash_source(d) != same_size
    (d / "000002.rec").unlink()
    (d / "meta.json").write_text(json.dumps({"a": 2.0}))
    assert hash_source(d) != same_size


def test_folder_source_gains_a_record(tmp_path):
    READS.clear()
    d = tmp_path / "nats"
    d.mkdir()
    (d / "meta.json").write_text(json.dumps({"a": 1.0}))
    (d / "000001.rec").write_bytes(b"x")
    open_benchmark(TOY, d, cache_dir=tmp_path / "c")
    open_benchmark(TOY, cache_dir=tmp_path / "c")
    assert len(READS) == 1
    (d / "000002.rec").write_bytes(b"x")
    open_benchmark(TOY, cache_dir=tmp_path / "c")
    assert len(READS) == 2


def test_unknown_space_lists_the_spaces():
    with pytest.raises(ConfigError, match="unknown search space 'nb2001'.*did you mean 'nb201'"):
        get_space("nb2001")
