"""What a `wsnas estimate` run is, resolved before a file is written: its options, the checked
config, the estimators, the ground truth (and `bench:E` tables), the pool and the minibatch; and
the plan of an existing run dir (`load_plan`, for --resume and shards)."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from wsnas.config import RunConfig, load_config
from wsnas.core.errors import BenchmarkError, ConfigError, WsnasError
from wsnas.data.datasets import load_splits
from wsnas.engine.rundir import RunDir, check_run_name
from wsnas.engine.runtime import setup_runtime
from wsnas.estimators.arch_list import LIST_FILE, ArchList, check_list, pool_of, read_entries
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
    architecture with GT), N (a sample of N, drawn as the pool is, with eval.pool_seed) or 'list'
    (ARCH_ENTRIES, in their order: `estimators.arch_list`)."""
    batch: int = DEFAULT_BATCH
    channels: int | None = None
    """Stand-alone network width (None: the benchmark's, SearchSpace.proxy['channels'])."""
    cells: int | None = None
    """Cells per stage (None: the benchmark's, SearchSpace.proxy['cells'])."""
    network: str = DEFAULT_NETWORK
    """The network and preprocessing the zero-cost estimators score (`estimators.networks`)."""
    arch_entries: tuple[tuple[int, str], ...] | None = None
    """archs='list': (line number, architecture string) of each entry (`arch_list.read_entries`)."""
    archs_source: str | None = None
    """archs='list': where the entries came from (the --archs file; 'list' for a Python list)."""
    drop_duplicates: bool = False
    """archs='list': leave repeats out (counted) instead of refusing the list."""

    def check(self) -> None:
        if self.archs == "list":
            if self.arch_entries is None:
                raise ConfigError("--archs list: no architectures given")
        elif self.archs not in ("pool", "all") and not (self.archs.isdigit() and int(self.archs) >= 2):
            raise ConfigError(f"--archs: got {self.archs!r}; use pool, all, a number N >= 2 or a file")
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
    arch_list: ArchList | None = None
    """archs='list': the checked list the pool is (its checksum enters the identity)."""
    gt_columns: Any = None
    """The ground-truth columns of the run's data set (`estimators.gt_columns`), opened by the summary."""

    def options_record(self) -> dict[str, Any]:
        """What estimate.json records and the identity hashes (less `identity.NOT_HASHED`): the options
        as resolved; an explicit list by its checksum and length (the run dir keeps it, archs.txt)."""
        rec = {f.name: getattr(self.opts, f.name) for f in fields(self.opts) if f.name not in _LIST_INPUTS}
        rec.update(columns=self.columns, channels=self.channels, cells=self.cells)
        if self.arch_list is not None:
            a = self.arch_list
            rec.update(archs_sha256=a.sha256, archs_n=len(a.arch_strs), archs_source=a.source)
            rec["archs_dropped"] = a.dropped
        return rec


_LIST_INPUTS = ("arch_entries", "archs_source", "drop_duplicates")
"""Options that are how a list was given, not what it is (the record keeps its checksum instead)."""


def archs_option(value: str | int | os.PathLike | Sequence[str]) -> dict[str, Any]:
    """EstimateOptions fields for an --archs value (or `estimate(archs=...)`): pool, all, N, a file of
    architectures (read here), or a sequence of architecture strings."""
    if isinstance(value, bool):
        raise ConfigError(f"archs: got {value!r}; give 'pool', 'all', a number, a file or a list")
    if isinstance(value, int):
        return {"archs": str(value)}
    if isinstance(value, str | os.PathLike):
        text = str(value)
        if text in ("pool", "all") or text.isdigit():
            return {"archs": text}
        return {"archs": "list", "arch_entries": tuple(read_entries(text)), "archs_source": text}
    items = list(value)
    if not all(isinstance(a, str) for a in items):
        raise ConfigError("archs: give 'pool', 'all', a number, a file, or a list of architecture strings")
    return {"archs": "list", "arch_entries": tuple(enumerate(items, 1)), "archs_source": "list"}


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
    arch_list = None
    if opts.archs == "list":
        assert opts.arch_entries is not None  # EstimateOptions.check
        src = opts.archs_source or "list"
        arch_list = check_list(opts.arch_entries, space, bench, src, opts.drop_duplicates)
        if arch_list.dropped:
            msg = f"--archs {src}: {arch_list.dropped} repeated architecture(s) left out"
            warnings.warn(msg, stacklevel=2)
    elif opts.archs == "pool":
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
    if arch_list is not None:
        pool = pool_of(space, bench, arch_list.arch_strs)
    else:
        pool = make_pool(space, bench, size, cfg.eval.pool_seed)
    device = setup_runtime(cfg.runtime)
    plan = Plan(cfg, opts, space, ests, columns, bench, pool, reduced, device)
    plan.channels = opts.channels or int(space.proxy.get("channels", 16))
    plan.cells = opts.cells or int(space.proxy.get("cells", 5))
    plan.arch_list = arch_list
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
    listed: dict[str, Any] = {}
    if rec.get("archs") == "list":  # the run dir's own copy of the list, whatever became of the file
        listed = {"arch_entries": tuple(read_entries(path / LIST_FILE))}
        listed["archs_source"] = rec.get("archs_source")
    opts = EstimateOptions(
        **listed,
        estimators=list(rec["estimators"]),
        archs=str(rec["archs"]),
        batch=int(rec["batch"]),
        channels=rec.get("channels"),
        cells=rec.get("cells"),
        network=str(rec.get("network", DEFAULT_NETWORK)),
    )
    plan = plan_estimate(cfg, opts, str(path / CONFIG_FILE))
    if plan.arch_list is not None and plan.arch_list.sha256 != rec.get("archs_sha256"):
        raise WsnasError(f"{path / LIST_FILE}: not the list this run was started with (its checksum differs)")
    return plan
