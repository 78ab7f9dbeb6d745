"""One epoch-based training engine for the super-net (P_ws) and stand-alone (P_proxy) trainers.

`EpochTrainer` owns what every run shares: seeding, the train loader and the eval
batches, SGD with a per-epoch cosine, the loop over epochs and over an epoch's batches
(a host sync every SYNC_EVERY steps for the progress bar and the divergence check),
the eval schedule, log records, the per-epoch checkpoint and exact resume, the
divergence status, timing and summary.json. A trainer supplies its model,
`train_step`, `evaluate` and `summarize`. `HookBase` is the extension point
(TensorBoard: `wsnas.engine.tensorboard`; what a person sees on the terminal: `wsnas.engine.progress`).
A SIGINT/SIGTERM (`wsnas.core.interrupt.Interrupted`) leaves the run at its last
checkpoint; `fit` says which epoch that is and how to resume.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, NoReturn

import torch

from wsnas.config import AnyConfig, DataConfig, RuntimeConfig
from wsnas.core.errors import WsnasError
from wsnas.core.interrupt import Interrupted
from wsnas.data import DatasetInfo, Split, load_splits
from wsnas.engine import distributed
from wsnas.engine.checkpointing import Checkpointed
from wsnas.engine.rundir import RunDir
from wsnas.engine.runtime import memory_format, seed_everything, setup_runtime

SYNC_EVERY = 20
"""Steps between host syncs (progress bar, divergence check); none in between."""


class Diverged(WsnasError):
    """The loss became NaN/inf; the run stops with a clear status instead of a trace."""


class HookBase:
    """What `EpochTrainer.fit` calls besides its own duties; every method is a no-op here.

    `after_epoch` and `after_eval` get each log record after it is in log.jsonl and the
    epoch's checkpoint is written, so a hook never sees an epoch that a resume would
    replay. `after_train` runs also when training stops with an error. The progress
    calls (`before_epoch`, `after_sync`, `before_eval`, `eval_progress`) come from rank 0
    only and at host syncs only, so a hook that reads `trainer.stats` adds no sync.
    """

    def before_train(self, trainer: EpochTrainer) -> None:
        """Before the first epoch of this process (after a resume has loaded its checkpoint)."""

    def before_epoch(self, trainer: EpochTrainer, steps: int) -> None:
        """Before epoch `trainer.epoch + 1`'s STEPS steps."""

    def after_sync(self, trainer: EpochTrainer, steps_done: int) -> None:
        """At each host sync of an epoch (every SYNC_EVERY steps and its last one)."""

    def after_epoch(self, trainer: EpochTrainer, record: dict[str, Any]) -> None:
        """After each epoch record (`type` "epoch")."""

    def before_eval(self, trainer: EpochTrainer, total: int) -> None:
        """Before an evaluation of TOTAL items (a super-net's pool archs, a stand-alone net's batches)."""

    def eval_progress(self, trainer: EpochTrainer, done: int, total: int) -> None:
        """DONE of the evaluation's TOTAL items are scored."""

    def after_eval(self, trainer: EpochTrainer, record: dict[str, Any]) -> None:
        """After each evaluation record (`type` "eval"), which follows its epoch's record."""

    def after_train(self, trainer: EpochTrainer) -> None:
        """After the summary is written, or when an error (e.g. `Diverged`) ends the run."""


def init_runtime(cfg: RuntimeConfig) -> tuple[distributed.DistEnv, torch.device]:
    """Threads, device and (under torchrun) the process group: once per run."""
    return distributed.init(setup_runtime(cfg))


class EpochStats:
    """Sums over one epoch's steps, kept on the device: reading them is the only host sync."""

    def __init__(self, device: torch.device) -> None:
        self.loss_sum = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.long, device=device)
        self.bad_step = torch.full((), -1, dtype=torch.long, device=device)
        """First step with a non-finite loss (-1: none), for trainers that `note_finite`."""
        self.images = 0
        self.predictions = 0
        """Images times forward passes (a FairNAS step predicts each image once per path)."""
        self.t0 = time.perf_counter()

    def add(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor, paths: int = 1) -> None:
        """One forward pass; its loss counts 1/paths (a step's loss is the mean over its paths)."""
        self.loss_sum += loss.detach().float() / paths
        self.correct += (out.detach().argmax(1) == y).sum()
        self.predictions += y.numel()

    def note_finite(self, step: int, loss: torch.Tensor) -> None:
        finite = torch.isfinite(loss.detach())
        self.bad_step = torch.where((self.bad_step < 0) & ~finite, step, self.bad_step)

    def postfix(self, steps: int) -> dict[str, str]:
        rate = self.images / max(time.perf_counter() - self.t0, 1e-9)
        return {
            "loss": f"{self.loss_sum.item() / steps:.3f}",
            "acc": f"{100.0 * self.correct.item() / self.predictions:.1f}",
            "img_s": f"{rate:.0f}",
        }


class EpochTrainer(Checkpointed):
    """The loop, its schedule and its run dir; subclasses build the model and train it.

    A subclass calls, in its constructor: `setup_data`, `setup_model`, `setup_schedule`,
    and sets `rng` (the sampler generator, checkpointed with the other RNGs). It
    implements `train_step`, `evaluate` and `summarize`, and may override
    `check_sync`, `check_epoch` (divergence) and `reduce_epoch` (multi-process).
    Only rank 0 writes the run dir, shows progress and evaluates.
    """

    loader: Any
    eval_batches: list[tuple[torch.Tensor, torch.Tensor]]
    mf: torch.memory_format
    epochs: int
    eval_epochs: set[int]
    stats: EpochStats

    def __init__(self, cfg: AnyConfig, run: RunDir, env: distributed.DistEnv, device: torch.device) -> None:
        if not env.is_main:  # one writer, one progress bar
            run = distributed.ReadOnlyRunDir(run.path)
        self.cfg, self.run, self.dist, self.device = cfg, run, env, device
        self.progress = cfg.runtime.progress and env.is_main
        self.hooks: list[HookBase] = []
        seed_everything(cfg.seed)
        self.epoch = 0
        self.saved_epoch = 0
        """The epoch of the run dir's checkpoint (what a resume starts after)."""
        self.history: list[dict[str, Any]] = []
        self.elapsed = 0.0

    def register_hooks(self, hooks: Iterable[HookBase]) -> None:
        """Append hooks; they run in the order registered."""
        self.hooks.extend(hooks)

    # ---- shared set-up ------------------------------------------------------------------
    def setup_data(
        self, data: DataConfig, batch_size: int, eval_batch_size: int, num_images: int | None = None
    ) -> DatasetInfo:
        """The train loader (sharded over ranks) and the eval batches (first `num_images`)."""
        seed = self.cfg.seed
        splits = load_splits(data, seed=seed)
        self.splits = splits
        """The data's splits (a search algorithm reads its architecture split from them)."""
        self.mf = memory_format(self.device, self.cfg.runtime.channels_last)
        channels_last = self.mf == torch.channels_last
        self.loader = splits.loader(
            splits.train,
            batch_size,
            train=True,
            device=self.device,
            seed=seed,
            augment=data.augment,
            channels_last=channels_last,
        )
        if self.dist.enabled:
            self.loader = distributed.ShardedLoader(self.loader, self.dist)
        ex, ey = splits.eval_split(data.eval_split)
        if num_images is not None:
            ex, ey = ex[:num_images], ey[:num_images]
        eval_loader = splits.loader(
            Split(ex, ey),
            eval_batch_size,
            train=False,
            device=self.device,
            seed=seed,
            channels_last=channels_last,
        )
        self.eval_batches = list(eval_loader)
        return splits.info

    def setup_model(self, model: torch.nn.Module) -> None:
        self.model = model
        self.model.to(self.device, memory_format=self.mf)

    def setup_schedule(
        self,
        *,
        lr: float,
        lr_min: float,
        momentum: float,
        weight_decay: float,
        nesterov: bool,
        epochs: int,
        eval_epochs: Iterable[int],
    ) -> None:
        """SGD over the model's parameters, a per-epoch cosine to `lr_min`; eval after the last epoch too."""
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=epochs, eta_min=lr_min
        )
        self.epochs = epochs
        self.eval_epochs = set(eval_epochs) | {epochs}

    # ---- what a trainer supplies ----------------------------------------------------------
    def train_step(self, step: int, x: torch.Tensor, y: torch.Tensor) -> None:
        """One optimizer step on the batch; adds its forward passes to `self.stats`."""
        raise NotImplementedError

    def evaluate(self) -> dict[str, Any]:
        """The fields of the eval record after `type` and `epoch` (rank 0 only)."""
        raise NotImplementedError

    def summarize(self) -> dict[str, Any]:
        """summary.json's fields between `status` and `timing`."""
        raise NotImplementedError

    def check_sync(self, step: int) -> None:
        """At each host sync: raise via `diverged` if training has gone non-finite."""

    def check_epoch(self, train_loss: float) -> None:
        """After the epoch's steps, before the scheduler step: the same, on the mean loss."""

    def reduce_epoch(self, record: dict[str, Any]) -> dict[str, Any]:
        """Multi-process: the epoch record over all ranks (one process: as is)."""
        return record

    resume_command = "wsnas train --resume"
    """What continues a cut run of this trainer (followed by the run dir)."""

    def describe(self) -> dict[str, str]:
        """What the start line names besides the run dir, device and epochs (a trainer adds its own)."""
        return {}

    def call_hooks(self, name: str, *args: Any) -> None:
        """Call hook method NAME on every hook with (self, *ARGS)."""
        for hook in self.hooks:
            getattr(hook, name)(self, *args)

    # ---- loop ---------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train the epochs not yet done (all, or those after a resumed checkpoint); the summary.

        An `Interrupted` (SIGINT/SIGTERM) leaves with `where` and `resume` filled in: the
        checkpoint on disk is the last finished epoch's (writes are atomic), never a torn one.
        """
        self.saved_epoch = self.epoch
        try:
            self.call_hooks("before_train")
            while self.epoch < self.epochs:
                self.run_epoch()
            return self.finish()
        except Interrupted as e:
            e.where = e.where or self.interrupted_at()
            e.resume = e.resume or f"{self.resume_command} {self.run.path}"
            raise
        finally:
            self.call_hooks("after_train")

    def interrupted_at(self) -> str:
        """Where a stop now leaves the run, in words."""
        if self.saved_epoch == 0:
            return f"in epoch 1/{self.epochs} (no epoch finished yet)"
        return f"at epoch {self.saved_epoch}/{self.epochs} (its checkpoint is intact)"

    def run_epoch(self) -> None:
        """Train, evaluate when scheduled, checkpoint, then log each record and call the hooks."""
        t0 = time.perf_counter()
        records = [self.reduce_epoch(self.train_epoch())]
        if self.epoch in self.eval_epochs:
            # Rank 0 evaluates (and writes its files); the others wait in the broadcast.
            rec = self.eval_record() if self.dist.is_main else None
            records.append(distributed.broadcast_object(rec, self.dist))
        self.elapsed += time.perf_counter() - t0
        self.history.extend(records)
        self.run.save_checkpoint(self.state_dict())
        self.saved_epoch = self.epoch
        for r in records:
            self.run.append_log(r)
            self.call_hooks("after_epoch" if r["type"] == "epoch" else "after_eval", r)

    def train_epoch(self) -> dict[str, Any]:
        """One pass over the training batches and the scheduler step; the epoch record."""
        self.model.train()
        self.loader.set_epoch(self.epoch)
        lr = self.optimizer.param_groups[0]["lr"]
        self.stats = stats = EpochStats(self.device)
        steps = len(self.loader)
        if self.dist.is_main:
            self.call_hooks("before_epoch", steps)
        for step, (x, y) in enumerate(self.loader):
            self.train_step(step, x, y)
            stats.images += y.numel()
            if (step + 1) % SYNC_EVERY == 0 or step + 1 == steps:
                self.check_sync(step)
                if self.dist.is_main:
                    self.call_hooks("after_sync", step + 1)
        seconds = time.perf_counter() - stats.t0
        train_loss = stats.loss_sum.item() / max(steps, 1)
        self.check_epoch(train_loss)
        self.scheduler.step()
        self.epoch += 1
        return {
            "type": "epoch",
            "epoch": self.epoch,
            "lr": lr,
            "train_loss": train_loss,
            "train_acc": 100.0 * stats.correct.item() / max(stats.predictions, 1),
            "images_per_s": stats.images / max(seconds, 1e-9),
            "seconds": seconds,
        }

    def eval_record(self) -> dict[str, Any]:
        return {"type": "eval", "epoch": self.epoch, **self.evaluate()}

    def diverged(self, message: str, **where: int) -> NoReturn:
        """Write summary.json with status "diverged" (and where), then raise `Diverged`."""
        summary = {"status": "diverged", "message": message, **where, "config_hash": self.cfg.hash()}
        self.run.write_json(self.run.summary, summary)
        raise Diverged(message)

    def finish(self) -> dict[str, Any]:
        """Write and return summary.json (status "finished")."""
        summary = {
            "status": "finished",
            **self.summarize(),
            "timing": {"seconds": self.elapsed, "device": str(self.device)},
        }
        self.run.write_json(self.run.summary, summary)
        return summary
