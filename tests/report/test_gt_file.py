"""Which ground-truth file a run scored against: its summary records it, the runs table shows it."""

from __future__ import annotations

import csv
import json

from wsnas.config import dump_config, load_config
from wsnas.groundtruth.table import Benchmark
from wsnas.report import write_report
from wsnas.trainers.supernet_trainer import gt_file


def _bench(meta):
    return Benchmark(index=[0, 1], arch=["a", "b"], canonical=["a", "b"], acc=[90.0, 91.0], meta=meta)


def test_gt_file_names_the_file_and_darts_sizes():
    darts = {"file": "DARTS.json", "macro": "mixed"}
    assert gt_file(_bench(darts)) == darts
    assert gt_file(_bench({"source": "/data/NDS/DARTS_fix-w-d.json", "macro": "w16d8"})) == {
        "file": "DARTS_fix-w-d.json",
        "macro": "w16d8",
    }
    assert gt_file(_bench({"source": "/x/nb201_accuracy_200ep.csv"})) == {"file": "nb201_accuracy_200ep.csv"}
    assert gt_file(_bench({})) == {"file": None}


def test_runs_table_shows_the_gt_file(tmp_path):
    for seed, (name, bench) in enumerate((("a-s0", {"file": "DARTS.json", "macro": "mixed"}), ("b-s1", {}))):
        cfg = load_config(None, ["space.name=darts_nds", f"name={name}", f"seed={seed}", "eval.pool_size=12"])
        run = tmp_path / "runs" / name
        run.mkdir(parents=True)
        dump_config(cfg, run / "config.yaml")
        summary = {"status": "finished", "final": {"final_acc": 93.0}, "benchmark": bench}
        (run / "summary.json").write_text(json.dumps(summary))
    rep = write_report([tmp_path / "runs"], tmp_path / "rep")
    rows = {r["run_dir"].split("/")[-1]: r for r in csv.DictReader((rep.out / "tables" / "runs.csv").open())}
    assert rows["a-s0"]["gt_file"] == "DARTS.json (mixed)"
    assert rows["b-s1"]["gt_file"] == "?"  # a run from before the file was recorded
    assert "| GT file | Run dir |" in (rep.out / "tables" / "runs.md").read_text()
