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

from wsnas.algorithms.build import build_algorithm
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
from wsnas.spaces.fewshot import Owners, draw_owned, split_edges, warmup_epochs
from wsnas.spaces.fewshot_net import FewShotSuperNet
from wsnas.spaces.landmarks import coefficient, draw_pairs, select_landmarks, start_epoch
from wsnas.spaces.samplers import build_sampler
from wsnas.trainers.evaluate import evaluate_pool, make_pool, top_archs, write_eval_csv
from wsnas.trainers.landmark import pair_term
from wsnas.trainers.search_steps import ArchBatches, algorithm_step, search_record

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
        lm = cfg.landmark
        self.landmarks = (
            select_landmarks(self.space, self.bench, lm.num_archs, lm.archs_file, cfg.seed)
            if lm.num_archs
            else None
        )
        exclude = frozenset(self.landmarks.rows) if self.landmarks is not None else frozenset()
        if exclude:
            where += f" less its {len(exclude)} landmarks"
        size = pool_size_used(cfg.eval.pool_size, self.bench.size - len(exclude), where)
        self.pool = make_pool(self.space, self.bench, size, cfg.eval.pool_seed, exclude)
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
        self.algo = build_algorithm(cfg, self.space, device)
        self.arch_losses: list[float] = []
        if self.algo is not None:
            if env.world_size > 1:
                raise WsnasError(
                    f"algorithm.name={cfg.algorithm.name}: search algorithms run on one process (their "
                    "architecture step is not averaged over ranks); start without torchrun"
                )
            self.arch_batches = ArchBatches(
                self.splits, cfg, p.batch_size, device, self.mf == torch.channels_last
            )
        self.lm_start = start_epoch(p.epochs, lm.warmup_fraction)
        self.lm_coef = 0.0
        self.lm_sum = torch.zeros((), device=device)
        edges = split_edges(self.space, cfg.fewshot.split)
        self.owners = Owners(edges, len(getattr(self.space, "ops", ()))) if edges else None
        self.fs_warmup = warmup_epochs(p.epochs, cfg.fewshot.warmup_fraction) if edges else p.epochs
        self.is_split = False
        if self.owners is not None:  # the one-shot phase is a whole schedule of its own (released code)
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                self.optimizer, T_max=self.fs_warmup, eta_min=p.lr_min
            )

    def split(self) -> None:
        """Few-shot: K copies of the one-shot super-net, a fresh SGD and a fresh cosine over the epochs
        left (Few-shot NAS's released code restarts optimizer and schedule for each sub-super-net)."""
        p = self.cfg.protocol
        assert self.owners is not None
        self.setup_model(FewShotSuperNet(self.model, self.owners))
        self.params = [q for q in self.model.parameters() if q.requires_grad]
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay, nesterov=False
        )
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=p.epochs - self.fs_warmup, eta_min=p.lr_min
        )
        self.is_split = True

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.algo is not None:
            state["algorithm"] = self.algo.state_dict()
        if self.landmarks is not None:
            state["landmarks"] = list(self.landmarks.arch_strs)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """A checkpoint after the split holds K sub-super-nets: split first, then load them. Landmarks
        read from a file must be those the run was trained with."""
        if self.landmarks is not None and state.get("landmarks") != list(self.landmarks.arch_strs):
            raise WsnasError(
                f"checkpoint {self.run.checkpoint} was trained with other landmarks than "
                f"{self.landmarks.source} gives now; restore that file or start a new run"
            )
        if self.owners is not None and state["epoch"] >= self.fs_warmup and not self.is_split:
            self.split()
        super().load_state_dict(state)
        if self.algo is not None:
            saved = state.get("algorithm")
            if not saved or saved.get("name") != self.algo.spec.name:
                raise WsnasError(
                    f"checkpoint {self.run.checkpoint} holds no state of algorithm {self.algo.spec.name}; "
                    "start a new run"
                )
            self.algo.load_state_dict(saved)

    def train_epoch(self) -> dict[str, Any]:
        """The engine's epoch, after the few-shot split when it is due; the landmark term's coefficient
        and mean per step join the record."""
        if self.owners is not None and self.epoch >= self.fs_warmup and not self.is_split:
            self.split()
        if self.landmarks is not None:
            lm = self.cfg.landmark
            self.lm_coef = coefficient(self.epoch, self.epochs, self.lm_start, lm.coef, lm.schedule)
            self.lm_sum.zero_()
        if self.algo is not None:
            self.algo.begin_epoch(self.epoch, self.epochs)
            self.arch_batches.start_epoch(self.epoch)
            self.arch_losses = []
        record = super().train_epoch()
        if self.algo is not None:
            record["arch_loss"] = float(np.mean(self.arch_losses)) if self.arch_losses else None
            if hasattr(self.algo, "tau"):
                record["tau"] = self.algo.tau
        if self.landmarks is not None:
            record["landmark_coef"] = self.lm_coef
            record["landmark_loss"] = self.lm_sum.item() / max(len(self.loader), 1)
        if self.owners is not None:
            record["subnets"] = len(self.owners) if self.is_split else 1
        return record

    def fit(self) -> dict[str, Any]:
        """Record the run's identity (identity.json; checked on resume), then the engine's loop."""
        record_identity(self.run, self.identity)
        return super().fit()

    def describe(self) -> dict[str, str]:
        asked = self.cfg.eval.pool_size
        pool = f"{len(self.pool)} archs" + (
            f" (of {asked} asked: the GT has no more)" if len(self.pool) < asked else ""
        )
        out = {
            "space": f"{self.space.title or self.space.name} ({self.space.name})",
            "super-net": f"{count_params(self.model) / 1e6:.3f} M params",
            "pool": pool,
        }
        if self.landmarks is not None:
            out["landmarks"] = (
                f"M={len(self.landmarks)} ({self.landmarks.source}; their ground truth is a training input, "
                f"kept out of the pool); ranking term from epoch {self.lm_start + 1}"
            )
        if self.owners is not None:
            out["few-shot"] = (
                f"{len(self.owners)} sub-super-nets split on edges {list(self.owners.edges)} after "
                f"{self.fs_warmup} one-shot epochs"
            )
        return out

    def train_step(self, step: int, x: torch.Tensor, y: torch.Tensor) -> None:
        """The step's paths, their gradients summed, averaged over ranks, clipped; one SGD step.

        Landmarks: the ranking term's pairs add their gradients before the clip (authors' order).
        After a few-shot split: one path per sub-super-net, each drawn inside its sub-space, each
        sub-super-net clipped on its own, so K independent steps in one optimizer call."""
        if self.is_split:
            return self._fewshot_step(step, x, y)
        if self.algo is not None:
            return algorithm_step(self, step, x, y)
        paths = self.sampler.step_paths(self.rng)
        self.optimizer.zero_grad(set_to_none=True)
        for arch in paths:
            with autocast(self.device, self.cfg.runtime.amp):
                out = self.model(x, arch)
                loss = F.cross_entropy(out, y)
            loss.backward()
            self.stats.add(out, y, loss, paths=len(paths))
            self.stats.note_finite(step, loss)
        if self.landmarks is not None and self.epoch >= self.lm_start:
            lm, marks = self.cfg.landmark, self.landmarks
            for a, b in draw_pairs(self.rng, len(marks), lm.pairs):
                with autocast(self.device, self.cfg.runtime.amp):
                    term = pair_term(self.model, x, y, marks.archs[a], marks.archs[b], self.lm_coef, lm.loss)
                term.backward()
                self.lm_sum += term.detach().float()
                self.stats.note_finite(step, term)
        distributed.average_gradients(self.params, self.dist)  # no-op on one process
        if self.cfg.protocol.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.protocol.grad_clip)
        self.optimizer.step()

    def _fewshot_step(self, step: int, x: torch.Tensor, y: torch.Tensor) -> None:
        assert self.owners is not None and isinstance(self.model, FewShotSuperNet)
        self.optimizer.zero_grad(set_to_none=True)
        k_all = len(self.owners)
        for k in range(k_all):
            arch = draw_owned(lambda r: self.sampler.step_paths(r)[0], self.rng, self.owners, k)
            with autocast(self.device, self.cfg.runtime.amp):
                out = self.model(x, arch)
                loss = F.cross_entropy(out, y)
            loss.backward()
            self.stats.add(out, y, loss, paths=k_all)
            self.stats.note_finite(step, loss)
        distributed.average_gradients(self.params, self.dist)
        if self.cfg.protocol.grad_clip > 0:
            for k in range(k_all):
                torch.nn.utils.clip_grad_norm_(self.model.sub_params(k), self.cfg.protocol.grad_clip)
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
        found = search_record(self, self.pool) if self.algo is not None else {}
        return {
            **metrics,
            **found,
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
            **self._heuristics_summary(),
            **self._algorithm_summary(evals),
        }

    def _algorithm_summary(self, evals: list[dict[str, Any]]) -> dict[str, Any]:
        """The algorithm, its settings and reference, and what it found at each evaluation (the last
        derived architecture is the run's final searched model, Table 5's number)."""
        if self.algo is None:
            return {}
        keys = ("epoch", "derived_arch", "derived_gt", "derived_gt_rank", "derived_param_free_share",
                "dist_kdt", "dist_skdt", "dist_spearman", "dist_pbr")  # fmt: skip
        epochs = [r for r in self.history if r["type"] == "epoch"]
        last = evals[-1] if evals else {}
        return {
            "algorithm": {
                **self.algo.describe(),
                "final_searched_arch": last.get("derived_arch"),
                "final_searched_gt": last.get("derived_gt"),
                "final_searched_gt_rank": last.get("derived_gt_rank"),
                "trajectory": [{k: r.get(k) for k in keys} for r in evals],
                "seconds_per_epoch": float(np.median([r["seconds"] for r in epochs])) if epochs else None,
            }
        }

    def _heuristics_summary(self) -> dict[str, Any]:
        """What landmark regularisation and few-shot splitting did and cost (seconds per epoch before
        and after they act, measured in this run)."""
        out: dict[str, Any] = {}
        epochs = [r for r in self.history if r["type"] == "epoch"]

        def median_seconds(records: list[dict[str, Any]]) -> float | None:
            return float(np.median([r["seconds"] for r in records])) if records else None

        if self.landmarks is not None:
            lm = self.cfg.landmark
            out["landmark"] = {
                **self.landmarks.describe(),
                "pool_archs_sharing_a_landmark_cell": int(
                    sum(c in set(self.landmarks.canonical) for c in self.pool.canonical)
                ),
                "start_epoch": self.lm_start + 1,
                "extra_forward_backward_per_step": 2 * lm.pairs,
                "seconds_per_epoch_before_term": median_seconds(epochs[: self.lm_start]),
                "seconds_per_epoch_with_term": median_seconds(epochs[self.lm_start :]),
            }
        if self.owners is not None:
            out["fewshot"] = {
                "split_edges": [list(self.space.edges[e]) for e in self.owners.edges],  # type: ignore[attr-defined]
                "subnets": len(self.owners),
                "oneshot_epochs": self.fs_warmup,
                "subnet_epochs": self.epochs - self.fs_warmup,
                "epoch_equivalents": self.fs_warmup + len(self.owners) * (self.epochs - self.fs_warmup),
                "seconds_per_epoch_oneshot": median_seconds(epochs[: self.fs_warmup]),
                "seconds_per_epoch_split": median_seconds(epochs[self.fs_warmup :]),
                "note": "after the split every epoch trains each sub-super-net on every batch (one path "
                "each) and every architecture is scored by the sub-super-net that owns it",
            }
        return out


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
