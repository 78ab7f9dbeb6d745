""" "Beyond the paper": rows a study adds to what the paper reports are marked in the factor table."""

from __future__ import annotations

import csv
import json

from wsnas.config import dump_config, load_config
from wsnas.report import write_report
from wsnas.spaces.table1 import PAPER_SCOPES, beyond_paper


def test_declarations():
    why = beyond_paper("sampler.name", "darts_nds")
    assert why is not None and "NASBench-101 and NASBench-201 only" in why
    assert beyond_paper("sampler.name", "nb201") is None and beyond_paper("sampler.name", "nb101") is None
    assert beyond_paper("mapping.dropout_path", "darts_nds") is None  # a Table 1 factor
    assert "not a factor of the paper's Table 1" in (beyond_paper("eval.pool_size", "nb201") or "")
    assert beyond_paper("sampler.name", "nb201_mini") is None  # a stand-in space claims nothing
    assert {s.field for s in PAPER_SCOPES} >= {"sampler.name"}


def _run(root, space, name, seed, overrides, acc):
    cfg = load_config(
        None, [f"space.name={space}", f"name={name}", f"seed={seed}", "eval.pool_size=12", *overrides]
    )
    run = root / name
    run.mkdir(parents=True)
    dump_config(cfg, run / "config.yaml")
    (run / "summary.json").write_text(json.dumps({"status": "finished", "final": {"final_acc": acc}}))


def test_sampler_rows_on_darts_are_marked_and_nb201_are_not(tmp_path):
    for space in ("nb201", "darts_nds"):
        for seed in (0, 1):
            _run(tmp_path / space, space, f"base-s{seed}", seed, [], 90.0 + seed)
            _run(tmp_path / space, space, f"fair-s{seed}", seed, ["sampler.name=fairnas"], 91.0 + seed)
    rep = write_report([tmp_path / "nb201", tmp_path / "darts_nds"], tmp_path / "rep")
    md = (rep.out / "tables" / "table_factors.md").read_text()
    assert "| sampler.name | fairnas [beyond the paper: DARTS-NDS (cifar10)] |" in md
    assert "| sampler.name | random_nas (ref) |" in md  # the reference value is the baseline, not a row
    assert "NASBench-101 and NASBench-201 only" in md
    rows = {r["value"]: r for r in csv.DictReader((rep.out / "tables" / "table_factors.csv").open())}
    assert rows["fairnas"]["darts_nds_cifar10_beyond_paper"] == "True"
    assert rows["fairnas"]["nb201_cifar10_beyond_paper"] == "False"
