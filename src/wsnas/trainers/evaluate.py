"""Super-net evaluation: the fixed pool of architectures, their super-net accuracy, the metrics."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wsnas.core.atomic import write_text_atomic
from wsnas.core.metrics import MetricDefinition, summarize
from wsnas.engine.runtime import autocast
from wsnas.spaces.base import SearchSpace, SuperNet


@dataclass(frozen=True)
class Pool:
    """A fixed, seeded sample of benchmark architectures with their ground truth."""

    archs: list[Any]
    arch_strs: list[str]
    canonical: list[str]
    index: np.ndarray
    gt: np.ndarray
    gt_rank: np.ndarray
    total: int

    def __len__(self) -> int:
        return len(self.archs)


def make_pool(
    space: SearchSpace, bench: Any, size: int, seed: int, exclude: frozenset[int] = frozenset()
) -> Pool:
    """Draw `size` architectures uniformly without replacement from the rows with GT.

    EXCLUDE: ground-truth rows that never enter the pool (landmarks, whose ground truth was a
    training input). The pool is the one drawn without them, each excluded row replaced by a row
    drawn from the rest of the ground truth with the same generator; it is smaller only when the
    rest runs out.
    """
    rng = np.random.default_rng(seed)
    rows = rng.choice(bench.size, size=min(size, bench.size), replace=False)
    if exclude:
        banned = np.zeros(bench.size, dtype=bool)
        banned[list(exclude)] = True
        kept = [int(r) for r in rows if not banned[r]]
        taken = set(int(r) for r in rows)
        rest = [int(r) for r in rng.permutation(bench.size) if not banned[r] and int(r) not in taken]
        rows = np.asarray(kept + rest[: len(rows) - len(kept)], dtype=np.int64)
    strs = [str(bench.arch[r]) for r in rows]
    return Pool(
        archs=[space.parse(s) for s in strs],
        arch_strs=strs,
        canonical=[str(bench.canonical[r]) for r in rows],
        index=np.asarray(bench.index[rows]),
        gt=np.asarray(bench.acc[rows], dtype=np.float64),
        gt_rank=np.asarray([bench.rank(s) for s in strs]),
        total=bench.size,
    )


def same_path_groups(model: nn.Module, archs: list[Any]) -> list[int]:
    """For each arch, the index of the first arch in `archs` that runs exactly the same path.

    Archs share a path when the super-net's `SuperNet.path_key` says so (NB201's
    pruned plan: archs differing only in `none` or dead-end edges compute the same
    ops on the same weights, so the same logits). A model that is not a `SuperNet`
    makes every arch its own group.
    """
    if not isinstance(model, SuperNet):
        return list(range(len(archs)))
    first: dict[Any, int] = {}
    return [first.setdefault(model.path_key(arch), i) for i, arch in enumerate(archs)]


@torch.inference_mode()
def supernet_accuracies(
    model: nn.Module,
    archs: list[Any],
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    amp: bool,
    dedup: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Top-1 accuracy (%) of each architecture with the shared weights, in eval mode.

    With BN running statistics off, eval mode still normalises with the batch's
    statistics, as the paper evaluates; so the numbers depend (slightly) on the
    eval batch size. No autograd (inference mode). With `dedup`, archs that run
    the same path (`same_path_groups`) are computed once: in eval mode nothing is
    random, so their accuracies would be identical anyway. `progress(done, total)` is
    called after each arch (no host sync: the counts stay on the device).
    """
    model.eval()
    device = batches[0][0].device
    total = sum(int(y.numel()) for _, y in batches)
    groups = same_path_groups(model, archs) if dedup else list(range(len(archs)))
    correct = torch.zeros(len(archs), dtype=torch.long, device=device)
    for i, arch in enumerate(archs):
        if groups[i] == i:
            for x, y in batches:
                with autocast(device, amp):
                    out = model(x, arch)
                correct[i] += (out.argmax(1) == y).sum()
        if progress is not None:
            progress(i + 1, len(archs))
    correct = correct[torch.as_tensor(groups, device=device)]
    return correct.cpu().numpy() * 100.0 / total


def evaluate_pool(
    model: nn.Module,
    pool: Pool,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    definition: MetricDefinition,
    amp: bool,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Super-net accuracies of the pool and their metrics, with two counts that explain ties.

    `pool_distinct_scores`: distinct super-net accuracies in the pool (1 = collapsed: the
    ranking metrics are undefined and final_acc / P>R are the tie rule's expectations);
    `pool_shared_path`: pool archs that run the same pruned path (`SuperNet.path_key`) as
    another pool arch, so tie by construction. `definition` (`RunConfig.metrics`) sets s-KdT's
    bins and the top-k.
    """
    accs = supernet_accuracies(model, pool.archs, batches, amp, progress=progress)
    d = definition
    metrics = summarize(accs, pool.gt, pool.gt_rank, pool.total, d.threshold, d.k, definition=d.name)
    return accs, {**metrics, **tie_counts(accs, same_path_groups(model, pool.archs))}


def tie_counts(accs: np.ndarray, groups: list[int]) -> dict[str, Any]:
    """`pool_distinct_scores` and `pool_shared_path` (see `evaluate_pool`), with their definitions."""
    sizes = Counter(groups)
    return {
        "pool_distinct_scores": int(np.unique(accs).size),
        "pool_shared_path": sum(1 for g in groups if sizes[g] > 1),
        "pool_distinct_scores_definition": "distinct super-net accuracies in the pool",
        "pool_shared_path_definition": "pool archs whose pruned path (SuperNet.path_key) another one runs",
    }


def top_archs(csv_path: Path, k: int) -> dict[str, Any]:
    """The K best pool archs by super-net accuracy in an eval CSV, with their ground truth.

    Order: super-net accuracy, then pool order. `tied_beyond`: archs left out that share the
    k-th score (final_acc and P>R count the expectation over them; this list names k of them).
    """
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    ranked = sorted(rows, key=lambda r: -float(r["supernet_acc"]))
    top = ranked[:k]
    cut = float(top[-1]["supernet_acc"]) if top else None
    return {
        "archs": [
            {
                "arch": r["arch"],
                "supernet_acc": float(r["supernet_acc"]),
                "gt_acc": float(r["gt_acc"]),
                "gt_rank": int(r["gt_rank"]),
            }
            for r in top
        ],
        "tied_beyond": sum(1 for r in ranked[k:] if float(r["supernet_acc"]) == cut),
    }


def write_eval_csv(path: Path, pool: Pool, accs: np.ndarray) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["arch", "canonical", "index", "supernet_acc", "gt_acc", "gt_rank"])
    for i in range(len(pool)):
        w.writerow(
            [
                pool.arch_strs[i],
                pool.canonical[i],
                int(pool.index[i]),
                f"{accs[i]:.4f}",
                f"{pool.gt[i]:.4f}",
                int(pool.gt_rank[i]),
            ]
        )
    write_text_atomic(path, buf.getvalue())
