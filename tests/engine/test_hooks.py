"""TensorBoard logging (`logging.tensorboard=true`): scalars per epoch/eval record, read back."""

from __future__ import annotations

import sys

import pytest

from wsnas.config import load_config
from wsnas.core.errors import ConfigError


def scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(log_dir))
    ea.Reload()
    return {tag: [(e.step, e.value) for e in ea.Scalars(tag)] for tag in ea.Tags()["scalars"]}


def test_hook_writes_numeric_fields_per_record(tmp_path):
    pytest.importorskip("tensorboard", reason="optional extra: pip install 'wsnas[tensorboard]'")
    from wsnas.engine.tensorboard import TensorBoardHook

    hook = TensorBoardHook(tmp_path / "tb")
    hook(None, {"type": "epoch", "epoch": 1, "lr": 0.025, "train_loss": 2.5, "train_acc": 10.0})
    hook(
        None,
        {
            "type": "eval",
            "epoch": 1,
            "skdt": 0.25,
            "final_acc": 91.5,
            "csv": "evals/x.csv",
            "skdt_definition": "tau-b",
            "pool_size": 12,
            "flag": True,
        },
    )
    hook(None, {"type": "epoch", "epoch": 2, "lr": 0.0125, "train_loss": 2.0, "train_acc": 20.0})
    hook.close()
    got = scalars(tmp_path / "tb")
    assert set(got) == {"train/lr", "train/train_loss", "train/train_acc", "eval/skdt", "eval/final_acc"}
    assert got["train/train_loss"] == [(1, 2.5), (2, 2.0)]
    assert got["eval/skdt"] == [(1, 0.25)]


def test_missing_tensorboard_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    from wsnas.trainers.supernet_trainer import train

    cfg = load_config(None, ["logging.tensorboard=true", f"out_dir={tmp_path}"])
    with pytest.raises(ConfigError, match=r"pip install 'wsnas\[tensorboard\]'"):
        train(cfg)
    assert not any(tmp_path.iterdir())  # failed before writing anything


@pytest.mark.slow
def test_training_run_logs_curves(tmp_path, cifar10_root, shared_data):
    pytest.importorskip("tensorboard", reason="optional extra: pip install 'wsnas[tensorboard]'")
    from wsnas.trainers.supernet_trainer import train

    cfg = load_config(
        None,
        [
            f"data.root={cifar10_root}",
            f"bench.source={shared_data / 'nb201' / 'nb201_accuracy_200ep.csv'}",
            f"bench.cache_dir={tmp_path / 'cache'}",
            f"out_dir={tmp_path / 'runs'}",
            "logging.tensorboard=true",
            "lowfi.channels=4",
            "lowfi.cells_per_stage=1",
            "protocol.batch_size=64",
            "data.train_portion=0.01",
            "eval.pool_size=12",
            "eval.num_images=128",
            "runtime.progress=false",
            "runtime.threads=1",
            "protocol.epochs=2",
            "eval.epochs=[1]",
        ],
    )
    summary = train(cfg)
    got = scalars(f"{summary['run_dir']}/tb")
    assert [s for s, _ in got["train/train_loss"]] == [1, 2]
    assert [s for s, _ in got["eval/skdt"]] == [1, 2]
    assert got["eval/final_acc"][-1][1] == pytest.approx(summary["final"]["final_acc"])
    assert {"train/lr", "train/images_per_s", "eval/supernet_acc_mean", "eval/pbr"} <= set(got)
