"""`wsnas demo` end to end: the shipped benchmark, two super-nets, the metrics, the report."""

import json
import re

import pytest

from cpu_goldens import count_of
from wsnas.cli.main import main

pytest.importorskip("sklearn")


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys, monkeypatch, cpu_golden):
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))  # no user cache: the shipped table
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "runtime.threads=2", "runtime.device=cpu"]) == 0
    text = capsys.readouterr().out
    for label in (
        "super-net accuracy (%)",
        "Kendall-Tau",
        "sparse Kendall-Tau",
        "P>R",
        "final searched model (%)",
    ):
        assert re.search(rf"^{re.escape(label)}(\s+\S+ \+- \S+){{2}}$", text, re.M), label
    assert "bn-batch-stats" in text and "bn-tracked-stats" in text and "over 3 seeds" in text
    assert "125 architectures" in text and "report:" in text and "Figure 4" in text
    for name in ("bn-batch-stats", "bn-tracked-stats"):
        for seed in (0, 1, 2):
            summary = json.loads((out / f"{name}-s{seed}" / "summary.json").read_text())
            assert summary["status"] == "finished" and summary["final"]["pool_size"] == 125
            # golden: seeded CPU run, threads=2 (pool images right of 125 x 599, Kendall-Tau)
            final = summary["final"]
            correct = count_of(final["supernet_acc_mean"], 125 * 599)
            cpu_golden.expect(f"{name}-s{seed}", [correct, final["kdt"]])
    assert (out / "report" / "index.html").is_file()
    # a second call reuses the finished runs instead of training again
    assert main(["demo", "--out", str(out), "runtime.threads=2", "runtime.device=cpu", "--no-report"]) == 0
    assert "reused" in capsys.readouterr().err
    cpu_golden.verify()


def test_demo_seeds_and_overrides(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    args = [
        "demo",
        "--seeds",
        "5",
        "--out",
        str(tmp_path),
        "protocol.epochs=1",
        "eval.epochs=[]",
        "runtime.threads=2",
        "--no-report",
        "lowfi.channels=4",
        "eval.pool_size=12",
    ]  # a pool of 12, not all 125: seconds, not minutes
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "over 1 seed)" in text and "report:" not in text
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == [
        "bn-batch-stats-s5",
        "bn-tracked-stats-s5",
    ]
    assert json.loads((tmp_path / "bn-batch-stats-s5" / "summary.json").read_text())["epochs"] == 1
