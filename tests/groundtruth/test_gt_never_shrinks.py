"""A partial ground truth never replaces a complete one silently (issue 28).

A truncated CSV or an incomplete export imported over a cached table for the same metric and
schedule is refused unless `--replace`; a source that shrank behind the cache is refused on
open; runs scored against the old table keep its checksum in their identity.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from wsnas.cli.main import main
from wsnas.core.errors import BenchmarkError
from wsnas.engine.identity import gt_fingerprint
from wsnas.groundtruth import cache_path, import_benchmark, open_benchmark
from wsnas.spaces import get_space
from wsnas.spaces.nb201.arch import format_arch, index_to_arch

NB201 = get_space("nb201")


def write_gt(path: Path, n: int) -> Path:
    """An NB201 CSV export with the first N cells (index, arch_str, cifar10_test)."""
    rows = [f"{i},{format_arch(index_to_arch(i))},{80 + i * 0.5}" for i in range(n)]
    path.write_text("index,arch_str,cifar10_test\n" + "\n".join(rows) + "\n")
    return path


def _import(src: Path, cache: Path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "ground truth for N of the 15625 cells"
        return import_benchmark(NB201, src, cache_dir=cache, **kw)


def test_a_partial_table_is_refused_over_a_complete_one(tmp_path):
    cache = tmp_path / "cache"
    full, path = _import(write_gt(tmp_path / "full.csv", 8), cache)
    before = path.read_bytes()
    with pytest.raises(BenchmarkError, match=r"covers 5 nb201 cells .* covers 8 .*--replace"):
        _import(write_gt(tmp_path / "cut.csv", 5), cache)
    assert path.read_bytes() == before  # the complete table is untouched
    same, _ = _import(write_gt(tmp_path / "again.csv", 8), cache)  # as many cells: fine
    assert same.size == 8
    cut, _ = _import(write_gt(tmp_path / "cut.csv", 5), cache, replace=True)
    assert cut.size == 5 and open_benchmark(NB201, cache_dir=cache).size == 5


def test_a_source_that_shrank_behind_the_cache_is_refused_on_open(tmp_path):
    cache = tmp_path / "cache"
    src = write_gt(tmp_path / "gt.csv", 8)
    _, path = _import(src, cache)
    before = path.read_bytes()
    write_gt(src, 4)  # the file was truncated (or replaced by a partial export) in place
    for source in (src, None):  # named again, or the cache's recorded source
        with pytest.raises(BenchmarkError, match="Refusing to replace a more complete table"):
            open_benchmark(NB201, source=source, cache_dir=cache)
    assert path.read_bytes() == before  # the cache still holds all 8 cells


def test_cli_refuses_then_replaces_on_request(tmp_path, capsys):
    cache = str(tmp_path / "cache")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = ["bench", "import", "nb201", str(write_gt(tmp_path / "a.csv", 6)), "--cache-dir", cache]
        assert main(first) == 0
        capsys.readouterr()
        argv = ["bench", "import", "nb201", str(write_gt(tmp_path / "b.csv", 3)), "--cache-dir", cache]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "covers 3 nb201 cells" in err and "covers 6" in err and "--replace" in err
        assert main([*argv, "--replace", "--json"]) == 0
    assert '"rows": 3' in capsys.readouterr().out


def test_runs_scored_against_the_old_table_keep_its_identity(tmp_path):
    """The identity's GT checksum is the old table's: a resume or a sweep's reuse compares it with
    the new table's and refuses (engine.identity.identity_diff), so nothing is rescored silently."""
    cache = tmp_path / "cache"
    old, _ = _import(write_gt(tmp_path / "full.csv", 8), cache)
    new, _ = _import(write_gt(tmp_path / "cut.csv", 5), cache, replace=True)
    assert gt_fingerprint(old) != gt_fingerprint(new)
    assert cache_path("nb201", old.metric, old.schedule, cache).exists()
