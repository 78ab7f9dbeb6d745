"""Sweeps that really train, on real CIFAR-10 and the real NB201 ground truth.

- the shipped smoke sweep (sweeps/smoke-nb201.yaml, sequential, 2 local workers) is
  killed with SIGKILL after its first finished run and rerun: nothing finished is
  trained again, cut runs resume, and the report of the result has the factor rows,
  figures and an index.html that references them;
- a Ray sweep on a local Ray instance records a diverged and a failed run next to a
  finished one, and a rerun retries only the failed one.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from wsnas.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "src" / "wsnas" / "configs" / "sweeps" / "smoke-nb201.yaml"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_overrides(cifar10_root, shared_data, tmp_path_factory):
    cache = tmp_path_factory.mktemp("bench-cache")
    return [
        f"data.root={cifar10_root}",
        f"bench.source={shared_data / 'nb201' / 'nb201_accuracy_200ep.csv'}",
        f"bench.cache_dir={cache}",
        "runtime.threads=1",
    ]  # pinned: the goldens below are 1-thread runs


def _summaries(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/summary.json")}


@pytest.fixture(scope="module")
def smoke_sweep(tmp_path_factory, data_overrides):
    """The smoke sweep, killed (whole process group) after its first finished run, then rerun."""
    out = tmp_path_factory.mktemp("smoke") / "sweep"
    args = ["sweep", str(SMOKE), "--out", str(out), *data_overrides]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsnas", *args],
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not _summaries(out):
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[0].decode()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = time.perf_counter() - t0
    before = _summaries(out)
    cut = [
        p.parent.name
        for p in (out / "runs").glob("*/checkpoint.pt")
        if not (p.parent / "summary.json").exists()
    ]
    assert 1 <= len(before) < 6
    t1 = time.perf_counter()
    assert main(args) == 0
    return {
        "out": out,
        "before": before,
        "cut": cut,
        "killed_at": killed_at,
        "rerun_s": time.perf_counter() - t1,
    }


def test_smoke_sweep_resumes_after_kill(smoke_sweep, cpu_golden):
    out = smoke_sweep["out"]
    after = _summaries(out)
    assert len(after) == 6  # 2 samplers x 2 seeds, then BN running stats on for the winner
    for name, mtime in smoke_sweep["before"].items():
        assert after[name] == mtime, f"{name} was trained again"
    for name in list(after):
        log = [json.loads(x) for x in (out / "runs" / name / "log.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in log if r["type"] == "epoch"] == [1, 2], name
    doc = json.loads((out / "sequential.json").read_text())
    assert doc["done"]
    assert list(doc["chosen"]) == ["sampler.name", "mapping.bn_track_running_stats"]
    assert [s["factor"] for s in doc["stages"]] == list(doc["chosen"])
    status = json.loads((out / "status.json").read_text())["runs"]
    assert sorted(s["status"] for s in status.values()) == ["finished"] * 6
    assert not (out / "failed.jsonl").exists()
    # golden: seeded CPU run, threads=1 (the factor values the sequential protocol fixed)
    cpu_golden.expect("chosen", doc["chosen"])
    cpu_golden.verify()
    print(
        f"smoke sweep: killed after {smoke_sweep['killed_at']:.1f} s, "
        f"rerun {smoke_sweep['rerun_s']:.1f} s, cut runs resumed: {smoke_sweep['cut']}"
    )


def test_smoke_report_content(smoke_sweep, tmp_path, cpu_golden):
    from report_fixtures import assert_images_exist

    out = tmp_path / "report"
    assert main(["report", str(smoke_sweep["out"]), "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "tables" / "table_factors.csv").open()))
    assert {(r["factor"], r["value"]) for r in rows} == {
        ("sampler.name", "random_nas"),
        ("sampler.name", "fairnas"),
        ("mapping.bn_track_running_stats", "false"),
        ("mapping.bn_track_running_stats", "true"),
    }
    for r in rows:
        assert r["nb201_cifar10_final_acc_n"] == "2"
        # golden: seeded CPU run, threads=1 (per factor row: mean over the 2 seeds of final_acc and
        # of the super-net accuracy)
        cpu_golden.expect(
            f"{r['factor']}={r['value']}",
            [float(r["nb201_cifar10_final_acc_mean"]), float(r["nb201_cifar10_supernet_acc_mean_mean"])],
        )
    md = (out / "tables" / "table_factors.md").read_text()
    assert "| sampler.name | random_nas (ref) |" in md and "NASBench-201 (cifar10) s-KdT" in md
    final = (out / "tables" / "table_final.md").read_text()
    assert "| base |" in final and final.count("(n=2)") == 3
    cpu_golden.verify()
    figures = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert figures == sorted(
        [
            "fig4_hist_nb201_cifar10.png",
            "fig8_skdt_epochs_nb201_cifar10.png",
            "fig10_effects_nb201_cifar10.png",
            "fig11_metric_pairs.png",
            "fig_factor_nb201_cifar10_sampler.name.png",
            "fig_factor_nb201_cifar10_mapping.bn_track_running_stats.png",
        ]
    )
    html = (out / "index.html").read_text()
    assert all(f"figures/{f}" in html for f in figures)
    assert_images_exist(out / "index.html", expected=len(figures))


def test_ray_sweep_records_diverged_and_failed_runs(tmp_path, data_overrides):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'wsnas[ray]'")
    spec = {
        "base": str(ROOT / "src" / "wsnas" / "configs" / "nb201.yaml"),
        "overrides": yaml.safe_load(SMOKE.read_text())["overrides"]
        | {"protocol.epochs": 1, "eval.epochs": [], "protocol.grad_clip": 0.0},
        "factors": {"protocol.lr": [0.025, 1.0e30], "bench.metric": ["cifar10/ori-test", "cifar10/nope"]},
        "seeds": [0],
        "mode": "one-at-a-time",
    }
    f = tmp_path / "ray.yaml"
    f.write_text(yaml.safe_dump(spec))
    out = tmp_path / "sweep"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        args = ["sweep", str(f), "--out", str(out), "--executor", "ray", *data_overrides]
        assert main(args) == 1  # one run failed
        status = json.loads((out / "status.json").read_text())["runs"]
        by_label = {s["label"]: s for s in status.values()}
        assert by_label["base"]["status"] == "finished"
        assert by_label["protocol.lr=1e+30"]["status"] == "diverged"
        assert "diverged at epoch 1" in by_label["protocol.lr=1e+30"]["error"]
        assert by_label["bench.metric=cifar10/nope"]["status"] == "failed"
        assert "no column for metric 'cifar10/nope'" in by_label["bench.metric=cifar10/nope"]["error"]
        failed = [json.loads(x) for x in (out / "failed.jsonl").read_text().splitlines()]
        assert sorted(x["status"] for x in failed) == ["diverged", "failed"]
        assert "BenchmarkError" in next(x["traceback"] for x in failed if x["status"] == "failed")

        finished = _summaries(out)
        assert main(args) == 1  # the failed run is retried (and fails again); nothing else runs
        assert _summaries(out) == finished
        failed = [json.loads(x) for x in (out / "failed.jsonl").read_text().splitlines()]
        assert sorted(x["status"] for x in failed) == ["diverged", "failed", "failed"]
    finally:
        ray.shutdown()
