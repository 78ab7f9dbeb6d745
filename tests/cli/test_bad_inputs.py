"""Adversarial inputs through the CLI: each is one `wsnas: error: ...` line, exit code 2, and
leaves the cache and out_dir exactly as they were (issue 14, "every bad input").

A case is (id, files to write, argv, message fragment); `run` calls `wsnas.cli.main` in this
process with the cache and out_dir inside tmp_path and compares a snapshot of tmp_path.
"""

from __future__ import annotations

import errno
import hashlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from wsnas.cli.main import main
from wsnas.config import load_config
from wsnas.spaces.check import pool_size_used
from wsnas.spaces.nb201.arch import format_arch, index_to_arch

DEEP = 20_000
"""Brackets deep enough for a RecursionError in a recursive parser."""

NB201_ARCH = format_arch(index_to_arch(7))


def nb201_csv(rows: list[tuple[object, object]], bom: bool = False) -> bytes:
    """A NB201 CSV export: header + (index, cifar10_test) rows with valid arch strings."""
    lines = ["index,arch_str,cifar10_test"]
    lines += [f"{i},{format_arch(index_to_arch(k))},{acc}" for k, (i, acc) in enumerate(rows)]
    return ("\ufeff" if bom else "").encode() + ("\n".join(lines) + "\n").encode()


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ROOT -> its content hash ('dir' for folders)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run(tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str]) -> tuple[int, list[str]]:
    """(exit code, stderr lines) of `wsnas ARGV` in TMP_PATH, asserting TMP_PATH is unchanged."""
    before = snapshot(tmp_path)
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err
    assert snapshot(tmp_path) == before, "a failed command left files behind"
    return rc, err.splitlines()


@pytest.fixture
def cwd(tmp_path, monkeypatch) -> Path:
    """tmp_path as the working dir, with the cache at tmp_path/cache and runs at tmp_path/runs."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "afile").write_text("not a folder\n")
    return tmp_path


Files = dict[str, bytes | str]
MINI = ["space.name=nb201_mini", "data.name=digits", "protocol.epochs=1", "eval.pool_size=100"]

CASES: list[tuple[str, Files, list[str], str]] = [
    # -- config files ---------------------------------------------------------------
    (
        "base-loop",
        {"a.yaml": "_base_: b.yaml\n", "b.yaml": "_base_: a.yaml\n"},
        ["config", "show", "a.yaml"],
        "_base_ loop: a.yaml -> b.yaml -> a.yaml",
    ),
    ("base-self", {"a.yaml": "_base_: a.yaml\n"}, ["config", "show", "a.yaml"], "_base_ loop"),
    (
        "base-int",
        {"a.yaml": "_base_: 3\n"},
        ["config", "show", "a.yaml"],
        "_base_ must be a file name, got 3",
    ),
    (
        "base-list",
        {"a.yaml": "_base_: [b.yaml]\n"},
        ["config", "show", "a.yaml"],
        "_base_ must be a file name",
    ),
    (
        "list-over-mapping",
        {"b.yaml": "eval:\n  epochs: [1]\n", "a.yaml": "_base_: b.yaml\neval: [1]\n"},
        ["config", "show", "a.yaml"],
        "a.yaml over its _base_ b.yaml: cannot merge",
    ),
    (
        "override-list-over-mapping",
        {"b.yaml": "eval:\n  epochs: [1]\n"},
        ["config", "show", "b.yaml", "eval=[1]"],
        "b.yaml + overrides: cannot merge",
    ),
    (
        "override-unclosed-bracket",
        {},
        ["config", "show", "eval.epochs=[1,2"],
        "override 'eval.epochs=[1,2': invalid YAML value",
    ),
    ("override-unclosed-brace", {}, ["config", "show", "protocol={lr: 1"], "invalid YAML value"),
    (
        "config-not-utf8",
        {"a.yaml": b"seed: 1\nname: \xff\xfe\n"},
        ["config", "show", "a.yaml"],
        "a.yaml line 2: not UTF-8 text (byte 0xff)",
    ),
    (
        "config-latin1",
        {"a.yaml": "name: caf\xe9\n".encode("latin-1")},
        ["config", "show", "a.yaml"],
        "not UTF-8",
    ),
    (
        "config-deep",
        {"a.yaml": "seed: " + "[" * DEEP + "]" * DEEP + "\n"},
        ["config", "show", "a.yaml"],
        "a.yaml: nested too deeply",
    ),
    ("override-deep", {}, ["config", "show", "eval.epochs=" + "[" * DEEP + "]" * DEEP], "invalid YAML value"),
    (
        "duplicate-key",
        {"a.yaml": "seed: 1\nseed: 2\n"},
        ["config", "show", "a.yaml"],
        "config file a.yaml: invalid YAML: duplicate key 'seed' (line 2",
    ),
    (
        "duplicate-nested-key",
        {"a.yaml": "protocol:\n  lr: 0.1\n  epochs: 3\n  lr: 0.2\n"},
        ["config", "show", "a.yaml"],
        "duplicate key 'lr' (line 4",
    ),
    (
        "duplicate-key-in-base",
        {"b.yaml": "seed: 1\nseed: 1\n", "a.yaml": "_base_: b.yaml\n"},
        ["config", "show", "a.yaml"],
        "b.yaml: invalid YAML: duplicate key 'seed'",
    ),
    (
        "duplicate-key-sweep-spec",
        {"s.yaml": "factors:\n  seed: [1]\nfactors:\n  x: [2]\n"},
        ["sweep", "s.yaml", "--out", "sw", "--dry-run"],
        "sweep spec s.yaml: invalid YAML: duplicate key 'factors'",
    ),
    # -- values ---------------------------------------------------------------------
    ("seed-negative", {}, ["config", "show", "seed=-1"], "key 'seed': got -1"),
    ("seed-65-bits", {}, ["config", "show", f"seed={2**64}"], f"key 'seed': got {2**64}"),
    ("seed-huge", {}, ["config", "show", "seed=" + "9" * 30], "key 'seed'"),
    ("pool-seed-negative", {}, ["config", "show", "eval.pool_seed=-5"], "key 'eval.pool_seed'"),
    ("standalone-seed-negative", {}, ["standalone", "train", "nb201", NB201_ARCH, "seed=-1"], "key 'seed'"),
    (
        "batch-size-bool",
        {},
        ["config", "show", "protocol.batch_size=true"],
        "key 'protocol.batch_size': got True; expected a number, not the bool true",
    ),
    (
        "epochs-bool-yaml",
        {"a.yaml": "protocol:\n  epochs: yes\n"},
        ["config", "show", "a.yaml"],
        "key 'protocol.epochs'",
    ),
    ("lr-bool", {}, ["config", "show", "protocol.lr=false"], "not the bool false"),
    (
        "eval-epochs-bool",
        {},
        ["config", "show", "eval.epochs=[true]"],
        "key 'eval.epochs': got [True]; expected numbers, not bools",
    ),
    (
        "lr-inf",
        {},
        ["config", "show", "protocol.lr=inf"],
        "key 'protocol.lr': got 'inf'; Input should be a finite",
    ),
    ("lr-yaml-inf", {"a.yaml": "protocol:\n  lr: .inf\n"}, ["config", "show", "a.yaml"], "finite number"),
    ("lr-nan", {}, ["config", "show", "protocol.lr=nan"], "finite number"),
    ("grad-clip-inf", {}, ["config", "show", "protocol.grad_clip=inf"], "key 'protocol.grad_clip'"),
    (
        "sparse-threshold-inf",
        {},
        ["config", "show", "eval.sparse_threshold=inf"],
        "key 'eval.sparse_threshold'",
    ),
    ("dropout-nan", {}, ["config", "show", "mapping.dropout_path=nan"], "finite number"),
    (
        "top-k-over-pool",
        {},
        ["config", "show", "eval.top_k=300"],
        "key 'eval.top_k': got 300; larger than eval.pool_size (200)",
    ),
    (
        "top-k-over-small-pool",
        {},
        ["config", "show", "eval.pool_size=5", "eval.top_k=6"],
        "eval.pool_size (5)",
    ),
    # -- arch files -----------------------------------------------------------------
    (
        "arch-file-not-utf8",
        {"a.txt": NB201_ARCH.encode() + b"\n\xff\xfe\n"},
        ["space", "canonical", "nb201", "--file", "a.txt"],
        "a.txt line 2: not UTF-8 text",
    ),
    (
        "arch-file-latin1",
        {"a.txt": "caf\xe9\n".encode("latin-1")},
        ["space", "canonical", "nb201", "--file", "a.txt"],
        "a.txt line 1: not UTF-8",
    ),
    (
        "nb101-deep-spec",
        {"a.txt": '{"matrix": ' + "[" * DEEP + "]" * DEEP + ', "ops": []}\n'},
        ["space", "canonical", "nb101", "--file", "a.txt"],
        "nested too deeply for a cell spec",
    ),
    (
        "nb101-thousands-of-digits",
        {"a.txt": '{"matrix": [[0, 1' + "0" * 5000 + '], [0, 0]], "ops": []}\n'},
        ["space", "canonical", "nb101", "--file", "a.txt"],
        "not a cell spec (Exceeds the limit",
    ),
    (
        "nb101-4000-digits",
        {"a.txt": '{"matrix": [[0, 1' + "0" * 4000 + '], [0, 0]], "ops": ["input", "output"]}\n'},
        ["space", "canonical", "nb101", "--file", "a.txt"],
        "matrix entries must be 0 or 1, got 10000",
    ),
    (
        "darts-deep-json",
        {"a.txt": '{"normal": ' + "[" * DEEP + "]" * DEEP + "}\n"},
        ["space", "canonical", "darts_nds", "--file", "a.txt"],
        "neither JSON nor a Python dict",
    ),
    # -- out_dir and cache dir ------------------------------------------------------
    ("out-dir-is-a-file", {}, ["train", *MINI, "out_dir=afile"], "afile/nb201_mini-random_nas-s0-"),
    (
        "cache-dir-is-a-file",
        {},
        ["bench", "info", "nb201_mini", "--cache-dir", "afile"],
        "afile/nb201_mini: Not a directory",
    ),
    (
        "cache-env-is-a-file",
        {},
        ["bench", "info", "nb201_mini", "--cache-dir", "afile/sub"],
        "Not a directory",
    ),
    # -- NAS-Bench-201 ground truth -------------------------------------------------
    (
        "nb201-acc-150",
        {"gt.csv": nb201_csv([(0, 90), (1, 150)])},
        ["bench", "import", "nb201", "gt.csv", "--cache-dir", "cache"],
        "gt.csv: line 3: accuracy 150.0 is not a percentage in [0, 100]",
    ),
    (
        "nb201-acc-negative",
        {"gt.csv": nb201_csv([(0, -3)])},
        ["bench", "import", "nb201", "gt.csv", "--cache-dir", "cache"],
        "accuracy -3.0 is not a percentage",
    ),
    (
        "nb201-index-negative",
        {"gt.csv": nb201_csv([(-1, 90)])},
        ["bench", "import", "nb201", "gt.csv", "--cache-dir", "cache"],
        "gt.csv: line 2: cell index -1 outside the space (0..15624)",
    ),
    (
        "nb201-index-huge",
        {"gt.csv": nb201_csv([(0, 90), (99_999_999, 90)])},
        ["bench", "import", "nb201", "gt.csv", "--cache-dir", "cache"],
        "cell index 99999999 outside the space",
    ),
    (
        "nb201-index-15625",
        {"gt.csv": nb201_csv([(15625, 90)])},
        ["bench", "import", "nb201", "gt.csv", "--cache-dir", "cache"],
        "cell index 15625 outside",
    ),
]


def write_files(root: Path, files: Files) -> None:
    for name, data in files.items():
        (root / name).write_bytes(data if isinstance(data, bytes) else data.encode())


@pytest.mark.parametrize(("files", "argv", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line(cwd, capsys, files, argv, fragment):
    write_files(cwd, files)
    rc, err = run(cwd, capsys, argv)
    assert len(err) == 1, err
    assert err[0].startswith("wsnas: error: ") and fragment in err[0], err[0][:500]
    assert len(err[0]) < 1000, "a message must not echo a whole malicious input"
    assert rc == 2


def _read_only(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Make ROOT refuse new entries as a read-only folder does (chmod means nothing to root)."""
    if os.geteuid() != 0:
        root.chmod(0o555)
        return
    real_mkdir, real_open = os.mkdir, os.open

    def refuse(path: os.PathLike | str) -> None:
        if (
            Path(os.path.abspath(path)).is_relative_to(root.resolve())
            and Path(path).resolve() != root.resolve()
        ):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))

    def mkdir(path, mode=0o777, *args, **kwargs):
        refuse(path)
        return real_mkdir(path, mode, *args, **kwargs)

    def open_(path, flags, mode=0o777, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse(path)
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)


ReadOnlyCase = tuple[str, Callable[[Path], list[str]], str]
READ_ONLY: list[ReadOnlyCase] = [
    ("out-dir", lambda ro: ["train", *MINI, f"out_dir={ro}"], "Permission denied"),
    ("cache-dir", lambda ro: ["bench", "info", "nb201_mini", "--cache-dir", str(ro)], "Permission denied"),
]


@pytest.mark.parametrize(("argv_of", "fragment"), [c[1:] for c in READ_ONLY], ids=[c[0] for c in READ_ONLY])
def test_read_only_folder_is_one_line(cwd, capsys, monkeypatch, argv_of, fragment):
    ro = cwd / "ro"
    ro.mkdir()
    _read_only(monkeypatch, ro)
    try:
        rc, err = run(cwd, capsys, argv_of(ro))
    finally:
        ro.chmod(0o755)
    assert len(err) == 1 and err[0].startswith("wsnas: error: ") and fragment in err[0], err
    assert str(ro) in err[0] and rc == 2


# -- warnings and inputs that must read ------------------------------------------------


def test_nb201_csv_with_a_bom_reads(cwd, capsys):
    (cwd / "gt.csv").write_bytes(nb201_csv([(0, 90.5), (1, 80)], bom=True))
    assert main(["bench", "import", "nb201", "gt.csv", "--cache-dir", "cache", "--json"]) == 0
    assert '"rows": 2' in capsys.readouterr().out


def test_nb201_csv_cut_short_warns_how_many_cells_and_where(cwd, capsys):
    """A CSV cut at a line boundary used to import silently as 'missing 0'."""
    (cwd / "gt.csv").write_bytes(nb201_csv([(0, 90.5), (1, 80), (2, 70)]))
    assert main(["bench", "import", "nb201", "gt.csv", "--cache-dir", "cache"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert (
        len(err) == 1
        and err[0].startswith("wsnas: warning: ")
        and "gt.csv: ground truth for 3 of the 15625" in err[0]
    ), err


def test_pool_larger_than_the_space_warns_at_config_time(cwd, capsys):
    assert main(["config", "show", *MINI, "eval.pool_size=500"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "wsnas: warning: eval.pool_size=500 is larger than the nb201_mini space (125 architectures); "
        "the pool holds at most 125"
    ]


def test_pool_size_used_says_the_size_used():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert pool_size_used(200, 200, "the benchmark") == 200
        assert not caught
        assert pool_size_used(200, 60, "the benchmark gt.csv") == 60
    assert [str(w.message) for w in caught] == [
        "eval.pool_size=200 is larger than the benchmark gt.csv (60 architectures); the pool holds 60"
    ]


@pytest.mark.parametrize("seed", [0, 2**32, 2**64 - 1])
def test_seeds_up_to_64_bits_are_fine(seed):
    assert load_config(None, [f"seed={seed}"]).seed == seed
