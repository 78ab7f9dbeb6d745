"""The report's seed-averaged authors' metrics (wsnas.report.definitions), pinned by hand.

The pool is tests/core/test_metric_definitions.py's (12 architectures, super-net scores 60..49).
"""

from __future__ import annotations

import pytest

from wsnas.core.metrics import metric_definition, summarize
from wsnas.report.definitions import PoolScores, seed_averaged

GT = [93.05, 93.12, 93.38, 93.95, 92.71, 92.40, 91.99, 91.50, 90.20, 89.90, 89.10, 88.00]
SN = [60.0 - i for i in range(12)]
RANK = [5, 4, 3, 0, 6, 7, 8, 9, 10, 11, 12, 13]
TOTAL = 20


def test_seed_average_comes_before_the_metrics():
    """The authors' scripts average each architecture's super-net accuracy over seeds, then rank."""
    archs = [f"a{i}" for i in range(12)]

    def pool(scores: list[float]) -> PoolScores:
        return PoolScores(
            dict(zip(archs, scores, strict=True)),
            dict(zip(archs, GT, strict=True)),
            dict(zip(archs, RANK, strict=True)),
            TOTAL,
        )

    # seed 1 puts arch 11 on top (score 70) and arch 0 last (40): averaged, arch 11 scores
    # (49 + 70) / 2 = 59.5 and arch 0 (60 + 40) / 2 = 50; the others (s + s) / 2 = s.
    seed1 = list(SN)
    seed1[0], seed1[11] = 40.0, 70.0
    d = metric_definition("authors", "nb101")
    out = seed_averaged([pool(SN), pool(seed1)], d)
    assert out is not None and out["seeds"] == 2
    # averaged ranking: 1 (59), 11 (59.5) first: order 11, 1, 2, 3, 4 -> top-5 GT
    assert out["final_acc"] == pytest.approx((88.00 + 93.12 + 93.38 + 93.95 + 92.71) / 5)
    assert out["pbr_rank"] == 0
    # a per-seed metric of either seed differs from the seed-averaged one
    per_seed = summarize(SN, GT, RANK, TOTAL, d.threshold, d.k, definition="authors")
    assert per_seed["final_acc"] != pytest.approx(out["final_acc"])
    # an architecture missing from one seed's pool is averaged over the pools holding it
    partial = pool(seed1)
    del partial.accs["a5"]
    out2 = seed_averaged([pool(SN), partial], d)
    assert out2 is not None and out2["supernet_acc_mean"] == pytest.approx(
        (sum((a + b) / 2 for a, b in zip(SN, seed1, strict=True) if a != 55.0) + 55.0) / 12
    )


def test_seed_average_needs_the_top_k():
    d = metric_definition("authors", "nb201")  # top-10
    few = PoolScores({"a": 1.0, "b": 2.0}, {"a": 90.0, "b": 91.0}, {"a": 1, "b": 0}, 5)
    assert seed_averaged([few], d) is None
    assert seed_averaged([], d) is None


def _run_dir(root, name: str, seed: int, scores: list[float], overrides: list[str] = ()):
    """A finished NB101 run dir whose final eval CSV holds SCORES for the module's pool."""
    import csv
    import json

    from wsnas.config import dump_config, load_config

    keys = ["space.name=nb101", *overrides, f"seed={seed}", f"name={name}", "eval.pool_size=12"]
    cfg = load_config(None, keys)
    run = root / name
    (run / "evals").mkdir(parents=True)
    dump_config(cfg, run / "config.yaml")
    d = cfg.metrics()
    final = summarize(scores, GT, RANK, TOTAL, d.threshold, d.k, definition=d.name)
    (run / "summary.json").write_text(json.dumps({"status": "finished", "final": final}))
    with (run / "evals" / "epoch_0001.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "canonical", "index", "supernet_acc", "gt_acc", "gt_rank"])
        for i in range(12):
            w.writerow([f"a{i}", f"a{i}", i, scores[i], GT[i], RANK[i]])
    return final


def test_report_tables_show_both_definitions_side_by_side(tmp_path):
    import csv

    from wsnas.report import write_report

    seed1 = list(SN)
    seed1[0], seed1[11] = 40.0, 70.0
    f0 = _run_dir(tmp_path / "runs", "base-s0", 0, SN)
    f1 = _run_dir(tmp_path / "runs", "base-s1", 1, seed1)
    for seed, scores in ((0, SN), (1, seed1)):
        _run_dir(tmp_path / "runs", f"fair-s{seed}", seed, scores[::-1], ["sampler.name=fairnas"])
    rep = write_report([tmp_path / "runs"], tmp_path / "rep")
    final = {r["setting"]: r for r in csv.DictReader((rep.out / "tables" / "table_final.csv").open())}
    base = final["base"]
    # paper: mean over seeds of each run's top-3 GT; authors: top-5 of the seed-averaged scores
    paper = (f0["final_acc"] + f1["final_acc"]) / 2
    assert float(base["nb101_cifar10_final_acc_mean"]) == pytest.approx(paper)
    assert float(base["nb101_cifar10_authors_final_acc_mean"]) == pytest.approx(
        (88.00 + 93.12 + 93.38 + 93.95 + 92.71) / 5
    )
    md = (rep.out / "tables" / "table_final.md").read_text()
    assert "NASBench-101 (cifar10), top-3 [paper] | NASBench-101 (cifar10), top-5 [authors, seed-avg]" in md
    assert "(2 seeds)" in md
    factors = {r["value"]: r for r in csv.DictReader((rep.out / "tables" / "table_factors.csv").open())}
    d = metric_definition("authors", "nb101")
    avg = [(a + b) / 2 for a, b in zip(SN, seed1, strict=True)]
    want = summarize(avg, GT, RANK, TOTAL, d.threshold, d.k, definition="authors")
    assert float(factors["random_nas"]["nb101_cifar10_authors_skdt_mean"]) == pytest.approx(want["skdt"])
    assert float(factors["random_nas"]["nb101_cifar10_authors_pbr_mean"]) == pytest.approx(want["pbr"])
    assert (
        "s-KdT [paper] | NASBench-101 (cifar10) s-KdT [authors, seed-avg]"
        in (rep.out / "tables" / "table_factors.md").read_text()
    )


def test_a_second_report_reads_changed_runs_again(tmp_path):
    import csv

    from wsnas.report import write_report

    _run_dir(tmp_path / "runs", "base-s0", 0, SN)
    _run_dir(tmp_path / "runs", "base-s1", 1, SN)
    first = write_report([tmp_path / "runs"], tmp_path / "rep")
    row = next(csv.DictReader((first.out / "tables" / "table_final.csv").open()))
    assert float(row["nb101_cifar10_authors_final_acc_mean"]) == pytest.approx(sum(GT[:5]) / 5)
    import shutil

    shutil.rmtree(tmp_path / "runs")
    _run_dir(tmp_path / "runs", "base-s0", 0, SN[::-1])  # the same run dirs, retrained
    _run_dir(tmp_path / "runs", "base-s1", 1, SN[::-1])
    again = write_report([tmp_path / "runs"], tmp_path / "rep")
    row = next(csv.DictReader((again.out / "tables" / "table_final.csv").open()))
    assert float(row["nb101_cifar10_authors_final_acc_mean"]) == pytest.approx(sum(GT[-5:]) / 5)
