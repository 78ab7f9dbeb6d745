"""What a person sees around a run (issue 17): start line, progress, end table, `wsnas show`,
`--json`, resume messages, file modes under a umask, a start that failed in epoch 1, a small pool."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
import torch

from wsnas.cli.main import main
from wsnas.cli.views import show
from wsnas.config import load_config
from wsnas.core.atomic import atomic_write, current_umask
from wsnas.engine.loop import EpochTrainer, HookBase
from wsnas.engine.progress import ProgressHook, duration
from wsnas.engine.rundir import RunDir
from wsnas.groundtruth import open_benchmark
from wsnas.groundtruth.table import Benchmark
from wsnas.spaces import get_space
from wsnas.trainers.supernet_trainer import Trainer, train

pytest.importorskip("sklearn")

MINI = [
    "space.name=nb201_mini",
    "data.name=digits",
    "lowfi.channels=4",
    "lowfi.cells_per_stage=1",
    "protocol.batch_size=64",
    "eval.pool_size=12",
    "eval.batch_size=128",
    "runtime.device=cpu",
    "runtime.threads=1",
]


@pytest.fixture
def mini(tmp_path, monkeypatch):
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    return [*MINI, f"out_dir={tmp_path / 'runs'}"]


@pytest.mark.slow  # about 7 s on a loaded 2-core machine
def test_train_prints_a_start_line_and_an_end_table_and_names_the_top_archs(tmp_path, mini, capsys):
    assert main(["train", *mini, "name=r", "protocol.epochs=2", "eval.epochs=[1]"]) == 0
    out, err = capsys.readouterr()
    run = tmp_path / "runs" / "r"
    start = err.splitlines()[0]
    assert start.startswith(f"wsnas train: {run} | space NB201-mini (nb201_mini) | super-net ")
    assert " M params | pool 12 archs | device cpu, 1 thread | 2 epochs | " in start
    assert start.endswith(f"watch {run / 'log.jsonl'}")
    summary = json.loads((run / "summary.json").read_text())
    top = summary["top_archs"]
    assert len(top["archs"]) == 3 and summary["pool_size_requested"] == 12
    csv_lines = (run / "evals/epoch_0002.csv").read_text().splitlines()[1:]
    rows = {r.split(",")[0]: r.split(",") for r in csv_lines}
    for a in top["archs"]:  # each named arch carries its own row of the last eval CSV
        assert rows[a["arch"]][3] == f"{a['supernet_acc']:.4f}" and rows[a["arch"]][4] == f"{a['gt_acc']:.4f}"
    scores = sorted((float(r[3]) for r in rows.values()), reverse=True)
    assert [a["supernet_acc"] for a in top["archs"]] == scores[:3]
    assert top["tied_beyond"] == scores[3:].count(scores[2])
    lines = out.splitlines()
    assert lines[0] == f"{run}: finished"
    assert lines[2].split() == ["epoch", "super-net", "acc", "KdT", "s-KdT", "P>R", "final", "acc"]
    final = summary["final"]
    assert lines[3].split() == [
        "2",
        f"{final['supernet_acc_mean']:.2f}",
        f"{final['kdt']:+.3f}",
        f"{final['skdt']:+.3f}",
        f"{final['pbr']:.3f}",
        f"{final['final_acc']:.2f}",
    ]
    assert lines[4] == "top-3 by super-net accuracy (searched architectures):"
    assert top["archs"][0]["arch"] in lines[5] and f"GT {top['archs'][0]['gt_acc']:.2f}" in lines[5]


def test_json_keeps_the_one_line_for_scripts_and_quiet_prints_nothing_on_stderr(tmp_path, mini, capsys):
    assert main(["train", *mini, "name=j", "protocol.epochs=1", "--json", "--quiet"]) == 0
    out, err = capsys.readouterr()
    (line,) = out.splitlines()
    doc = json.loads(line)
    assert doc["status"] == "finished" and doc["run_dir"] == str(tmp_path / "runs" / "j") and "skdt" in doc
    assert err == ""


def test_resuming_a_finished_run_says_so_and_prints_its_summary(tmp_path, mini, capsys):
    assert main(["train", *mini, "name=f", "protocol.epochs=1", "--quiet"]) == 0
    table = capsys.readouterr().out
    run = tmp_path / "runs" / "f"
    before = (run / "summary.json").read_bytes()
    assert main(["train", "--resume", str(run)]) == 0
    out, err = capsys.readouterr()
    assert err == f"{run} is finished (1 epochs): nothing to resume; its summary:\n"
    assert out == table
    assert (run / "summary.json").read_bytes() == before  # nothing trained or rewritten
    assert main(["train", "--resume", str(run), "protocol.lr=0.5"]) == 2  # still checked first


def test_resume_says_where_it_restarts(tmp_path, mini, monkeypatch):
    cfg = load_config(None, [*mini, "name=c", "protocol.epochs=3", "runtime.progress=false"])
    _stop_in_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.undo()
    run = RunDir(tmp_path / "runs" / "c")
    trainer = Trainer(cfg, run)
    trainer.resume()
    stream = io.StringIO()
    trainer.register_hooks([ProgressHook(stream, bars=False)])
    trainer.fit()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith(f"wsnas train: {run.path} | ")
    assert lines[1] == f"resuming {run.path} at epoch 2/3 (epoch 1 is in its checkpoint)"
    assert len(lines) == 2  # no bars, no per-eval lines off a terminal


def test_progress_bars_on_a_terminal_cover_epochs_and_evaluations(tmp_path, mini):
    cfg = load_config(None, [*mini, "name=p", "protocol.epochs=2", "eval.epochs=[1]"])
    run = RunDir.for_config(cfg)
    run.create(cfg)
    trainer = Trainer(cfg, run)
    stream = io.StringIO()
    hook = ProgressHook(stream, bars=True)
    etas: list[str] = []
    real_eta = hook.eta
    hook.eta = lambda t, left: etas.append(real_eta(t, left)) or etas[-1]  # type: ignore[method-assign]
    counts = EvalCounts()
    trainer.register_hooks([hook, counts])
    trainer.fit()
    text = stream.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text and "eval after epoch 1/2" in text
    assert counts.calls == [list(range(1, 13)), list(range(1, 13))]  # archs done of the pool, per eval
    assert "epoch 1/2: s-KdT " in text and "epoch 2/2: s-KdT " in text  # one line per evaluation
    assert etas and etas[0].endswith("(est.)")  # epoch 1: the whole run estimated from its step rate
    assert not etas[-1].endswith("(est.)")  # an epoch and an evaluation measured


class EvalCounts(HookBase):
    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def before_eval(self, trainer: EpochTrainer, total: int) -> None:
        assert total == 12
        self.calls.append([])

    def eval_progress(self, trainer: EpochTrainer, done: int, total: int) -> None:
        self.calls[-1].append(done)


def test_a_busy_machine_is_named_in_the_start_line_and_the_epoch_bar(tmp_path, mini, monkeypatch):
    cfg = load_config(None, [*mini, "name=busy", "protocol.epochs=2", "eval.epochs=[]", "runtime.threads=2"])
    run = RunDir.for_config(cfg)
    run.create(cfg)
    trainer = Trainer(cfg, run)
    monkeypatch.setattr(os, "getloadavg", lambda: (40.0, 40.0, 40.0))
    stream = io.StringIO()
    trainer.register_hooks([ProgressHook(stream, bars=True)])
    try:
        trainer.fit()
    finally:  # later tests in this process keep their thread count (goldens)
        torch.set_num_threads(1)
    lines = stream.getvalue().splitlines()
    assert lines[1].startswith("wsnas: busy machine: load 40.0 on ")
    assert "this run uses 2 threads;" in lines[1] and lines[1].endswith("try runtime.threads=1")
    assert "busy=load 40.0/" in stream.getvalue()  # the epoch bar's postfix


def test_first_epoch_eta_estimates_the_whole_run_from_the_step_rate():
    """Epoch 1 of 10, 10 of 100 steps in 10 s (1,280 images); evaluations at 5 and 10 of 50 archs
    x 100 images, forward = 1/3 of a training step per image: 90 + 9 x 100 + 2 x 13.02 s."""
    from types import SimpleNamespace

    import torch

    trainer = SimpleNamespace(
        epochs=10,
        epoch=0,
        eval_epochs={5, 10},
        stats=SimpleNamespace(images=1280),
        eval_batches=[(None, torch.zeros(100))],
        pool=list(range(50)),
    )
    hook = ProgressHook(io.StringIO(), bars=False)
    hook.phase, hook.bar = "train", SimpleNamespace(total=100)
    hook.step_rate = (10.0, 10, 1280)
    assert hook.eta(trainer, 90.0) == f"~{duration(90 + 900 + 2 * 10 / 1280 / 3 * 50 * 100)} (est.)"
    hook.epoch_s = [100.0]  # a measured epoch, no evaluation yet: still an estimate
    assert hook.eta(trainer, 90.0).endswith("(est.)")
    hook.eval_s = [13.0]
    assert hook.eta(trainer, 90.0) == duration(90 + 900 + 26)
    hook.step_rate = None  # nothing measured at all: say what is missing
    hook.epoch_s, hook.eval_s = [], []
    assert hook.eta(trainer, 90.0) == duration(90) + " + epochs"


def test_duration_text():
    assert [duration(s) for s in (0, 45.4, 192, 7500)] == ["0s", "45s", "3m12s", "2h05m"]


def test_show_reads_finished_cut_and_started_runs(tmp_path, mini, monkeypatch, capsys):
    assert main(["train", *mini, "name=done", "protocol.epochs=2", "eval.epochs=[1]", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["show", str(tmp_path / "runs" / "done")]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == f"{tmp_path / 'runs' / 'done'}: finished (2/2 epochs)"
    assert text[2].split()[:4] == ["epoch", "lr", "train", "loss"] and "s-KdT" in text[2]
    assert text[3].split()[0] == "1" and len(text[3].split()) == 9  # epoch 1: train + eval columns
    assert "top-3 by super-net accuracy (searched architectures):" in text

    cfg = load_config(None, [*mini, "name=cut", "protocol.epochs=3", "runtime.progress=false"])
    _stop_in_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    cut = tmp_path / "runs" / "cut"
    assert show(cut).splitlines()[0] == f"{cut}: cut at epoch 1/3; resume with: wsnas train --resume {cut}"
    _stop_in_epoch(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        train(cfg.model_copy(update={"name": "new"}))
    new = tmp_path / "runs" / "new"
    assert show(new).splitlines()[:3] == [
        f"{new}: started, no epoch finished; resume (or start again) with: wsnas train --resume {new}",
        "",
        "no epoch finished yet",
    ]


def test_show_refuses_a_folder_that_is_not_a_run_dir(tmp_path, capsys):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    assert main(["show", str(tmp_path / "notes")]) == 2
    assert capsys.readouterr().err.startswith(f"wsnas: error: {tmp_path / 'notes'} is not a run dir: ")
    assert main(["show", str(tmp_path / "absent")]) == 2
    assert "is not a run dir: no such folder" in capsys.readouterr().err


# ---- umask ----------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_result_files_respect_the_umask(tmp_path, mini, umask):
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        with atomic_write(tmp_path / "x.bin") as f:
            f.write(b"x")
        assert (tmp_path / "x.bin").stat().st_mode & 0o777 == 0o666 & ~umask
        summary = train(load_config(None, [*mini, "name=u", "protocol.epochs=1", "runtime.progress=false"]))
    finally:
        os.umask(old)
    run = Path(summary["run_dir"])
    files = [p for p in run.rglob("*") if p.is_file()]
    names = {str(p.relative_to(run)) for p in files}
    assert {
        "config.yaml",
        "summary.json",
        "checkpoint.pt",
        "log.jsonl",
        "identity.json",
        "evals/epoch_0001.csv",
    } <= names
    assert {str(p.relative_to(run)): p.stat().st_mode & 0o777 for p in files} == dict.fromkeys(
        names, 0o666 & ~umask
    )


# ---- a start that never finished an epoch ---------------------------------------------------------
def _stop_in_epoch(monkeypatch, n: int, exc: type[BaseException] = KeyboardInterrupt) -> None:
    """Make the Nth call of train_epoch (this process) raise EXC, as a kill or a crash would."""
    original, calls = EpochTrainer.train_epoch, {"n": 0}

    def train_epoch(self):
        calls["n"] += 1
        if calls["n"] == n:
            raise exc("stopped here")
        return original(self)

    monkeypatch.setattr(EpochTrainer, "train_epoch", train_epoch)


def test_a_run_that_failed_in_its_first_epoch_does_not_block_the_next_attempt(
    tmp_path, mini, monkeypatch, capsys
):
    args = [*mini, "name=r", "protocol.epochs=1", "--quiet"]
    _stop_in_epoch(monkeypatch, 1, RuntimeError)
    with pytest.raises(RuntimeError):
        main(["train", *args])
    monkeypatch.undo()
    run = tmp_path / "runs" / "r"
    assert (run / "config.yaml").exists() and (run / "identity.json").exists()
    assert not (run / "checkpoint.pt").exists()
    # the next attempt may have another identity (here: another ground truth): nothing left refuses it
    ident = json.loads((run / "identity.json").read_text())
    ident["gt"]["sha256"] = "0" * 64
    (run / "identity.json").write_text(json.dumps(ident))
    (run / "evals").mkdir()
    (run / "evals" / "epoch_0001.csv").write_text("left by the failed attempt\n")
    assert main(["train", *args, "protocol.lr=0.05"]) == 0  # another config under the same name
    capsys.readouterr()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert summary["identity"] == json.loads((run / "identity.json").read_text())
    assert RunDir(run).load_config().protocol.lr == 0.05
    assert (run / "evals" / "epoch_0001.csv").read_text().startswith("arch,")


# ---- a pool smaller than asked ----------------------------------------------------------------------
def test_a_pool_smaller_than_asked_is_a_warning_in_the_start_line_and_the_summary(tmp_path, mini, capsys):
    # the shipped table (all 125 encodings), read through a cache of its own: the run's cache must not
    # hold the complete table, which a partial one may not replace (issue 28)
    full = open_benchmark(get_space("nb201_mini"), cache_dir=tmp_path / "elsewhere")
    rows = slice(0, 5)  # a sparse ground truth: 5 of them, same metric and schedule
    sparse = Benchmark(
        index=full.index[rows],
        arch=full.arch[rows],
        canonical=full.canonical[rows],
        acc=full.acc[rows],
        params=full.params[rows],
        flops=full.flops[rows],
        meta=full.meta,
    )
    table = sparse.save(tmp_path / "sparse.npz")
    assert main(["train", *mini, "name=s", "protocol.epochs=1", f"bench.source={table}", "eval.top_k=2"]) == 0
    out, err = capsys.readouterr()
    assert "wsnas: warning: eval.pool_size=12 is larger than the ground truth" in err
    assert f"{table}) (5 architectures); the pool holds 5" in err
    assert "| pool 5 archs (of 12 asked: the GT has no more) |" in err
    summary = json.loads((tmp_path / "runs" / "s" / "summary.json").read_text())
    assert summary["final"]["pool_size"] == 5 and summary["pool_size_requested"] == 12


def test_show_reads_a_standalone_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    arch = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|"
    assert (
        main(
            [
                "standalone",
                "train",
                "nb201_mini",
                arch,
                "data.name=digits",
                "proxy.channels=4",
                "proxy.epochs=2",
                "runtime.device=cpu",
                "runtime.threads=1",
                f"out_dir={tmp_path}",
                "name=sa",
            ]
        )
        == 0
    )
    final = json.loads(capsys.readouterr().out)
    lines = show(tmp_path / "sa").splitlines()
    assert lines[0] == f"{tmp_path / 'sa'}: finished (2/2 epochs)"
    assert lines[2].split() == ["epoch", "lr", "train", "loss", "train", "acc", "eval", "acc"]
    assert lines[4].split()[-1] == f"{final['eval_acc']:.2f}" and len(lines[3].split()) == 4
    assert lines[6] == f"nb201_mini stand-alone: {arch}"
