"""`wsnas arch info`: stand-alone params/FLOPs always, index and GT once a benchmark is imported."""

from __future__ import annotations

import csv
import json

import pytest

from wsnas.cli.main import main

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_without_benchmark(tmp_path, capsys):
    assert main(["arch", "info", "nb201", ALL_CONV3, "--json", "--cache-dir", str(tmp_path)]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["params_m"] == 1.531546 and rec["index"] is None and "gt_acc" not in rec
    assert main(["arch", "info", "nb201", ALL_CONV3, "--cache-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not any(line.startswith("index") for line in lines)  # never `index None`
    gt = next(line for line in lines if line.startswith("gt "))
    assert "none known: no nb201 ground truth cached for metric 'cifar10/ori-test'" in gt
    assert "run `wsnas bench import nb201 SOURCE --metric cifar10/ori-test" in gt


def test_with_benchmark_and_file(tmp_path, capsys, shared_data):
    cache = str(tmp_path / "cache")
    source = shared_data / "nb201" / "nb201_accuracy_200ep.csv"
    assert main(["bench", "import", "nb201", str(source), "--cache-dir", cache]) == 0
    capsys.readouterr()
    assert main(["arch", "info", "nb201", BEST, "--json", "--cache-dir", cache]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["gt_rank"] == 0 and round(rec["gt_acc"], 4) == 94.3733
    assert main(["arch", "info", "nb201", BEST, "--cache-dir", cache]) == 0
    assert "gt_rank    1 of 15,625 (1 = best)" in capsys.readouterr().out.splitlines()
    rows = list(csv.DictReader((shared_data / "nb201" / "nb201_params_sample.csv").open()))[:5]
    f = tmp_path / "archs.txt"
    f.write_text("".join(r["arch_str"] + "\n" for r in rows))
    assert main(["arch", "info", "nb201", "--file", str(f), "--cache-dir", cache]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["index"] for o in out] == [int(r["index"]) for r in rows]
    assert [o["params_m"] for o in out] == [float(r["params_millions"]) for r in rows]


@pytest.mark.parametrize("argv", [["|bad~0|+|none~0|none~1|+|none~0|none~1|none~2|"], []])
def test_errors(argv, capsys, tmp_path):
    assert main(["arch", "info", "nb201", *argv, "--cache-dir", str(tmp_path)]) == 2
    assert "error" in capsys.readouterr().err


ARCH_FOR_ORDER = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
)


@pytest.mark.parametrize(
    "argv",
    [
        ["arch", "info", "nb201", "--json", ARCH_FOR_ORDER],
        ["arch", "info", "--json", "nb201", ARCH_FOR_ORDER],
        ["arch", "info", "nb201", ARCH_FOR_ORDER, "--json"],
    ],
)
def test_options_and_positionals_mix_in_any_order(argv, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path))
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["arch"] == ARCH_FOR_ORDER


def test_a_stray_positional_is_still_refused(capsys):
    assert main(["arch", "info", "nb201", "--json", ARCH_FOR_ORDER, "extra"]) == 2
    assert "unrecognized argument 'extra'" in capsys.readouterr().err


def test_info_takes_key_value_overrides_like_train(tmp_path, capsys, shared_data):
    """Issue 35: `arch info` refused `bench.source=...`; it takes the ground-truth keys as overrides."""
    cache = str(tmp_path / "cache")
    source = shared_data / "nb201" / "nb201_accuracy_200ep.csv"
    argv = ["arch", "info", "nb201", BEST, "--json", f"bench.source={source}", f"bench.cache_dir={cache}"]
    assert main(argv) == 0  # imports the CSV into the cache on first use, as train does
    rec = json.loads(capsys.readouterr().out)
    assert rec["gt_rank"] == 0 and rec["gt_metric"] == "cifar10/ori-test"
    f = tmp_path / "archs.txt"
    f.write_text(BEST + "\n")
    for argv in (  # an override before or after --file, where ARCH would go or at the end
        ["arch", "info", "nb201", "--file", str(f), f"bench.cache_dir={cache}"],
        ["arch", "info", "nb201", f"bench.cache_dir={cache}", "--file", str(f)],
    ):
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out)["gt_acc"] == rec["gt_acc"]
    assert (
        main(["arch", "info", "nb201", BEST, "--json", f"bench.cache_dir={cache}", "data.name=cifar100"]) == 0
    )
    rec = json.loads(capsys.readouterr().out)  # the data set's metric (not imported here), its network
    assert rec["params_m"] != 1.073466 and "gt_acc" not in rec


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["protocol.lr=1"], "override 'protocol.lr=1': `wsnas arch info` reads only bench.source"),
        (["bench.sorce=x"], "did you mean 'bench.source'"),
        (["bench.metric=cifar100/x-test", "--metric", "cifar10/ori-test"], "give one of the two"),
        (["bench.source=/no/such/file.csv"], "bench.source=/no/such/file.csv: "),
    ],
)
def test_info_overrides_it_does_not_read_or_cannot_use_are_errors(overrides, needle, tmp_path, capsys):
    assert main(["arch", "info", "nb201", BEST, "--cache-dir", str(tmp_path), *overrides]) == 2
    assert needle in capsys.readouterr().err
