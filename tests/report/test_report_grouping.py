"""What the report averages and what it calls things: seeds of one setting only, labelled as the CLI
labelled their runs, scoped by space and data set, factors in Table 1's order, Figs. 8c and 10.

Run dirs are written by hand (tests/report/test_report.py's write_run) with known metrics.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from report_fixtures import read_csv, write_run
from wsnas.report import figures as figs
from wsnas.report import load_runs, write_report
from wsnas.report.analysis import analyse_space, group_settings
from wsnas.spaces.table1 import TABLE1_FIELDS


def settings_rows(rep_dir: Path) -> dict[str, dict[str, str]]:
    return {r["setting"]: r for r in read_csv(rep_dir / "tables" / "settings.csv")}


def test_labels_are_the_names_the_cli_printed(tmp_path):
    root = tmp_path / "demo"
    for seed in (0, 1, 2):  # as `wsnas demo` names its runs
        write_run(root, f"bn-batch-stats-s{seed}", [], seed, 99.0)
        write_run(root, f"bn-tracked-stats-s{seed}", ["mapping.bn_track_running_stats=true"], seed, 98.0)
    write_report([root], tmp_path / "rep")
    final = [r["setting"] for r in read_csv(tmp_path / "rep" / "tables" / "table_final.csv")]
    assert final == ["bn-batch-stats", "bn-tracked-stats"]
    assert set(settings_rows(tmp_path / "rep")) == {"bn-batch-stats", "bn-tracked-stats"}
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "bn-tracked-stats" in html and "mapping.bn_track_running_stats=true</td>" not in html


def test_colliding_names_are_told_apart_by_their_differences(tmp_path):
    root = tmp_path / "runs"
    for seed in (0, 1):  # `wsnas train` without a name: SPACE-SAMPLER-sSEED-HASH, the same label
        write_run(root, f"nb201-random_nas-s{seed}-aaaaaaaaaaaa", [], seed, 90.0)
        write_run(root, f"nb201-random_nas-s{seed}-bbbbbbbbbbbb", ["protocol.lr=0.1"], seed, 91.0)
    write_report([root], tmp_path / "rep")
    assert set(settings_rows(tmp_path / "rep")) == {
        "nb201-random_nas (protocol.lr=0.025)",
        "nb201-random_nas (protocol.lr=0.1)",
    }


def test_repeated_seeds_are_listed_apart_with_a_warning(tmp_path):
    for sweep, acc in (("a", 90.0), ("b", 80.0)):  # one spec swept twice into two dirs
        for seed in (0, 1):
            write_run(tmp_path / sweep / "runs", f"base-s{seed}-12345678", [], seed, acc + seed)
    with pytest.warns(UserWarning, match=r"repeat seed\(s\) 0, 1 .* not averaged together"):
        rep = write_report([tmp_path / "a", tmp_path / "b"], tmp_path / "rep")
    assert rep.num_settings == 2 and len(rep.warnings) == 1
    rows = settings_rows(tmp_path / "rep")
    assert set(rows) == {"base [copy 1]", "base [copy 2]"}
    assert float(rows["base [copy 1]"]["final_acc_mean"]) == pytest.approx(90.5)  # dir a: never mixed
    assert float(rows["base [copy 2]"]["final_acc_mean"]) == pytest.approx(80.5)
    assert rows["base [copy 1]"]["seeds"] == rows["base [copy 2]"]["seeds"] == "0 1"
    assert "Warnings" in rep.index.read_text()


def test_a_copied_run_never_joins_the_other_folders_seeds(tmp_path):
    for seed in (0, 1, 2):
        write_run(tmp_path / "z-sweep" / "runs", f"base-s{seed}-12345678", [], seed, 90.0)
    write_run(tmp_path / "a-copy", "base-s0-12345678", [], 0, 50.0)  # sorts first by path
    with pytest.warns(UserWarning, match="repeat seed"):
        write_report([tmp_path], tmp_path / "rep")
    rows = settings_rows(tmp_path / "rep")
    assert (rows["base [copy 1]"]["seeds"], rows["base [copy 1]"]["final_acc_mean"]) == ("0 1 2", "90.0")
    assert (rows["base [copy 2]"]["seeds"], rows["base [copy 2]"]["final_acc_mean"]) == ("0", "50.0")


def test_one_config_with_two_ground_truths_is_two_settings_with_a_warning(tmp_path):
    root = tmp_path / "runs"
    for gt in ("a" * 64, "b" * 64):
        for seed in (0, 1):
            run = write_run(root, f"base-s{seed}-{gt[:8]}", [], seed, 90.0 if gt[0] == "a" else 70.0)
            summary = json.loads((run / "summary.json").read_text())
            summary["identity"] = {
                "version": 1,
                "config": "c",
                "numerics": "fp32",
                "world_size": 1,
                "gt": {"metric": "m", "schedule": "200", "sha256": gt},
                "hash": gt[:12],
            }
            (run / "summary.json").write_text(json.dumps(summary))
    with pytest.warns(UserWarning, match="different identities"):
        rep = write_report([root], tmp_path / "rep")
    rows = settings_rows(tmp_path / "rep")
    assert len(rows) == 2 and all(r["runs"] == "2" for r in rows.values())
    assert sorted(float(r["final_acc_mean"]) for r in rows.values()) == [70.0, 90.0]
    assert all("gt aaaaaaaaaaaa" in k or "gt bbbbbbbbbbbb" in k for k in rows)  # told apart by their GT
    assert read_csv(tmp_path / "rep" / "tables" / "table_factors.csv") == []  # the GT is not a factor
    assert rep.num_settings == 2


def test_data_sets_are_separate_scopes_named_everywhere(tmp_path):
    root = tmp_path / "runs"
    for data in ("cifar10", "digits"):
        for seed in (0, 1):
            write_run(root, f"{data}-base-s{seed}", [f"data.name={data}"], seed, 90.0)
            write_run(root, f"{data}-fair-s{seed}", [f"data.name={data}", "sampler.name=fairnas"], seed, 91.0)
    rep = write_report([root], tmp_path / "rep")
    md = (tmp_path / "rep" / "tables" / "table_factors.md").read_text()
    assert "NASBench-201 (cifar10) s-KdT" in md and "NASBench-201 (digits) s-KdT" in md
    assert "data.name" not in md  # the data set is a scope, never a factor
    names = {p.name for p in rep.figures}
    assert {"fig4_hist_nb201_cifar10.png", "fig4_hist_nb201_digits.png"} <= names
    assert {r["data"] for r in read_csv(tmp_path / "rep" / "tables" / "runs.csv")} == {"cifar10", "digits"}


def test_factor_rows_follow_table1_and_declared_value_order(tmp_path):
    root = tmp_path / "runs"
    variants = {
        "base": [],
        "dp": ["mapping.dropout_path=0.1"],
        "fair": ["sampler.name=fairnas"],
        "ra": ["sampler.name=random_a"],
        "lr": ["protocol.lr=0.1"],
        "bn": ["mapping.bn_track_running_stats=true"],
        "tp": ["data.train_portion=0.5"],
    }
    for name, ov in variants.items():
        write_run(root, f"{name}-s0-00000000", ov, 0, 90.0)
    write_report([root], tmp_path / "rep")
    rows = read_csv(tmp_path / "rep" / "tables" / "table_factors.csv")
    keys = list(dict.fromkeys(r["factor"] for r in rows))
    assert keys == sorted(keys, key=TABLE1_FIELDS.index)
    assert keys[0] == "mapping.bn_track_running_stats" and keys[-1] == "mapping.dropout_path"
    samplers = [r["value"] for r in rows if r["factor"] == "sampler.name"]
    assert samplers == ["random_nas", "random_a", "fairnas"]  # the paper's order, not alphabetical


def grid(root: Path) -> None:
    for s in ("random_nas", "fairnas"):
        for lr in ("0.025", "0.1"):
            for seed in (0, 1):
                write_run(
                    root,
                    f"{s}-{lr}-s{seed}",
                    [f"sampler.name={s}", f"protocol.lr={lr}"],
                    seed,
                    90.0,
                    skdt=0.5 if lr == "0.025" else -0.5,
                )


def test_fig8c_draws_one_setting_per_sampler_never_pooling_settings(tmp_path):
    grid(tmp_path / "g")
    runs, _ = load_runs([tmp_path / "g"])
    ((scope, settings),) = group_settings(runs).items()
    a = analyse_space(scope, settings)
    family = figs.sampler_family(a)
    assert [s.experiment["sampler.name"] for s in family] == ["random_nas", "fairnas"]
    assert {s.experiment["protocol.lr"] for s in family} == {a.baseline.experiment["protocol.lr"]}
    assert all(len(s.runs) == 2 for s in family)  # each line: one setting's seeds
    assert figs.fig_skdt_epochs(a, tmp_path) is not None


def test_fig10_shows_supernet_accuracy_skdt_and_final_accuracy(tmp_path, monkeypatch):
    grid(tmp_path / "g")
    runs, _ = load_runs([tmp_path / "g"])
    ((scope, settings),) = group_settings(runs).items()
    drawn = []
    real = figs._figure

    def recording(*args, **kwargs):
        fig, axes = real(*args, **kwargs)
        drawn.append(axes)
        return fig, axes

    monkeypatch.setattr(figs, "_figure", recording)
    assert figs.fig_effects(analyse_space(scope, settings), tmp_path) is not None
    labels = [ax.get_xlabel() for ax in drawn[-1].flat]
    assert [x.split(" (")[0] for x in labels] == ["Δ super-net acc", "Δ s-KdT", "Δ final acc"]
    skdt_bars = [p.get_width() for p in drawn[-1].flat[1].patches]
    assert sorted(skdt_bars) == pytest.approx([-1.0, 0.0])  # lr 0.1 lowers s-KdT by 1 (0.5 -> -0.5)


def test_settings_csv_states_k(tmp_path):
    root = tmp_path / "r"
    for seed in (0, 1):
        write_run(root, f"k5-s{seed}", ["eval.top_k=5"], seed, 90.0)
    write_report([root], tmp_path / "rep")
    with (tmp_path / "rep" / "tables" / "settings.csv").open() as f:
        (row,) = list(csv.DictReader(f))
    assert row["top_k"] == "5"
    assert "top-5" in (tmp_path / "rep" / "tables" / "table_final.md").read_text()
