"""Super-net training with protocol P_ws, periodic evaluation and exact resume.

One epoch: every step draws its path(s) from the sampler, sums the gradients of
the paths, clips, and takes one SGD step; the learning rate follows a per-epoch
cosine to `lr_min`. After scheduled epochs the fixed pool is evaluated. Each
epoch ends with an atomic checkpoint, so a killed run resumes from its last
finished epoch and, on CPU, ends with exactly the metrics of an uninterrupted run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from wsnas import distributed
from wsnas.checkpointing import Checkpointed
from wsnas.config import RunConfig
from wsnas.errors import WsnasError
from wsnas.evaluate import evaluate_pool, make_pool, write_eval_csv
from wsnas.rundir import RunDir
from wsnas.runtime import (
    autocast,
    memory_format,
    resolve_device,
    seed_everything,
    setup_runtime,
)
from wsnas.spaces import get_space
from wsnas.spaces.samplers import build_sampler

SYNC_EVERY = 20
"""Steps between host syncs (progress bar, divergence check); none in between."""


class Diverged(WsnasError):
    """The loss became NaN/inf; the run stops with a clear status instead of a trace."""


Hook = Callable[["Trainer", dict[str, Any]], None]


class Trainer(Checkpointed):
    """Owns one run: model, optimizer, data, sampler, pool and the run dir."""

    def __init__(self, cfg: RunConfig, run: RunDir) -> None:
        from wsnas.bench import open_benchmark
        from wsnas.data import Split, load_splits

        self.hooks: list[Hook] = []
        # Under torchrun: same seeds on every rank (same paths, same global batches).
        self.dist, self.device = distributed.init(setup_runtime(cfg.runtime))
        distributed.check_batch(cfg.protocol.batch_size, self.dist)
        if not self.dist.is_main:  # one writer, one progress bar
            run = distributed.ReadOnlyRunDir(run.path)
            cfg = cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"progress": False})})
        self.cfg, self.run = cfg, run
        seed_everything(cfg.seed)
        self.space = get_space(cfg.space.name)
        self.bench = open_benchmark(
            self.space,
            source=cfg.bench.source,
            metric=cfg.bench.metric,
            schedule=cfg.bench.schedule,
            cache_dir=cfg.bench.cache_dir,
        )
        self.pool = make_pool(self.space, self.bench, cfg.eval.pool_size, cfg.eval.pool_seed)
        splits = load_splits(cfg.data, seed=cfg.seed)
        self.mf = memory_format(self.device, cfg.runtime.channels_last)
        channels_last = self.mf == torch.channels_last
        self.loader = splits.loader(
            splits.train,
            cfg.protocol.batch_size,
            train=True,
            device=self.device,
            seed=cfg.seed,
            augment=cfg.data.augment,
            channels_last=channels_last,
        )
        if self.dist.enabled:
            self.loader = distributed.ShardedLoader(self.loader, self.dist)
        ex, ey = splits.eval_split(cfg.data.eval_split)
        if cfg.eval.num_images is not None:
            ex, ey = ex[: cfg.eval.num_images], ey[: cfg.eval.num_images]
        eval_loader = splits.loader(
            Split(ex, ey),
            cfg.eval.batch_size,
            train=False,
            device=self.device,
            seed=cfg.seed,
            channels_last=channels_last,
        )
        eval_loader.set_epoch(0)
        self.eval_batches = list(eval_loader)
        self.model = self.space.supernet(cfg.mapping, cfg.lowfi, num_classes=splits.info.num_classes)
        self.model.to(self.device, memory_format=self.mf)
        p = cfg.protocol
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=p.epochs, eta_min=p.lr_min
        )
        self.sampler = build_sampler(self.space, cfg.sampler)
        self.rng = np.random.default_rng(cfg.seed)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.elapsed = 0.0

    # ---- loop -------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        epochs = self.cfg.protocol.epochs
        eval_epochs = set(self.cfg.eval.epochs) | {epochs}
        while self.epoch < epochs:
            t0 = time.perf_counter()
            records = [self._sync_epoch(self.train_epoch())]
            if self.epoch in eval_epochs:
                # Rank 0 evaluates and writes the CSV; the others wait in the broadcast.
                rec = self.evaluate() if self.dist.is_main else None
                records.append(distributed.broadcast_object(rec, self.dist))
            self.elapsed += time.perf_counter() - t0
            self.history.extend(records)
            self.run.save_checkpoint(self.state_dict())
            for r in records:
                self.run.append_log(r)
                for hook in self.hooks:
                    hook(self, r)
        return self.finish()

    def _sync_epoch(self, record: dict[str, Any]) -> dict[str, Any]:
        """Multi-process: global epoch metrics, one BN state, and a drift check."""
        if not self.dist.enabled:
            return record
        distributed.average_buffers(self.model, self.dist)
        distributed.assert_in_sync(self.model, self.rng.bit_generator.state, self.dist)
        keys = ("train_loss", "train_acc", "images_per_s")
        means = distributed.all_mean([float(record[k]) for k in keys], self.dist)
        record = {**record, **dict(zip(keys, means, strict=True))}
        record["images_per_s"] *= self.dist.world_size  # every rank trains its own shard
        return record

    def train_epoch(self) -> dict[str, Any]:
        cfg, model, device = self.cfg, self.model, self.device
        model.train()
        self.loader.set_epoch(self.epoch)
        lr = self.optimizer.param_groups[0]["lr"]
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        bad_step = torch.full((), -1, dtype=torch.long, device=device)
        seen, t0 = 0, time.perf_counter()
        bar = tqdm(
            total=len(self.loader),
            desc=f"epoch {self.epoch + 1}/{cfg.protocol.epochs}",
            disable=not cfg.runtime.progress,
            leave=False,
            dynamic_ncols=True,
        )
        params = [p for p in model.parameters() if p.requires_grad]
        for step, (x, y) in enumerate(self.loader):
            paths = self.sampler.step_paths(self.rng)
            self.optimizer.zero_grad(set_to_none=True)
            for arch in paths:
                with autocast(device, cfg.runtime.amp):
                    out = model(x, arch)
                    loss = F.cross_entropy(out, y)
                loss.backward()
                loss_sum += loss.detach().float() / len(paths)
                correct += (out.detach().argmax(1) == y).sum()
                bad_step = torch.where((bad_step < 0) & ~torch.isfinite(loss.detach()), step, bad_step)
            distributed.average_gradients(params, self.dist)  # no-op on one process
            if cfg.protocol.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.protocol.grad_clip)
            self.optimizer.step()
            seen += y.numel()
            if (step + 1) % SYNC_EVERY == 0 or step + 1 == len(self.loader):
                self._check_finite(int(bad_step), step)
                rate = seen / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix(
                    loss=f"{loss_sum.item() / (step + 1):.3f}",
                    acc=f"{100.0 * correct.item() / (seen * len(paths)):.1f}",
                    img_s=f"{rate:.0f}",
                )
                bar.update((step + 1) - bar.n)
        bar.close()
        steps = len(self.loader)
        seconds = time.perf_counter() - t0
        self.scheduler.step()
        self.epoch += 1
        return {
            "type": "epoch",
            "epoch": self.epoch,
            "lr": lr,
            "train_loss": loss_sum.item() / max(steps, 1),
            "train_acc": 100.0 * correct.item() / max(seen * len(paths), 1),
            "images_per_s": seen / max(seconds, 1e-9),
            "seconds": seconds,
        }

    def _check_finite(self, bad_step: int, step: int) -> None:
        if bad_step < 0:
            return
        msg = (
            f"run diverged at epoch {self.epoch + 1} step {bad_step + 1} (non-finite loss); "
            f"try a lower protocol.lr or protocol.grad_clip > 0"
        )
        self.run.write_json(
            self.run.summary,
            {
                "status": "diverged",
                "message": msg,
                "epoch": self.epoch + 1,
                "step": bad_step + 1,
                "config_hash": self.cfg.hash(),
            },
        )
        raise Diverged(msg)

    def evaluate(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        accs, metrics = evaluate_pool(
            self.model, self.pool, self.eval_batches, self.cfg.eval, self.cfg.runtime.amp
        )
        path = self.run.evals / f"epoch_{self.epoch:04d}.csv"
        write_eval_csv(path, self.pool, accs)
        return {
            "type": "eval",
            "epoch": self.epoch,
            **metrics,
            "pool_size": len(self.pool),
            "eval_images": sum(int(y.numel()) for _, y in self.eval_batches),
            "csv": str(path.relative_to(self.run.path)),
            "seconds": time.perf_counter() - t0,
        }

    def finish(self) -> dict[str, Any]:
        evals = [r for r in self.history if r["type"] == "eval"]
        final = evals[-1] if evals else {}
        summary = {
            "status": "finished",
            "run_dir": str(self.run.path),
            "epochs": self.epoch,
            "config_hash": self.cfg.hash(),
            "final": {k: v for k, v in final.items() if k not in ("type", "csv", "seconds")},
            "evals": [
                {k: r[k] for k in ("epoch", "supernet_acc_mean", "kdt", "skdt", "final_acc", "pbr")}
                for r in evals
            ],
            "sparse_threshold": self.cfg.eval.sparse_threshold,
            "top_k": self.cfg.eval.top_k,
            "benchmark": {"space": self.cfg.space.name, "metric": self.bench.metric, "size": self.bench.size},
            "timing": {"seconds": self.elapsed, "device": str(self.device)},
        }
        self.run.write_json(self.run.summary, summary)
        return summary


def train(cfg: RunConfig, resume_dir: str | None = None) -> dict[str, Any]:
    """Start a new run (or resume RUN_DIR with `cfg` = its config) and return its summary."""
    if cfg.logging.tensorboard:
        from wsnas.hooks import require_tensorboard

        require_tensorboard()  # before anything is written
    env, _ = distributed.init(resolve_device(cfg.runtime))  # no-op without torchrun
    try:
        return _train(cfg, resume_dir, env)
    finally:
        distributed.shutdown(env)


def _train(cfg: RunConfig, resume_dir: str | None, env: distributed.DistEnv) -> dict[str, Any]:
    if resume_dir is not None:
        run = RunDir(resume_dir)
        trainer = Trainer(cfg, run)
        trainer.resume()
    else:
        run = RunDir.for_config(cfg)
        error = None
        if env.is_main:  # only rank 0 writes; every rank learns whether it could
            try:
                run.create(cfg)
            except WsnasError as e:
                error = str(e)
        error = distributed.broadcast_object(error, env)
        if error is not None:
            raise WsnasError(error)
        trainer = Trainer(cfg, run)
    from wsnas.hooks import fit_with_logging

    return fit_with_logging(trainer, cfg.logging.tensorboard and env.is_main)
