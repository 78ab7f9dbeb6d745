"""Shipped names wherever a path goes, did-you-mean on every enumerated option (issue 27)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsnas.cli.commands.search import ALGOS
from wsnas.cli.main import main
from wsnas.config.shipped import shipped_sweeps
from wsnas.search.algorithms import ALGORITHMS
from wsnas.sweep.build import load_build_spec


def test_list_sweeps_names_every_shipped_spec(capsys):
    assert main(["list", "sweeps"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [r.split()[0] for r in rows] == list(shipped_sweeps())
    assert "mini-paper" in {r.split()[0] for r in rows}
    assert all(Path(r.split()[1]).is_file() for r in rows)


def test_config_show_takes_a_name_and_a_file_of_that_name_wins(tmp_path, monkeypatch, capsys):
    assert main(["config", "show", "nb201-quick", "--hash"]) == 0
    by_name = capsys.readouterr().out.strip()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nb201-quick").write_text("protocol:\n  epochs: 3\n")  # a file here wins over the name
    assert main(["config", "show", "nb201-quick", "--hash"]) == 0
    assert capsys.readouterr().out.strip() != by_name


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["config", "show", "nb201-quik"], "did you mean 'nb201-quick'?"),
        (["train", "nb201-quik"], "did you mean 'nb201-quick'?"),
        (["sweep", "mini-papr", "--out", "OUT", "--dry-run"], "did you mean 'mini-paper'?"),
        (["bench", "build", "mini-buld", "--out", "OUT"], "did you mean 'mini-build'?"),
        (["standalone", "train", "nb201_mini", "A", "--config", "mini-standalon"], "'mini-standalone'?"),
    ],
)
def test_an_unknown_name_lists_the_shipped_ones_with_a_hint(argv, hint, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no shipped" in err and "shipped: " in err and hint in err


def test_bench_build_takes_the_shipped_build_spec_by_name():
    spec, folder = load_build_spec("mini-build")
    assert spec.space == "nb201_mini" and folder.name == "presets"


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["search", "RUN", "--algo", "evolutoin", "--budget", "3"], "(did you mean 'evolution'?)"),
        (["trian"], "(did you mean 'train'?)"),
        (["list", "sweep"], "(did you mean 'sweeps'?)"),
        (["sweep", "S", "--out", "D", "--executor", "rey"], "(did you mean 'ray'?)"),
        (["bench", "build", "S", "--out", "D", "--executor", "lokal"], "(did you mean 'local'?)"),
    ],
)
def test_every_enumerated_option_says_did_you_mean(argv, hint, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and err.rstrip().endswith(hint)


def test_search_algo_choices_are_the_algorithms():
    assert set(ALGOS) == set(ALGORITHMS)


def test_search_preset_choices_and_help_are_the_presets():
    """The literal names and help of `wsnas search --preset` (kept literal so --help needs no numpy)
    are the registry's: each preset's name, its defaults and whose code it follows."""
    from wsnas.cli.commands.search import PRESET_HELP, PRESETS
    from wsnas.search.algorithms import PRESETS as REGISTRY

    assert set(PRESETS) == set(REGISTRY)
    squash = " ".join(PRESET_HELP.split())
    for name, preset in REGISTRY.items():
        assert f"{name}: " in squash
        assert " ".join(preset.defaults.split()) in squash, name
