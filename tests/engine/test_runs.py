"""engine/runs.py is the one reader of a run dir: `wsnas show`, the end table of `wsnas train`,
the report and `wsnas.open_run` all read through it; progress bars in a Jupyter kernel."""

from __future__ import annotations

import csv
import io
import json
import sys
import types
from pathlib import Path

import pytest
from tqdm import tqdm

from wsnas.cli.commands.train import print_result
from wsnas.cli.views import show
from wsnas.config import dump_config, load_config
from wsnas.core.dirlock import LOCK_NAME
from wsnas.engine import runs
from wsnas.engine.progress import ProgressHook, in_notebook
from wsnas.report.runs import load_runs


def write_run(root: Path, name: str = "r") -> Path:
    """A finished super-net run dir as the trainer lays it out (2 epochs, evaluated after each)."""
    run = root / name
    (run / "evals").mkdir(parents=True)
    overrides = ["space.name=nb201_mini", "data.name=digits", "protocol.epochs=2", f"name={name}"]
    cfg = load_config(None, overrides)
    dump_config(cfg, run / "config.yaml")
    (run / LOCK_NAME).write_text("")
    log, evals = [], []
    for epoch in (1, 2):
        log.append({"type": "epoch", "epoch": epoch, "lr": 0.025, "train_loss": 2.0, "train_acc": 10.0})
        ev = {"supernet_acc_mean": 10.0 * epoch, "kdt": 0.1 * epoch, "skdt": 0.2 * epoch, "pbr": 0.5}
        ev |= {"final_acc": 98.0, "spearman": 0.3, "pool_size": 3, "csv": f"evals/epoch_{epoch:04d}.csv"}
        log.append({"type": "eval", "epoch": epoch, **ev})
        evals.append(ev)
        with (run / ev["csv"]).open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["arch", "canonical", "index", "supernet_acc", "gt_acc", "gt_rank"])
            for i in range(3):
                w.writerow([f"a{i}", f"c{i}", i, f"{10.0 * epoch + i:.4f}", f"{97.0 + i:.4f}", 3 - i])
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    final = {k: v for k, v in log[-1].items() if k not in ("type", "csv")}
    summary = {
        "status": "finished",
        "run_dir": str(run),
        "epochs": 2,
        "config_hash": cfg.hash(),
        "final": final,
        "top_archs": {"archs": [], "tied_beyond": 0},
        "top_k": 3,
        "sparse_threshold": 0.1,
        "benchmark": {"space": "nb201_mini", "metric": "standalone/digits-test", "size": 125},
    }
    (run / "summary.json").write_text(json.dumps(summary))
    return run


@pytest.fixture
def spy(monkeypatch):
    """Every path the one reader reads log.jsonl and summary.json from."""
    seen: list[Path] = []
    real_log, real_summary = runs.read_log, runs.read_summary

    def read_log(path):
        seen.append(Path(path))
        return real_log(path)

    def read_summary(path):
        seen.append(Path(path))
        return real_summary(path)

    monkeypatch.setattr(runs, "read_log", read_log)
    monkeypatch.setattr(runs, "read_summary", read_summary)
    return seen


def test_show_reads_through_the_one_reader(tmp_path, spy):
    run = write_run(tmp_path)
    text = show(run)
    assert spy == [run / "summary.json", run / "log.jsonl"]
    assert text.splitlines()[0] == f"{run}: finished (2/2 epochs)"
    assert "   2  0.0250       2.000       10.0          20.00  +0.200  +0.400  0.500      98.00" in text


def test_the_train_end_table_reads_through_the_one_reader(tmp_path, spy, capsys):
    run = write_run(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    print_result(summary, as_json=False)
    assert run / "summary.json" in spy
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"{run}: finished"
    assert show(run).endswith("\n".join(out.splitlines()[1:]))  # the end table `show` ends with


def test_the_report_reads_through_the_one_reader(tmp_path, spy):
    run = write_run(tmp_path)
    (record,), skipped = load_runs([tmp_path])
    assert not skipped and spy == [run.resolve() / "summary.json", run.resolve() / "log.jsonl"]
    result = runs.open_run(run)
    logged = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert record.eval_log() == [r for r in logged if r["type"] == "eval"]
    assert record.final_supernet_accs().tolist() == [a["supernet_acc"] for a in result.archs] == [20, 21, 22]
    assert record.summary == result.summary and record.metric("skdt") == result.final["skdt"]


def test_evaluations_without_a_csv_name_and_a_missing_csv(tmp_path):
    run = write_run(tmp_path)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    for r in log:
        r.pop("csv", None)  # older run dirs: the CSV is found by its epoch
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    (run / "evals" / "epoch_0001.csv").unlink()
    res = runs.open_run(run)
    assert res.evaluations[0].archs == []
    assert [a["arch"] for a in res.evaluations[1].archs] == ["a0", "a1", "a2"]


def test_a_standalone_run_has_no_arch_rows(tmp_path):
    run = write_run(tmp_path)
    config = runs.read_config(run / "config.yaml")
    (run / "config.yaml").write_text(json.dumps({**config, "proxy": {}}))
    res = runs.open_run(run)
    assert res.kind == "standalone" and all(e.csv is None and e.archs == [] for e in res.evaluations)


def test_progress_bars_show_in_a_jupyter_kernel(monkeypatch):
    assert not in_notebook()
    assert ProgressHook(io.StringIO()).bars is False  # not a terminal, not a notebook
    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    assert in_notebook()
    hook = ProgressHook()  # stderr in a kernel is no terminal, yet progress shows
    widgets = "ipywidgets" in sys.modules or _has("ipywidgets")
    assert hook.bars is widgets and (hook.bar_class is tqdm) is not widgets  # widget bars, or
    assert hook.lines is not widgets  # a line per epoch where the widgets are missing (no text bars)
    assert ProgressHook(io.StringIO()).bars is False  # an explicit stream is not the notebook's
    shell.config = {}  # an IPython terminal: its own stderr decides
    assert not in_notebook()


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
