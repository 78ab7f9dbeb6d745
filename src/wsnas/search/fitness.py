"""A run dir's super-net as a search's fitness: its accuracy on a held-out validation split.

The split is `data.valid_size` images cut from the official training split with the run's
seed (`wsnas.data.load_splits`), so it never shares an image with the test split whose
accuracy is the ground truth. If the run held those images out (`data.valid_size` > 0 in
its config), the super-net never trained on them; a run with `data.valid_size=0` trained
on every training image, and searching it needs `data.valid_size=N` given for the search
only: the summary then says the validation images were seen in training. A ground truth
whose metric is not a test accuracy (e.g. NB201's x-valid) is flagged, with a warning.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from wsnas.config import RunConfig, load_config
from wsnas.core.errors import BenchmarkError, ConfigError, WsnasError
from wsnas.data import Split, load_splits
from wsnas.engine.identity import gt_fingerprint, numerics
from wsnas.engine.rundir import RunDir
from wsnas.engine.runtime import memory_format, setup_runtime
from wsnas.groundtruth import open_benchmark
from wsnas.spaces import get_space
from wsnas.spaces.base import SearchSpace, SuperNet
from wsnas.spaces.check import check_config
from wsnas.spaces.fewshot import Owners, split_edges, warmup_epochs
from wsnas.spaces.fewshot_net import FewShotSuperNet
from wsnas.trainers.evaluate import supernet_accuracies

SEARCH_KEYS = ("data.valid_size", "eval.batch_size")
"""Keys a search may set besides where/how it runs (config.NOT_IDENTITY): the fitness split's size
(only where the run held none out) and the evaluation batch (BN batch statistics depend on it)."""


def search_config(run: RunDir, overrides: list[str]) -> tuple[RunConfig, RunConfig]:
    """(the run's config, the search's): OVERRIDES may change only NOT_IDENTITY keys and SEARCH_KEYS."""
    saved: RunConfig = run.load_config()
    cfg = check_config(load_config(run.config, overrides), str(run.config))
    back = cfg.model_copy(
        update={
            "data": cfg.data.model_copy(update={"valid_size": saved.data.valid_size}),
            "eval": cfg.eval.model_copy(update={"batch_size": saved.eval.batch_size}),
        }
    )
    if back.hash() != saved.hash():
        raise ConfigError(
            f"overrides {overrides} change the super-net of {run.path}; a search may set only "
            f"{', '.join(SEARCH_KEYS)}, runtime.*, data.root and bench.source/cache_dir"
        )
    if saved.data.valid_size > 0 and cfg.data.valid_size != saved.data.valid_size:
        raise ConfigError(
            f"data.valid_size={cfg.data.valid_size}: the run held out {saved.data.valid_size} validation "
            "images (never trained on); the search uses exactly those, so leave data.valid_size as the run's"
        )
    if cfg.data.valid_size == 0:
        raise ConfigError(
            f"{run.path} trained with data.valid_size=0 (no held-out images), and search fitness is never "
            "measured on the test split (its accuracy is the ground truth): give data.valid_size=N for the "
            "search, N images of the training split (which the super-net has seen)"
        )
    return saved, cfg


@dataclass
class SupernetFitness:
    """Super-net accuracy (%) of an architecture on the validation batches, in eval mode."""

    space: SearchSpace
    model: nn.Module
    batches: list[tuple[torch.Tensor, torch.Tensor]]
    amp: bool
    facts: dict[str, Any]
    """What the summary says of the fitness: split, images, checkpoint, numerics."""

    def __call__(self, arch: Any) -> float:
        return float(supernet_accuracies(self.model, [arch], self.batches, self.amp, dedup=False)[0])

    def path_key(self, arch: Any) -> Hashable:
        """Encodings with one key run the same ops on the same weights (`SuperNet.path_key`)."""
        if isinstance(self.model, SuperNet):
            return self.model.path_key(arch)
        return self.space.format(arch)


@dataclass
class GroundTruth:
    """(arch string, canonical id, GT accuracy, GT rank) of an architecture; GT None where unknown."""

    space: SearchSpace
    bench: Any

    def __call__(self, arch: Any) -> tuple[str, str, float | None, int | None]:
        text, canonical = self.space.format(arch), self.space.canonical(arch)
        for key in (text, canonical):
            try:
                row = self.bench.row(key)
            except BenchmarkError:
                continue
            return text, canonical, float(self.bench.acc[row]), int(self.bench.ranks()[row])
        return text, canonical, None, None


def load_fitness(run: RunDir, saved: RunConfig, cfg: RunConfig) -> tuple[SearchSpace, Any, SupernetFitness]:
    """The space, its ground truth and the fitness of RUN's last checkpoint under the search config CFG."""
    state, sha = _stable_checkpoint(run)
    if state is None:
        raise WsnasError(f"{run.path} has no checkpoint.pt yet: nothing to search (train it first)")
    if state.get("config_hash") != saved.hash():
        raise WsnasError(
            f"checkpoint {run.checkpoint} was written by config {state.get('config_hash')}, but "
            f"{run.config} resolves to {saved.hash()}"
        )
    space = get_space(cfg.space.name)
    bench = open_benchmark(
        space,
        source=cfg.bench.source,
        metric=cfg.bench.metric,
        schedule=cfg.bench.schedule,
        cache_dir=cfg.bench.cache_dir,
    )
    device = setup_runtime(cfg.runtime)
    splits = load_splits(cfg.data, seed=cfg.seed)
    assert splits.valid is not None  # search_config refused valid_size 0
    model = space.supernet(cfg.mapping, cfg.lowfi, num_classes=splits.info.num_classes)
    edges = split_edges(space, saved.fewshot.split)
    if edges and int(state["epoch"]) >= warmup_epochs(saved.protocol.epochs, saved.fewshot.warmup_fraction):
        model = FewShotSuperNet(model, Owners(edges, len(getattr(space, "ops", ()))))  # scored by owners
    model.load_state_dict(state["model"])
    mf = memory_format(device, cfg.runtime.channels_last)
    model.to(device, memory_format=mf)  # type: ignore[call-overload]  # torch's stub lacks memory_format
    batches = list(
        splits.loader(
            Split(splits.valid.x, splits.valid.y),
            cfg.eval.batch_size,
            train=False,
            device=device,
            seed=cfg.seed,
            channels_last=mf == torch.channels_last,
        )
    )
    held_out = saved.data.valid_size > 0
    on_test = "test" in bench.metric
    disjoint = (
        "the ground truth is test accuracy, on images disjoint from these"
        if on_test
        else f"the ground truth metric {bench.metric!r} is not a test accuracy: its images may overlap these"
    )
    if not on_test:
        warnings.warn(f"search of {run.path}: {disjoint}", stacklevel=2)
    facts = {
        "split": "valid",
        "valid_images": len(splits.valid.y),
        "valid_seed": cfg.seed,
        "valid_held_out_from_training": held_out,
        "gt_disjoint_from_valid": on_test,
        "split_rule": f"data.valid_size={cfg.data.valid_size} images of the official {cfg.data.name} "
        f"training split, seed {cfg.seed} (wsnas.data.split_indices); {disjoint}"
        + ("" if held_out else "; the run trained on these images (its data.valid_size was 0)"),
        "eval_batch_size": cfg.eval.batch_size,
        "numerics": numerics(device, cfg.runtime.amp),
        "checkpoint_epoch": int(state["epoch"]),
        "checkpoint_sha256": sha,
        "run_config_hash": saved.hash(),
        "gt": gt_fingerprint(bench),
    }
    return space, bench, SupernetFitness(space, model, batches, cfg.runtime.amp, facts)


def _stable_checkpoint(run: RunDir, tries: int = 5) -> tuple[dict[str, Any] | None, str]:
    """RUN's checkpoint and the checksum of those very bytes: a run still training replaces it
    (atomically) each epoch, so it is hashed before and after loading until both agree."""
    for _ in range(tries):
        before = _sha256(run.checkpoint) if run.checkpoint.exists() else ""
        state = run.load_checkpoint()
        if state is None or _sha256(run.checkpoint) == before:
            return state, before
    raise WsnasError(
        f"{run.checkpoint} changed {tries} times while it was read (the run trains on); try again"
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
