"""Stand-alone training with protocol P_proxy: the ground-truth side of the study.

One architecture's network (the space's f_proxy) is trained from scratch with
SGD (momentum, optional Nesterov), a per-epoch cosine to `lr_min` and the
data set's augmentation, then scored on the eval split in eval mode with BN
running statistics, as the benchmarks did. The run dir follows the super-net
runs' conventions (config.yaml, log.jsonl, atomic checkpoint.pt per epoch,
summary.json), so a killed run resumes from its last finished epoch and, on
CPU, ends with exactly the accuracy of an uninterrupted run.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from wsnas.checkpointing import Checkpointed
from wsnas.config import StandaloneConfig
from wsnas.errors import WsnasError
from wsnas.nn.params import count_params
from wsnas.rundir import RunDir
from wsnas.runtime import autocast, memory_format, seed_everything, setup_runtime
from wsnas.spaces import get_space
from wsnas.train import Diverged


def run_dir_for(cfg: StandaloneConfig) -> RunDir:
    name = cfg.name or f"standalone-{cfg.space.name}-s{cfg.seed}-{cfg.hash()}"
    return RunDir(Path(cfg.out_dir) / name)


class StandaloneTrainer(Checkpointed):
    """Owns one stand-alone run: network, optimizer, data and the run dir."""

    def __init__(self, cfg: StandaloneConfig, run: RunDir) -> None:
        from wsnas.data import Split, load_splits

        self.cfg, self.run = cfg, run
        self.hooks: list[Any] = []
        self.device = setup_runtime(cfg.runtime)
        seed_everything(cfg.seed)
        self.space = get_space(cfg.space.name)
        if not cfg.arch:
            raise WsnasError("stand-alone training needs an architecture (key 'arch')")
        self.arch = self.space.parse(cfg.arch)
        self.proxy = p = cfg.proxy.resolved(self.space.proxy)
        splits = load_splits(cfg.data, seed=cfg.seed)
        self.mf = memory_format(self.device, cfg.runtime.channels_last)
        channels_last = self.mf == torch.channels_last
        self.loader = splits.loader(
            splits.train,
            int(p.batch_size),  # type: ignore[arg-type]
            train=True,
            device=self.device,
            seed=cfg.seed,
            augment=cfg.data.augment,
            channels_last=channels_last,
        )
        ex, ey = splits.eval_split(cfg.data.eval_split)
        eval_loader = splits.loader(
            Split(ex, ey),
            p.eval_batch_size,
            train=False,
            device=self.device,
            seed=cfg.seed,
            channels_last=channels_last,
        )
        self.eval_batches = list(eval_loader)
        self.model = self.space.standalone(
            self.arch, channels=p.channels, cells=p.cells, num_classes=splits.info.num_classes
        )
        self.model.to(self.device, memory_format=self.mf)
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=float(p.lr),  # type: ignore[arg-type]
            momentum=p.momentum,
            weight_decay=float(p.weight_decay),  # type: ignore[arg-type]
            nesterov=bool(p.nesterov) and p.momentum > 0,
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer,
            T_max=int(p.epochs),
            eta_min=p.lr_min,  # type: ignore[arg-type]
        )
        self.rng = np.random.default_rng(cfg.seed)  # unused by training; keeps rng_state uniform
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.elapsed = 0.0

    # ---- loop -------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        epochs = int(self.proxy.epochs)  # type: ignore[arg-type]
        eval_epochs = set(self.proxy.eval_epochs) | {epochs}
        while self.epoch < epochs:
            t0 = time.perf_counter()
            records = [self.train_epoch()]
            if self.epoch in eval_epochs:
                records.append({"type": "eval", "epoch": self.epoch, **self.evaluate()})
            self.elapsed += time.perf_counter() - t0
            self.history.extend(records)
            self.run.save_checkpoint(self.state_dict())
            for r in records:
                self.run.append_log(r)
                for hook in self.hooks:
                    hook(self, r)
        return self.finish()

    def train_epoch(self) -> dict[str, Any]:
        model, device, clip = self.model, self.device, self.proxy.grad_clip
        model.train()
        self.loader.set_epoch(self.epoch)
        lr = self.optimizer.param_groups[0]["lr"]
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        seen, t0 = 0, time.perf_counter()
        batches = tqdm(
            self.loader,
            desc=f"epoch {self.epoch + 1}/{self.proxy.epochs}",
            disable=not self.cfg.runtime.progress,
            leave=False,
            dynamic_ncols=True,
        )
        for x, y in batches:
            self.optimizer.zero_grad(set_to_none=True)
            with autocast(device, self.cfg.runtime.amp):
                out = model(x)
                loss = F.cross_entropy(out, y)
            loss.backward()
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            self.optimizer.step()
            loss_sum += loss.detach().float()
            correct += (out.detach().argmax(1) == y).sum()
            seen += y.numel()
        seconds = time.perf_counter() - t0
        train_loss = loss_sum.item() / max(len(self.loader), 1)
        if not math.isfinite(train_loss):
            self._diverged()
        self.scheduler.step()
        self.epoch += 1
        return {
            "type": "epoch",
            "epoch": self.epoch,
            "lr": lr,
            "train_loss": train_loss,
            "train_acc": 100.0 * correct.item() / max(seen, 1),
            "images_per_s": seen / max(seconds, 1e-9),
            "seconds": seconds,
        }

    @torch.inference_mode()
    def evaluate(self) -> dict[str, Any]:
        """Top-1 accuracy (%) and mean loss on the eval split, in eval mode."""
        self.model.eval()
        correct, loss, n = 0, 0.0, 0
        for x, y in self.eval_batches:
            with autocast(self.device, self.cfg.runtime.amp):
                out = self.model(x)
            loss += float(F.cross_entropy(out.float(), y, reduction="sum"))
            correct += int((out.argmax(1) == y).sum())
            n += int(y.numel())
        return {"eval_acc": 100.0 * correct / n, "eval_loss": loss / n, "eval_images": n}

    def _diverged(self) -> None:
        msg = (
            f"stand-alone run diverged at epoch {self.epoch + 1} (non-finite loss); "
            f"try a lower proxy.lr or proxy.grad_clip > 0"
        )
        self.run.write_json(
            self.run.summary,
            {"status": "diverged", "message": msg, "epoch": self.epoch + 1, "config_hash": self.cfg.hash()},
        )
        raise Diverged(msg)

    def finish(self) -> dict[str, Any]:
        evals = [r for r in self.history if r["type"] == "eval"]
        epochs = [r for r in self.history if r["type"] == "epoch"]
        params = count_params(self.model)
        final = {
            "eval_acc": evals[-1]["eval_acc"],
            "eval_loss": evals[-1]["eval_loss"],
            "train_acc": epochs[-1]["train_acc"],
            "train_loss": epochs[-1]["train_loss"],
            "params_m": params / 1e6,
        }
        summary = {
            "status": "finished",
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
            "timing": {"seconds": self.elapsed, "device": str(self.device)},
        }
        self.run.write_json(self.run.summary, summary)
        return summary


def train_standalone(cfg: StandaloneConfig, resume_dir: str | None = None) -> dict[str, Any]:
    """Start a stand-alone run (or resume RUN_DIR with `cfg` = its config); returns its summary."""
    from wsnas.hooks import fit_with_logging, require_tensorboard

    if cfg.logging.tensorboard:
        require_tensorboard()  # before anything is written
    if resume_dir is not None:
        run = RunDir(resume_dir)
        trainer = StandaloneTrainer(cfg, run)
        trainer.resume()
    else:
        run = run_dir_for(cfg)
        trainer = StandaloneTrainer(cfg, run)  # validates arch, data and space before writing
        run.create(cfg, resume_hint=f"wsnas standalone train --resume {run.path}")
    return fit_with_logging(trainer, cfg.logging.tensorboard)
