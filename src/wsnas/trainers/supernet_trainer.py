"""Super-net training with protocol P_ws, periodic evaluation and exact resume.

One epoch: every step draws its path(s) from the sampler, sums the gradients of
the paths, clips, and takes one SGD step; the learning rate follows a per-epoch
cosine to `lr_min`. After scheduled epochs the fixed pool is evaluated. Each
epoch ends with an atomic checkpoint, so a killed run resumes from its last
finished epoch and, on CPU, ends with exactly the metrics of an uninterrupted run.
The loop, checkpoints, logs and summary are the engine's (`wsnas.engine.loop`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from wsnas.config import RunConfig
from wsnas.core.errors import WsnasError
from wsnas.core.interrupt import Interrupted
from wsnas.engine import distributed
from wsnas.engine.identity import record_identity, run_identity
from wsnas.engine.loop import SYNC_EVERY, Diverged, EpochTrainer, init_runtime
from wsnas.engine.progress import progress_hooks
from wsnas.engine.rundir import RunDir
from wsnas.engine.runtime import autocast
from wsnas.engine.tensorboard import check_logging, logging_hooks
from wsnas.groundtruth import open_benchmark
from wsnas.nn.params import count_params
from wsnas.spaces import get_space
from wsnas.spaces.check import bench_metric, check_config, pool_size_used
from wsnas.spaces.samplers import build_sampler
from wsnas.trainers.evaluate import evaluate_pool, make_pool, top_archs, write_eval_csv

__all__ = ["SYNC_EVERY", "Diverged", "Trainer", "train"]


class Trainer(EpochTrainer):
    """One super-net run: model, sampler, pool and data on top of the engine's loop.

    Under torchrun every rank is seeded alike (same paths, same global batches) and
    trains its shard; gradients are averaged every step and the epoch ends in sync.
    """

    def __init__(
        self,
        cfg: RunConfig,
        run: RunDir,
        env: distributed.DistEnv | None = None,
        device: torch.device | None = None,
    ) -> None:
        if env is None or device is None:
            env, device = init_runtime(cfg.runtime)
        super().__init__(cfg, run, env, device)
        self.cfg: RunConfig = cfg
        distributed.check_batch(cfg.protocol.batch_size, env)
        self.space = get_space(check_config(cfg, "run config").space.name)
        self.bench = open_benchmark(
            self.space,
            source=cfg.bench.source,
            metric=bench_metric(self.space, cfg),
            schedule=cfg.bench.schedule,
            cache_dir=cfg.bench.cache_dir,
        )
        where = f"the ground truth ({self.bench.metric}{', ' + cfg.bench.source if cfg.bench.source else ''})"
        size = pool_size_used(cfg.eval.pool_size, self.bench.size, where)
        self.pool = make_pool(self.space, self.bench, size, cfg.eval.pool_seed)
        self.identity = run_identity(cfg, self.bench, device, env.world_size)
        p = cfg.protocol
        info = self.setup_data(cfg.data, p.batch_size, cfg.eval.batch_size, cfg.eval.num_images)
        self.setup_model(self.space.supernet(cfg.mapping, cfg.lowfi, num_classes=info.num_classes))
        self.params = [q for q in self.model.parameters() if q.requires_grad]
        self.setup_schedule(
            lr=p.lr,
            lr_min=p.lr_min,
            momentum=p.momentum,
            weight_decay=p.weight_decay,
            nesterov=False,
            epochs=p.epochs,
            eval_epochs=cfg.eval.epochs,
        )
        self.sampler = build_sampler(self.space, cfg.sampler)
        self.rng = np.random.default_rng(cfg.seed)

    def fit(self) -> dict[str, Any]:
        """Record the run's identity (identity.json; checked on resume), then the engine's loop."""
        record_identity(self.run, self.identity)
        return super().fit()

    def describe(self) -> dict[str, str]:
        asked = self.cfg.eval.pool_size
        pool = f"{len(self.pool)} archs" + (
            f" (of {asked} asked: the GT has no more)" if len(self.pool) < asked else ""
        )
        return {
            "space": f"{self.space.title or self.space.name} ({self.space.name})",
            "super-net": f"{count_params(self.model) / 1e6:.3f} M params",
            "pool": pool,
        }

    def train_step(self, step: int, x: torch.Tensor, y: torch.Tensor) -> None:
        """The step's paths, their gradients summed, averaged over ranks, clipped; one SGD step."""
        paths = self.sampler.step_paths(self.rng)
        self.optimizer.zero_grad(set_to_none=True)
        for arch in paths:
            with autocast(self.device, self.cfg.runtime.amp):
                out = self.model(x, arch)
                loss = F.cross_entropy(out, y)
            loss.backward()
            self.stats.add(out, y, loss, paths=len(paths))
            self.stats.note_finite(step, loss)
        distributed.average_gradients(self.params, self.dist)  # no-op on one process
        if self.cfg.protocol.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.protocol.grad_clip)
        self.optimizer.step()

    def check_sync(self, step: int) -> None:
        bad_step = int(self.stats.bad_step)
        if bad_step < 0:
            return
        self.diverged(
            f"run diverged at epoch {self.epoch + 1} step {bad_step + 1} (non-finite loss); "
            f"try a lower protocol.lr or protocol.grad_clip > 0",
            epoch=self.epoch + 1,
            step=bad_step + 1,
        )

    def reduce_epoch(self, record: dict[str, Any]) -> dict[str, Any]:
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

    def evaluate(self) -> dict[str, Any]:
        """The pool's super-net accuracies and their metrics; writes evals/epoch_NNNN.csv."""
        t0 = time.perf_counter()
        self.call_hooks("before_eval", len(self.pool))
        accs, metrics = evaluate_pool(
            self.model,
            self.pool,
            self.eval_batches,
            self.cfg.metrics(),
            self.cfg.runtime.amp,
            progress=lambda done, total: self.call_hooks("eval_progress", done, total),
        )
        path = self.run.evals / f"epoch_{self.epoch:04d}.csv"
        write_eval_csv(path, self.pool, accs)
        return {
            **metrics,
            "pool_size": len(self.pool),
            "eval_images": sum(int(y.numel()) for _, y in self.eval_batches),
            "csv": str(path.relative_to(self.run.path)),
            "seconds": time.perf_counter() - t0,
        }

    def summarize(self) -> dict[str, Any]:
        evals = [r for r in self.history if r["type"] == "eval"]
        final = evals[-1] if evals else {}
        metrics = self.cfg.metrics()
        top = top_archs(self.run.path / final["csv"], metrics.k) if "csv" in final else None
        return {
            "run_dir": str(self.run.path),
            "epochs": self.epoch,
            "config_hash": self.cfg.hash(),
            "identity": self.identity,
            "final": {k: v for k, v in final.items() if k not in ("type", "csv", "seconds")},
            "evals": [
                {
                    **{k: r[k] for k in ("epoch", "supernet_acc_mean", "kdt", "skdt", "final_acc", "pbr")},
                    **{k: r[k] for k in ("pool_distinct_scores", "pool_shared_path") if k in r},
                }
                for r in evals
            ],
            "top_archs": top,
            "pool_size_requested": self.cfg.eval.pool_size,
            "sparse_threshold": metrics.threshold,
            "top_k": metrics.k,
            "metric_definition": metrics.name,
            "benchmark": {
                "space": self.cfg.space.name,
                "metric": self.bench.metric,
                "size": self.bench.size,
                **gt_file(self.bench),
            },
            "data": {"name": self.cfg.data.name, "eval_split": self.cfg.data.eval_split},
        }


def gt_file(bench: Any) -> dict[str, Any]:
    """The ground-truth file a run scored against, by name (the path is not the identity: the
    checksum is), and for DARTS-NDS its network sizes (`macro`: `w16d8`, or `mixed` for DARTS.json)."""
    meta = bench.meta
    name = meta.get("file") or (Path(str(meta["source"])).name if meta.get("source") else None)
    out: dict[str, Any] = {"file": name}
    if meta.get("macro") is not None:
        out["macro"] = meta["macro"]
    return out


def train(cfg: RunConfig, resume_dir: str | None = None) -> dict[str, Any]:
    """Start a new run (or resume RUN_DIR with `cfg` = its config) and return its summary.

    Rank 0 holds the run dir's lock from before the trainer is built until the run ends
    (a second writer is refused at once); config.yaml is written once the trainer is
    built, so a failed start-up leaves no run dir behind.
    """
    check_logging(cfg.logging)  # before anything is written
    env, device = init_runtime(cfg.runtime)  # the process group, under torchrun
    run = RunDir(resume_dir) if resume_dir is not None else RunDir.for_config(cfg)
    try:
        with _writer(run, resume_dir is None, env):
            trainer = Trainer(cfg, run, env, device)
            if resume_dir is not None:
                trainer.resume()
            elif env.is_main:
                run.create(cfg)
            trainer.register_hooks([*logging_hooks(trainer, cfg.logging), *progress_hooks(trainer)])
            return trainer.fit()
    except Interrupted as e:
        raise e.starting(run.path, Trainer.resume_command, run.config.exists()) from None
    finally:
        distributed.shutdown(env)


@contextmanager
def _writer(run: RunDir, new: bool, env: distributed.DistEnv) -> Iterator[None]:
    """Rank 0 holds `run.writing` for the block; every rank learns whether it could."""
    with ExitStack() as stack:
        error = None
        if env.is_main:  # only rank 0 writes
            try:
                stack.enter_context(run.writing(new))
            except WsnasError as e:
                error = e
        message = distributed.broadcast_object(None if error is None else str(error), env)
        if error is not None:
            raise error
        if message is not None:
            raise WsnasError(message)
        yield
