"""`--archs FILE` / `estimate(archs=[...])`: an explicit list scored in its order, its checksum in the
identity, kept in the run dir so --status and --resume score exactly it; a line that does not parse
is refused with its line number; repeats (also isomorphic ones) refused or, with --drop-duplicates,
left out and counted; nothing is written before the whole list is valid."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pytest

from wsnas.api import estimate
from wsnas.cli.main import main
from wsnas.config import load_config
from wsnas.core.errors import ConfigError
from wsnas.estimators.plan import EstimateOptions, archs_option, plan_estimate
from wsnas.estimators.run import run_estimate
from wsnas.groundtruth import open_benchmark
from wsnas.spaces import get_space

pytest.importorskip("sklearn")  # the digits data set

MINI = ["space.name=nb201_mini", "data.name=digits", "eval.pool_size=4", "runtime.device=cpu",
        "runtime.threads=1"]  # fmt: skip


def _distinct(n: int) -> list[str]:
    """N archs of distinct canonical forms, last table row first (not the table's or a pool's order)."""
    bench = open_benchmark(get_space("nb201_mini"))
    first: dict[str, str] = {}
    for a, c in zip(bench.arch.tolist(), bench.canonical.tolist(), strict=True):
        first.setdefault(c, a)
    return list(reversed(list(first.values())))[:n]


def _isomorphic_pair() -> tuple[str, str]:
    bench = open_benchmark(get_space("nb201_mini"))
    by: dict[str, list[str]] = {}
    for a, c in zip(bench.arch.tolist(), bench.canonical.tolist(), strict=True):
        by.setdefault(c, []).append(a)
    group = next(g for g in by.values() if len(g) > 1)
    return group[0], group[1]


def _cfg(tmp_path: Path, name: str):
    return load_config(None, [*MINI, f"out_dir={tmp_path / 'runs'}", f"name={name}"])


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "scores.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_file_is_scored_in_its_order_and_kept_in_the_run_dir(tmp_path):
    archs = _distinct(6)
    f = tmp_path / "archs.txt"
    f.write_text("# six cells\n" + "\n".join(archs[:3]) + "\n\n" + "\n".join(archs[3:]) + "\n")
    summary = run_estimate(plan_estimate(_cfg(tmp_path, "f"), EstimateOptions(["params"], **archs_option(f))))
    run = tmp_path / "runs" / "f"
    assert [r["arch"] for r in _rows(run)] == archs
    assert (run / "archs.txt").read_text().split() == archs
    rec = json.loads((run / "estimate.json").read_text())
    assert rec["archs"] == "list" and rec["archs_n"] == 6 and rec["archs_source"] == str(f)
    assert summary["archs"]["mode"] == "list" and summary["archs"]["n"] == 6


def test_the_list_enters_the_identity_its_path_does_not(tmp_path):
    archs = _distinct(5)
    (tmp_path / "a.txt").write_text("\n".join(archs))
    (tmp_path / "b.txt").write_text("\n".join(archs))
    (tmp_path / "c.txt").write_text("\n".join(reversed(archs)))

    def config_hash(archs_value) -> str:
        opts = EstimateOptions(["params"], **archs_option(archs_value))
        return plan_estimate(_cfg(tmp_path, "x"), opts).identity["config"]

    ids = {k: config_hash(tmp_path / f"{k}.txt") for k in "abc"}
    assert ids["a"] == ids["b"] == config_hash(archs)
    assert ids["c"] != ids["a"]  # another order is another scores.csv


def test_a_csv_with_an_arch_column(tmp_path):
    archs = _distinct(4)
    f = tmp_path / "archs.csv"
    f.write_text("note,arch\n" + "".join(f"n{i},{a}\n" for i, a in enumerate(archs)))
    plan = plan_estimate(_cfg(tmp_path, "c"), EstimateOptions(["params"], **archs_option(f)))
    assert plan.pool.arch_strs == archs
    f.write_text("note,arch\nx," + archs[0] + "\ny,|bad~0|\n")
    with pytest.raises(ConfigError, match=r"line 3: '\|bad~0\|' does not parse"):
        plan_estimate(_cfg(tmp_path, "c"), EstimateOptions(["params"], **archs_option(f)))


def test_a_bad_line_is_refused_with_its_number_and_nothing_is_written(tmp_path, capsys):
    archs = _distinct(4)
    f = tmp_path / "archs.txt"
    f.write_text(f"{archs[0]}\n{archs[1]}\n|nor_conv_3x3~0|+|nor_conv_3x3~0|conv_9x9~1|\n{archs[2]}\n")
    args = ["estimate", "--estimators", "synflow", "--archs", str(f), *MINI, f"out_dir={tmp_path / 'runs'}"]
    assert main([*args, "-q"]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "conv_9x9" in err
    assert not (tmp_path / "runs").exists()
    assert main(["estimate", "--estimators", "params", "--archs", str(tmp_path / "nope.txt"), *MINI]) == 2
    assert "no such file" in capsys.readouterr().err


def test_repeats_also_isomorphic_are_refused_or_dropped_with_a_count(tmp_path, capsys):
    archs = _distinct(4)
    a, b = _isomorphic_pair()
    f = tmp_path / "archs.txt"
    f.write_text("\n".join([*archs[:2], a, archs[2], archs[0], b, archs[3]]) + "\n")
    args = ["estimate", "--estimators", "params", "--archs", str(f), *MINI, f"out_dir={tmp_path / 'runs'}"]
    assert main([*args, "-q"]) == 2
    err = capsys.readouterr().err
    assert "line 5" in err and "repeats line 1" in err
    assert "line 6" in err and "repeats line 3" in err and "isomorphism" in err and "--drop-duplicates" in err
    assert not (tmp_path / "runs").exists()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opts = EstimateOptions(["params"], **archs_option(f), drop_duplicates=True)
        plan = plan_estimate(_cfg(tmp_path, "d"), opts)
    assert "2 repeated architecture(s) left out" in " ".join(str(w.message) for w in caught)
    assert plan.pool.arch_strs == [*archs[:2], a, archs[2], archs[3]]
    assert plan.options_record()["archs_dropped"] == 2


def test_status_and_resume_score_the_list_not_the_seeded_pool(tmp_path, capsys):
    archs = _distinct(7)
    f = tmp_path / "archs.txt"
    f.write_text("\n".join(archs) + "\n")
    base = ["estimate", "--estimators", "params,synflow", "--batch", "8", "--channels", "4", "--cells", "1"]
    assert main([*base, "--archs", str(f), *MINI, f"out_dir={tmp_path / 'runs'}", "name=r", "-q"]) == 0
    run = tmp_path / "runs" / "r"
    full = _rows(run)
    lines = (run / "scores.csv").read_text().splitlines(keepends=True)
    (run / "scores.csv").write_text("".join(lines[:3]))  # as if stopped after 2 archs
    f.unlink()  # the list lives on in the run dir
    capsys.readouterr()
    assert main(["estimate", "--status", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "partial"
    assert main(["estimate", "--resume", str(run), "-q"]) == 0
    got = _rows(run)
    assert [r["arch"] for r in got] == archs
    strip = lambda rows: [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in rows]  # noqa: E731
    assert strip(got) == strip(full)
    (run / "archs.txt").write_text("\n".join(archs[:-1]) + "\n")
    assert main(["estimate", "--resume", str(run), "-q"]) == 2
    assert "not the list this run was started with" in capsys.readouterr().err


def test_python_api_takes_a_list(tmp_path):
    archs = _distinct(3)
    summary = estimate(_cfg(tmp_path, "p"), ["params"], archs=archs)
    assert summary["archs"]["mode"] == "list"
    assert [r["arch"] for r in _rows(tmp_path / "runs" / "p")] == archs
    with pytest.raises(ConfigError, match=r"item 2: 'nope' does not parse"):
        estimate(_cfg(tmp_path, "q"), ["params"], archs=[archs[0], "nope"])
    assert not (tmp_path / "runs" / "q").exists()
