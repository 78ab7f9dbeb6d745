"""Trainer hooks (`wsnas.engine.loop.HookBase`): side outputs of a run that the run dir does not need.

A hook gets the trainer and each log record (`{"type": "epoch"|"eval", ...}`) after
the record is in log.jsonl, so a hook never sees an epoch that a resume would replay,
and the events it writes match the log. `logging_hooks` is what `logging.*` asks for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wsnas.config import LoggingConfig
from wsnas.core.errors import ConfigError
from wsnas.engine.loop import EpochTrainer, HookBase
from wsnas.engine.trackers import check_trackers, metrics_of, tracker_hooks


def require_tensorboard() -> Any:
    """The SummaryWriter class, or a ConfigError that says what to install."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(
            "logging.tensorboard=true needs the tensorboard package: pip install 'wsnas[tensorboard]'"
        ) from None
    return SummaryWriter


class TensorBoardHook(HookBase):
    """Writes every numeric field of each record as a scalar at step = epoch.

    Epoch records go under `train/` (loss, accuracy, lr, images/s), evaluation records
    under `eval/` (super-net accuracy, KdT, s-KdT, Spearman, final accuracy, P>R).
    """

    def __init__(self, log_dir: str | Path) -> None:
        self.writer = require_tensorboard()(log_dir=str(log_dir))

    def __call__(self, trainer: Any, record: dict[str, Any]) -> None:
        step = int(record.get("epoch", 0))
        for tag, value in metrics_of(record).items():
            self.writer.add_scalar(tag, value, global_step=step)
        self.writer.flush()

    after_epoch = after_eval = __call__

    def after_train(self, trainer: Any) -> None:
        self.close()

    def close(self) -> None:
        self.writer.close()


def check_logging(cfg: LoggingConfig) -> None:
    """Before anything is written: every package `logging.*` asks for is installed."""
    if cfg.tensorboard:
        require_tensorboard()
    check_trackers(cfg)


def logging_hooks(trainer: EpochTrainer, cfg: LoggingConfig) -> list[HookBase]:
    """The hooks of `logging.*` for TRAINER (rank 0 only): TensorBoard events in run_dir/tb,
    W&B and MLflow runs (`wsnas.engine.trackers`)."""
    if not trainer.dist.is_main:
        return []
    hooks: list[HookBase] = [TensorBoardHook(trainer.run.path / "tb")] if cfg.tensorboard else []
    return [*hooks, *tracker_hooks(cfg)]
