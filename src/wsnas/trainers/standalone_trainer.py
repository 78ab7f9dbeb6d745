"""Stand-alone training with protocol P_proxy: the ground-truth side of the study.

One architecture's network (the space's f_proxy) is trained from scratch with
SGD (momentum, optional Nesterov), a per-epoch cosine to `lr_min` and the
data set's augmentation, then scored on the eval split in eval mode with BN
running statistics, as the benchmarks did. The run dir follows the super-net
runs' conventions (config.yaml, log.jsonl, atomic checkpoint.pt per epoch,
summary.json), so a killed run resumes from its last finished epoch and, on
CPU, ends with exactly the accuracy of an uninterrupted run. The loop,
checkpoints, logs and summary are the engine's (`wsnas.engine.loop`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from wsnas.config import StandaloneConfig
from wsnas.core.errors import WsnasError
from wsnas.core.interrupt import Interrupted
from wsnas.engine.distributed import DistEnv
from wsnas.engine.loop import EpochTrainer
from wsnas.engine.progress import progress_hooks
from wsnas.engine.rundir import RunDir, check_run_name
from wsnas.engine.runtime import autocast, setup_runtime
from wsnas.engine.tensorboard import check_logging, logging_hooks
from wsnas.nn.params import count_params
from wsnas.spaces import get_space
from wsnas.spaces.check import check_config


def run_dir_for(cfg: StandaloneConfig) -> RunDir:
    check_run_name(cfg.name)
    name = cfg.name or f"standalone-{cfg.space.name}-s{cfg.seed}-{cfg.hash()}"
    return RunDir(Path(cfg.out_dir) / name)


class StandaloneTrainer(EpochTrainer):
    """One stand-alone run (one process): the architecture's network on top of the engine's loop."""

    def __init__(self, cfg: StandaloneConfig, run: RunDir, device: torch.device | None = None) -> None:
        super().__init__(cfg, run, DistEnv(), setup_runtime(cfg.runtime) if device is None else device)
        self.cfg: StandaloneConfig = cfg
        self.space = get_space(check_config(cfg, "run config").space.name)
        if not cfg.arch:
            raise WsnasError("stand-alone training needs an architecture (key 'arch')")
        self.arch = self.space.parse(cfg.arch)
        self.proxy = p = cfg.proxy.resolved(self.space.proxy)
        info = self.setup_data(cfg.data, int(p.batch_size), p.eval_batch_size)  # type: ignore[arg-type]
        assert p.channels is not None and p.cells is not None  # every space's proxy gives both
        self.setup_model(
            self.space.standalone(self.arch, channels=p.channels, cells=p.cells, num_classes=info.num_classes)
        )
        self.setup_schedule(
            lr=float(p.lr),  # type: ignore[arg-type]
            lr_min=p.lr_min,
            momentum=p.momentum,
            weight_decay=float(p.weight_decay),  # type: ignore[arg-type]
            nesterov=bool(p.nesterov) and p.momentum > 0,
            epochs=int(p.epochs),  # type: ignore[arg-type]
            eval_epochs=p.eval_epochs,
        )
        self.rng = np.random.default_rng(cfg.seed)  # unused by training; keeps rng_state uniform

    resume_command = "wsnas standalone train --resume"

    def describe(self) -> dict[str, str]:
        return {
            "space": self.space.name,
            "arch": self.space.format(self.arch),
            "net": f"{count_params(self.model) / 1e6:.3f} M params",
        }

    def train_step(self, step: int, x: torch.Tensor, y: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.device, self.cfg.runtime.amp):
            out = self.model(x)
            loss = F.cross_entropy(out, y)
        loss.backward()
        if self.proxy.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.proxy.grad_clip)
        self.optimizer.step()
        self.stats.add(out, y, loss)

    def check_epoch(self, train_loss: float) -> None:
        if math.isfinite(train_loss):
            return
        self.diverged(
            f"stand-alone run diverged at epoch {self.epoch + 1} (non-finite loss); "
            f"try a lower proxy.lr or proxy.grad_clip > 0",
            epoch=self.epoch + 1,
        )

    @torch.inference_mode()
    def evaluate(self) -> dict[str, Any]:
        """Top-1 accuracy (%) and mean loss on the eval split, in eval mode."""
        self.model.eval()
        correct, loss, n = 0, 0.0, 0
        self.call_hooks("before_eval", len(self.eval_batches))
        for i, (x, y) in enumerate(self.eval_batches, start=1):
            with autocast(self.device, self.cfg.runtime.amp):
                out = self.model(x)
            loss += float(F.cross_entropy(out.float(), y, reduction="sum"))
            correct += int((out.argmax(1) == y).sum())
            n += int(y.numel())
            self.call_hooks("eval_progress", i, len(self.eval_batches))
        return {"eval_acc": 100.0 * correct / n, "eval_loss": loss / n, "eval_images": n}

    def summarize(self) -> dict[str, Any]:
        evals = [r for r in self.history if r["type"] == "eval"]
        epochs = [r for r in self.history if r["type"] == "epoch"]
        final = {
            "eval_acc": evals[-1]["eval_acc"],
            "eval_loss": evals[-1]["eval_loss"],
            "train_acc": epochs[-1]["train_acc"],
            "train_loss": epochs[-1]["train_loss"],
            "params_m": count_params(self.model) / 1e6,
        }
        return {
            "kind": "standalone",
            "run_dir": str(self.run.path),
            "space": self.space.name,
            "arch": self.space.format(self.arch),
            "canonical": self.space.canonical(self.arch),
            "seed": self.cfg.seed,
            "epochs": self.epoch,
            "config_hash": self.cfg.hash(),
            "proxy": self.proxy.model_dump(mode="json"),
            "data": {"name": self.cfg.data.name, "eval_split": self.cfg.data.eval_split},
            "final": final,
        }


def train_standalone(cfg: StandaloneConfig, resume_dir: str | None = None) -> dict[str, Any]:
    """Start a stand-alone run (or resume RUN_DIR with `cfg` = its config); returns its summary.

    The run dir's lock is held from before the trainer is built until the run ends;
    config.yaml is written once the trainer (arch, data, space) is built.
    """
    check_logging(cfg.logging)  # before anything is written
    run = RunDir(resume_dir) if resume_dir is not None else run_dir_for(cfg)
    hint = f"wsnas standalone train --resume {run.path}"
    try:
        with run.writing(new=resume_dir is None, resume_hint=hint):
            trainer = StandaloneTrainer(cfg, run)
            if resume_dir is not None:
                trainer.resume()
            else:
                run.create(cfg, resume_hint=hint)
            trainer.register_hooks([*logging_hooks(trainer, cfg.logging), *progress_hooks(trainer)])
            return trainer.fit()
    except Interrupted as e:
        raise e.starting(run.path, StandaloneTrainer.resume_command, run.config.exists()) from None
