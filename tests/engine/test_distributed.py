"""Multi-process training of one super-net (torchrun, gloo on CPU).

The end-to-end tests launch 2 ranks through torchrun exactly as a user would; every
epoch the trainer itself checks that all ranks hold bit-identical weights, BN state
and sampler RNG state (so the same path sequence), and fails the run otherwise. The
unit test checks the gradient average against a full-batch gradient in a model
without batch norm, where sharding must not change the result at all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from wsnas.engine import distributed

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
    "protocol.epochs=3",
    "eval.epochs=[1]",
    "sampler.name=fairnas",
]


def _args(tmp: Path, cifar10_root: Path, shared_data: Path, name: str) -> list[str]:
    csv = shared_data / "nb201" / "nb201_accuracy_200ep.csv"
    return [
        f"data.root={cifar10_root}",
        f"bench.source={csv}",
        f"bench.cache_dir={tmp / 'cache'}",
        f"out_dir={tmp / 'runs'}",
        *TINY,
        f"name={name}",
    ]


def _torchrun(args: list[str]) -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "wsnas",
        "train",
        "--json",
        *args,
    ]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def _finish(proc: subprocess.Popen) -> str:
    try:
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    assert proc.returncode == 0, err[-3000:]
    return out


@pytest.mark.slow  # torchrun, 2 ranks, real data
def test_two_ranks_write_one_run_and_resume_exactly(tmp_path, cifar10_root, shared_data):
    out = _finish(_torchrun(_args(tmp_path, cifar10_root, shared_data, "straight")))
    lines = [json.loads(s) for s in out.splitlines() if s.startswith("{")]
    assert len(lines) == 1 and lines[0]["status"] == "finished"  # rank 0 alone prints
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["straight"]  # one run dir
    run = tmp_path / "runs" / "straight"
    assert sorted(p.name for p in (run / "evals").iterdir()) == ["epoch_0001.csv", "epoch_0003.csv"]
    log = [json.loads(s) for s in (run / "log.jsonl").read_text().splitlines()]
    assert [(r["type"], r["epoch"]) for r in log] == [
        ("epoch", 1),
        ("eval", 1),
        ("epoch", 2),
        ("epoch", 3),
        ("eval", 3),
    ]
    straight = json.loads((run / "summary.json").read_text())
    assert straight["status"] == "finished" and straight["epochs"] == 3

    # Kill the whole job after epoch 1, resume it on 2 ranks: same final metrics.
    args = _args(tmp_path, cifar10_root, shared_data, "killed")
    proc = _torchrun(args)
    killed = tmp_path / "runs" / "killed"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        if (killed / "log.jsonl").exists() and (killed / "log.jsonl").read_text().count("\n") >= 1:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists(), "the job must have been killed mid-way"
    _finish(_torchrun(["--resume", str(killed), "runtime.threads=1"]))
    log = [json.loads(s) for s in (killed / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log if r["type"] == "epoch"] == [1, 2, 3]
    killed_final = json.loads((killed / "summary.json").read_text())["final"]
    assert json.dumps(killed_final, sort_keys=True) == json.dumps(
        straight["final"], sort_keys=True
    )  # NaN-safe


def _grad_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    """One rank: shard gradient, averaged; rank 0 also checks the drift detector."""
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world
    )
    env = distributed.DistEnv(rank=rank, world_size=world, local_rank=rank)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    unused = torch.nn.Linear(2, 2)  # a branch not on this step's path: grad stays None
    x, y = torch.randn(12, 8), torch.randint(0, 3, (12,))
    loss = torch.nn.functional.cross_entropy(model(distributed.shard(x, env)), distributed.shard(y, env))
    loss.backward()
    params = [*model.parameters(), *unused.parameters()]
    distributed.average_gradients(params, env)
    assert all(p.grad is None for p in unused.parameters())
    torch.save([p.grad for p in model.parameters()], Path(out_dir) / f"grad{rank}.pt")
    distributed.assert_in_sync(model, {"sampler": 1}, env)  # identical: passes
    if rank == 1:
        with torch.no_grad():
            model[0].bias[0] += 1e-6
    try:
        distributed.assert_in_sync(model, {"sampler": 1}, env)
    except Exception as e:  # noqa: BLE001 - the message is what the test checks
        (Path(out_dir) / f"drift{rank}.txt").write_text(str(e))
    torch.distributed.destroy_process_group()


@pytest.mark.slow  # spawns 2 gloo processes
def test_average_gradients_equals_full_batch_gradient(tmp_path):
    torch.multiprocessing.spawn(_grad_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    torch.nn.Linear(2, 2)
    x, y = torch.randn(12, 8), torch.randint(0, 3, (12,))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    for rank in (0, 1):
        grads = torch.load(tmp_path / f"grad{rank}.pt")
        for g, p in zip(grads, model.parameters(), strict=True):
            torch.testing.assert_close(g, p.grad, rtol=1e-6, atol=1e-7)
        assert "ranks diverged" in (tmp_path / f"drift{rank}.txt").read_text()


def test_single_process_is_a_no_op(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    env, dev = distributed.init(torch.device("cpu"))
    assert not env.enabled and env.is_main and dev == torch.device("cpu")
    t = torch.arange(6)
    assert distributed.shard(t, env) is t
    distributed.check_batch(7, env)
    with pytest.raises(Exception, match="multiple of the world size"):
        distributed.check_batch(7, distributed.DistEnv(rank=0, world_size=2))
