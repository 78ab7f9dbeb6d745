"""What a run with a search algorithm (`algorithm.name`, `wsnas.algorithms`) adds to super-net training:
the architecture split's batches, the combined step, and the evaluation of what the algorithm found.

A step is the references' order: DARTS and DrNAS update the architecture on a batch of the
architecture split, then the weights on the training batch; GDAS and SETN the weights first. The
weights' step is the super-net's (gradient clip, one SGD step). ENAS and NAO take no architecture step
beside the weights'; their controller's phase (`Algorithm.end_epoch`) follows the epoch's last one. At
each evaluation the derived architecture is recorded with its ground truth and rank, the pool is
ranked a second time by the learnt distribution (log-probability per architecture) with the same
metrics as the one-shot accuracies, and the parameter-free share of the derived cell is logged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from wsnas.algorithms.base import Algorithm, Batch
from wsnas.config import RunConfig
from wsnas.core.errors import BenchmarkError
from wsnas.core.metrics import summarize
from wsnas.data import Split
from wsnas.engine.runtime import autocast
from wsnas.trainers.evaluate import Pool

ARCH_SEED_OFFSET = 7919
"""The architecture split's batch order is seeded by seed + this (its own stream, not the weights')."""


class ArchBatches:
    """Batches of the architecture split: an augmented, shuffled stream for the architecture steps
    (epoch e's order seeded by (seed, e, pass)) and a fixed, plain one for SETN's final choice."""

    def __init__(
        self, splits: Any, cfg: RunConfig, batch_size: int, device: torch.device, channels_last: bool
    ) -> None:
        split = splits.valid if cfg.algorithm.arch_split == "valid" else splits.train
        assert split is not None  # spaces.algorithms refuses valid_size 0 with arch_split=valid
        seed = cfg.seed + ARCH_SEED_OFFSET
        self.train_loader = splits.loader(
            split, batch_size, train=True, device=device, seed=seed, augment=cfg.data.augment,
            channels_last=channels_last,
        )  # fmt: skip
        self.plain = splits.loader(
            Split(split.x, split.y),
            batch_size,
            train=False,
            device=device,
            seed=seed,
            channels_last=channels_last,
        )
        self._it: Iterator[Batch] = iter(())
        self._plain_it: Iterator[Batch] = iter(())
        self.epoch, self.passes = 0, 0

    def start_epoch(self, epoch: int) -> None:
        self.epoch, self.passes = epoch, 0
        self._it = iter(())

    def next(self) -> Batch:
        """The next architecture batch; the split is walked again (a new order) when it runs out."""
        for _ in range(2):
            try:
                return next(self._it)
            except StopIteration:
                self.train_loader.set_epoch(self.epoch * 1_000_003 + self.passes)
                self.passes += 1
                self._it = iter(self.train_loader)
        raise RuntimeError("the architecture split yields no batch")

    def plain_batches(self) -> Any:
        """A callable giving the plain stream's batches in order, from its start, wrapping round."""
        self._plain_it = iter(self.plain)

        def take() -> Batch:
            try:
                return next(self._plain_it)
            except StopIteration:
                self._plain_it = iter(self.plain)
                return next(self._plain_it)

        return take


def batch_accuracy(model: torch.nn.Module, amp: bool) -> Any:
    """scorer(arch, batch) -> top-1 accuracy (%) of the single path in eval mode (SETN's choice)."""

    @torch.no_grad()
    def score(arch: Any, batch: Batch) -> float:
        was = model.training
        model.eval()
        x, y = batch
        with autocast(x.device, amp):
            out = model(x, arch)
        model.train(was)
        return 100.0 * float((out.argmax(1) == y).float().mean())

    return score


def algorithm_step(trainer: Any, step: int, x: torch.Tensor, y: torch.Tensor) -> None:
    """One step of a run with an algorithm (module docstring); the weights' forward feeds the stats."""
    algo: Algorithm = trainer.algo
    arch_batch = trainer.arch_batches.next() if algo.arch_every_step else None
    if arch_batch is not None and algo.arch_first:
        trainer.arch_losses.append(algo.arch_step(trainer.model, arch_batch, (x, y), trainer.optimizer))
    trainer.optimizer.zero_grad(set_to_none=True)
    with autocast(trainer.device, trainer.cfg.runtime.amp):
        out = algo.weight_forward(trainer.model, x, trainer.rng, trainer.sampler)
        loss = F.cross_entropy(out, y)
    loss.backward()
    trainer.stats.add(out, y, loss)
    trainer.stats.note_finite(step, loss)
    if trainer.cfg.protocol.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(trainer.params, trainer.cfg.protocol.grad_clip)
    trainer.optimizer.step()
    if arch_batch is not None and not algo.arch_first:
        trainer.arch_losses.append(algo.arch_step(trainer.model, arch_batch, (x, y), trainer.optimizer))
    if step + 1 == len(trainer.loader):
        scorer = batch_accuracy(trainer.model, trainer.cfg.runtime.amp)
        trainer.arch_losses.extend(algo.end_epoch(trainer.model, scorer, trainer.arch_batches))


def ranked_scores(scores: np.ndarray) -> np.ndarray:
    """SCORES for the learnt ranking of the pool: a pool architecture the algorithm's token grammar
    cannot write (an NB101 cell that is no eval-nas tree: log-probability -inf) ranks below every
    other, all such tied (one below the lowest finite score)."""
    finite = np.isfinite(scores)
    if finite.all():
        return scores
    floor = float(scores[finite].min()) - 1.0 if finite.any() else 0.0
    return np.where(finite, scores, floor)


def search_record(trainer: Any, pool: Pool) -> dict[str, Any]:
    """What the algorithm found at this evaluation: the derived architecture with its ground truth
    and rank, the pool ranked by the learnt distribution, the parameter-free share, the
    distribution itself."""
    algo: Algorithm = trainer.algo
    space, bench = trainer.space, trainer.bench
    arch = algo.derive(
        trainer.model,
        batch_accuracy(trainer.model, trainer.cfg.runtime.amp),
        trainer.arch_batches.plain_batches(),
    )
    arch_str = space.format(arch)
    key = space.canonical(arch) if hasattr(space, "canonical") else arch_str
    try:
        gt, rank = float(bench.acc_of(arch_str)), int(bench.rank(arch_str))
    except BenchmarkError:
        gt, rank = float("nan"), -1
    d = trainer.cfg.metrics()
    raw = algo.log_probs(pool.archs)
    scores = ranked_scores(raw)
    dist = summarize(scores, pool.gt, pool.gt_rank, pool.total, d.threshold, d.k, definition=d.name)
    keep = ("kdt", "skdt", "spearman", "final_acc", "pbr")
    rec: dict[str, Any] = {
        "derived_arch": arch_str,
        "derived_canonical": key,
        "derived_gt": gt,
        "derived_gt_rank": rank,
        "derived_param_free_share": algo.param_free_share(arch),
        **{f"dist_{k}": dist[k] for k in keep if k in dist},
        "dist_distinct_scores": int(np.unique(scores).size),
        **({"dist_unwritable": int((~np.isfinite(raw)).sum())} if not np.all(np.isfinite(raw)) else {}),
        "arch_probabilities": algo.probabilities(),
        **algo.record(),
    }
    losses = trainer.arch_losses
    if losses:
        rec["arch_loss"] = float(np.mean(losses))
    candidates = getattr(algo, "last_candidates", None)
    if candidates:
        rec["setn_candidates"] = len(candidates)
        rec["setn_best_batch_acc"] = max(acc for _, acc in candidates)
    return rec
