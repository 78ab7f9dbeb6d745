"""End to end on real data: tiny super-net, real CIFAR-10 and real NB201 ground truth.

Also: exact resume after a SIGKILL (CPU), divergence status, run-dir guards.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cpu_goldens import count_of
from wsnas.cli.main import main
from wsnas.config import load_config
from wsnas.core.errors import WsnasError
from wsnas.trainers.supernet_trainer import Diverged, train

TINY = [
    "lowfi.channels=4",
    "lowfi.cells_per_stage=1",
    "protocol.batch_size=64",
    "data.train_portion=0.01",
    "eval.pool_size=12",
    "eval.num_images=256",
    "eval.batch_size=128",
    "runtime.progress=false",
    "runtime.threads=1",
]


@pytest.fixture(scope="module")
def nb201_csv(shared_data):
    return shared_data / "nb201" / "nb201_accuracy_200ep.csv"


def tiny(tmp, cifar10_root, nb201_csv, *extra):
    return [
        f"data.root={cifar10_root}",
        f"bench.source={nb201_csv}",
        f"bench.cache_dir={tmp / 'cache'}",
        f"out_dir={tmp / 'runs'}",
        *TINY,
        *extra,
    ]


def test_end_to_end(tmp_path, cifar10_root, nb201_csv, cpu_golden):
    cfg = load_config(
        None,
        tiny(
            tmp_path, cifar10_root, nb201_csv, "protocol.epochs=2", "eval.epochs=[1]", "sampler.name=fairnas"
        ),
    )
    summary = train(cfg)
    run = Path(summary["run_dir"])
    assert summary["status"] == "finished" and summary["epochs"] == 2
    for name in (
        "config.yaml",
        "log.jsonl",
        "checkpoint.pt",
        "summary.json",
        "evals/epoch_0001.csv",
        "evals/epoch_0002.csv",
    ):
        assert (run / name).exists(), name
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["type"] for r in log] == ["epoch", "eval", "epoch", "eval"]
    assert all(r["images_per_s"] > 0 for r in log if r["type"] == "epoch")
    # golden: seeded CPU run, threads=1 (mean train loss per epoch)
    cpu_golden.expect("train_loss", [r["train_loss"] for r in log if r["type"] == "epoch"], abs=1e-6)
    rows = list(csv.DictReader((run / "evals/epoch_0002.csv").open()))
    assert len(rows) == 12
    for r in rows:
        assert 10.0 <= float(r["gt_acc"]) <= 95.0
    # golden: seeded CPU run, threads=1 (each pool arch's super-net accuracy, as written)
    cpu_golden.expect("supernet_acc", [r["supernet_acc"] for r in rows])
    final = summary["final"]
    # golden: seeded CPU run, threads=1 (pool images right of the 12 x 256)
    cpu_golden.expect("pool_correct", count_of(final["supernet_acc_mean"], 12 * 256))
    # the tie rule: the archs above the 3rd-best super-net score are in; the slots left go to the
    # archs tied at that score, so final_acc counts their mean GT and P>R its mean over the choices
    sn = [float(r["supernet_acc"]) for r in rows]
    gt = [float(r["gt_acc"]) for r in rows]
    rk = [int(r["gt_rank"]) for r in rows]
    third = sorted(sn, reverse=True)[2]
    top = [i for i, a in enumerate(sn) if a > third]
    tied = [i for i, a in enumerate(sn) if a == third]
    left = 3 - len(top)
    assert final["pool_distinct_scores"] == len(set(sn))
    mean_tied = sum(gt[i] for i in tied) / len(tied)
    assert final["final_acc"] == pytest.approx((sum(gt[i] for i in top) + left * mean_tied) / 3, abs=1e-3)
    # P>R = (1 - r/r_max)^3 with r the best GT rank among the top-3, averaged over the tie choices
    r_max = summary["benchmark"]["size"]
    choices = [min(rk[i] for i in (*top, *pick)) for pick in itertools.combinations(tied, left)]
    assert final["pbr"] == pytest.approx(sum((1 - r / r_max) ** 3 for r in choices) / len(choices), abs=1e-9)
    # golden: seeded CPU run, threads=1 (the tie structure, P>R and the rank correlations over the pool)
    cpu_golden.expect("ties", [len(top), len(tied), final["pool_distinct_scores"]])
    cpu_golden.expect("pbr_kdt_skdt_spearman", [final[k] for k in ("pbr", "kdt", "skdt", "spearman")])
    cpu_golden.verify()
    assert "floor(gt/0.1)" in final["skdt_definition"]
    assert summary["config_hash"] == cfg.hash()


def test_refuses_to_clobber(tmp_path, cifar10_root, nb201_csv):
    cfg = load_config(None, tiny(tmp_path, cifar10_root, nb201_csv, "protocol.epochs=1"))
    train(cfg)
    with pytest.raises(WsnasError, match="--resume"):
        train(cfg)


def _final(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())["final"]


@pytest.mark.slow  # 5 epochs, killed and resumed, then again
def test_resume_after_kill_matches_uninterrupted(tmp_path, cifar10_root, nb201_csv):
    args = tiny(
        tmp_path,
        cifar10_root,
        nb201_csv,
        "protocol.epochs=5",
        "eval.epochs=[2]",
        "name=killed",
        "mapping.dropout_path=0.2",
        "mapping.dropout_global=0.1",
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsnas", "train", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    run = tmp_path / "runs" / "killed"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        log = run / "log.jsonl"
        if log.exists() and sum(1 for _ in log.open()) >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "summary.json").exists(), "the run must have been killed mid-way"
    assert main(["train", "--resume", str(run), "runtime.threads=1"]) == 0
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log if r["type"] == "epoch"] == [1, 2, 3, 4, 5]

    straight = train(
        load_config(
            None, [*args[:-3], "name=straight", "mapping.dropout_path=0.2", "mapping.dropout_global=0.1"]
        )
    )
    assert json.dumps(_final(run), sort_keys=True) == json.dumps(
        straight["final"], sort_keys=True
    )  # NaN-safe


def test_resume_rejects_changed_experiment(tmp_path, cifar10_root, nb201_csv):
    cfg = load_config(None, tiny(tmp_path, cifar10_root, nb201_csv, "protocol.epochs=1", "name=r"))
    train(cfg)
    run = tmp_path / "runs" / "r"
    assert main(["train", "--resume", str(run), "protocol.lr=0.5"]) == 2


def test_divergence_is_a_status_not_a_trace(tmp_path, cifar10_root, nb201_csv, capsys):
    args = tiny(
        tmp_path,
        cifar10_root,
        nb201_csv,
        "protocol.epochs=2",
        "protocol.lr=1e30",
        "protocol.grad_clip=0",
        "name=div",
    )
    with pytest.raises(Diverged, match=r"diverged at epoch 1 step \d+"):
        train(load_config(None, args))
    summary = json.loads((tmp_path / "runs" / "div" / "summary.json").read_text())
    assert summary["status"] == "diverged"
    assert main(["train", *args[:-1], "name=div2"]) == 2
    assert "diverged at epoch" in capsys.readouterr().err
