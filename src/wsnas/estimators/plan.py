"""What a `wsnas estimate` run is, resolved before a file is written: its options, the checked
config, the estimators, the ground truth (and `bench:E` tables), the pool and the minibatch; and
the plan of an existing run dir (`load_plan`, for --resume and shards)."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from wsnas.config import RunConfig, load_config
from wsnas.core.errors import BenchmarkError, ConfigError, WsnasError
from wsnas.data.datasets import load_splits
from wsnas.engine.rundir import RunDir, check_run_name
from wsnas.engine.runtime import setup_runtime
from wsnas.estimators.identity import estimate_identity
from wsnas.estimators.networks import DEFAULT_NETWORK, NETWORKS, check_network, normalisation
from wsnas.estimators.registry import VOTE_OF, Estimator, bench_schedule, check_estimators
from wsnas.groundtruth import open_benchmark
from wsnas.spaces import get_space
from wsnas.spaces.check import bench_metric, check_config, pool_size_used
from wsnas.trainers.evaluate import Pool, make_pool

CONFIG_FILE = "estimate.yaml"
OPTIONS_FILE = "estimate.json"
SCORES_FILE = "scores.csv"
DEFAULT_BATCH = 64
"""The minibatch of the zero-cost proxies: zero-cost-nas's NAS-Bench-201 runs use one batch of 64."""


@dataclass(frozen=True)
class EstimateOptions:
    """What `wsnas estimate` adds to a run config (recorded in estimate.json and the identity)."""

    estimators: list[str]
    archs: str = "pool"
    """'pool' (the super-net runs' eval pool: eval.pool_size, eval.pool_seed), 'all' (every
    architecture with GT) or N (a sample of N, drawn as the pool is, with eval.pool_seed)."""
    batch: int = DEFAULT_BATCH
    channels: int | None = None
    """Stand-alone network width (None: the benchmark's, SearchSpace.proxy['channels'])."""
    cells: int | None = None
    """Cells per stage (None: the benchmark's, SearchSpace.proxy['cells'])."""
    network: str = DEFAULT_NETWORK
    """The network and preprocessing the zero-cost estimators score (`estimators.networks`)."""

    def check(self) -> None:
        if self.archs not in ("pool", "all") and not (self.archs.isdigit() and int(self.archs) >= 2):
            raise ConfigError(f"--archs: got {self.archs!r}; use pool, all or a number N >= 2")
        if self.batch < 2:
            raise ConfigError(f"--batch: got {self.batch}; the proxies need at least 2 images")
        for key in ("channels", "cells"):
            v = getattr(self, key)
            if v is not None and v < 1:
                raise ConfigError(f"--{key}: got {v}; must be >= 1")
        if self.network not in NETWORKS:
            raise ConfigError(f"--network: got {self.network!r}; use one of {', '.join(NETWORKS)}")


@dataclass
class Plan:
    """Everything a run needs, resolved before a file is written (errors first)."""

    cfg: RunConfig
    opts: EstimateOptions
    space: Any
    estimators: list[Estimator]
    columns: list[str]
    """Estimator columns of scores.csv (vote and pool estimators are derived in the summary from
    their components' columns, not columns themselves)."""
    bench: Any
    pool: Pool
    reduced: dict[str, Any] = field(default_factory=dict)
    """bench:E name -> the benchmark at schedule E."""
    device: torch.device = torch.device("cpu")
    batch: tuple[torch.Tensor, torch.Tensor] | None = None
    num_classes: int = 10
    channels: int = 16
    cells: int = 5
    identity: dict[str, Any] = field(default_factory=dict)
    run: RunDir | None = None
    gt_columns: Any = None
    """The ground-truth columns of the run's data set (`estimators.gt_columns`), opened by the summary."""

    def options_record(self) -> dict[str, Any]:
        """What estimate.json records and the identity hashes: the options as resolved."""
        return {**asdict(self.opts), "columns": self.columns, "channels": self.channels, "cells": self.cells}


def plan_estimate(cfg: RunConfig, opts: EstimateOptions, source: str = "config") -> Plan:
    """Check the config and options, open the ground truth (and bench:E tables), draw the archs."""
    opts.check()
    check_run_name(cfg.name)
    space = get_space(check_config(cfg, source).space.name)
    ests = check_estimators(opts.estimators, space)
    scored = any(e.kind in ("zero_cost", "vote", "pool") for e in ests)  # a network is built
    check_network(opts.network, space, cfg.data.name, scored)
    names = [e.name for e in ests]
    columns = [e.name for e in ests if e.kind not in ("vote", "pool")]
    if "vote" in names:
        columns += [n for n in VOTE_OF if n not in columns]
    for e in ests:  # a pool estimator's components are columns, it is derived in the summary
        columns += [n for n in e.components if n not in columns]
    b = cfg.bench
    bench = open_benchmark(
        space, source=b.source, metric=bench_metric(space, cfg), schedule=b.schedule, cache_dir=b.cache_dir
    )
    reduced = {}
    for n in columns:
        sched = bench_schedule(n)
        if sched is not None:
            try:
                reduced[n] = open_benchmark(
                    space, source=b.source, metric=bench.metric, schedule=sched, cache_dir=b.cache_dir
                )
            except BenchmarkError as e:
                raise ConfigError(f"estimator {n!r}: bench.source={b.source!r}: {e}") from None
    where = f"the ground truth ({bench.metric})"
    if opts.archs == "pool":
        size = pool_size_used(cfg.eval.pool_size, bench.size, where)
    elif opts.archs == "all":
        size = bench.size
    else:
        size = int(opts.archs)
        if size > bench.size:
            warnings.warn(
                f"--archs {size} is larger than {where} ({bench.size} architectures); "
                f"scoring all {bench.size}",
                stacklevel=2,
            )
            size = bench.size
    pool = make_pool(space, bench, size, cfg.eval.pool_seed)
    device = setup_runtime(cfg.runtime)
    plan = Plan(cfg, opts, space, ests, columns, bench, pool, reduced, device)
    plan.channels = opts.channels or int(space.proxy.get("channels", 16))
    plan.cells = opts.cells or int(space.proxy.get("cells", 5))
    plan.identity = estimate_identity(plan)
    return plan


def default_run_dir(plan: Plan) -> Path:
    cfg = plan.cfg
    name = cfg.name or f"estimate-{cfg.space.name}-s{cfg.seed}-{plan.identity['config']}"
    return Path(cfg.out_dir) / name


def minibatch(
    cfg: RunConfig, batch: int, device: torch.device, network: str = DEFAULT_NETWORK
) -> tuple[tuple[torch.Tensor, torch.Tensor], int]:
    """The one seeded training minibatch every architecture is scored on (augmented as in training),
    normalised as NETWORK's preprocessing does (`estimators.networks.normalisation`)."""
    splits = load_splits(cfg.data, seed=cfg.seed)
    norm = normalisation(network, cfg.data.name)
    if norm is not None:
        splits = replace(splits, info=replace(splits.info, mean=norm[0], std=norm[1]))
    if len(splits.train.y) < batch:
        raise ConfigError(f"--batch {batch}: the training split holds only {len(splits.train.y)} images")
    loader = splits.loader(
        splits.train, batch, train=True, device=device, seed=cfg.seed, augment=cfg.data.augment
    )
    loader.set_epoch(0)
    x, y = next(iter(loader))
    return (x.float().contiguous(), y), splits.info.num_classes


def load_plan(run_dir: str | os.PathLike, overrides: list[str] | None = None) -> Plan:
    """The plan of an existing estimate run dir (for --resume): its config and options."""
    path = Path(run_dir)
    if not (path / OPTIONS_FILE).is_file() or not (path / CONFIG_FILE).is_file():
        raise WsnasError(f"{path} is not an estimate run dir: no {OPTIONS_FILE} / {CONFIG_FILE}")
    cfg = load_config(path / CONFIG_FILE, overrides or [])
    rec = json.loads((path / OPTIONS_FILE).read_text())
    opts = EstimateOptions(
        estimators=list(rec["estimators"]),
        archs=str(rec["archs"]),
        batch=int(rec["batch"]),
        channels=rec.get("channels"),
        cells=rec.get("cells"),
        network=str(rec.get("network", DEFAULT_NETWORK)),
    )
    return plan_estimate(cfg, opts, str(path / CONFIG_FILE))
