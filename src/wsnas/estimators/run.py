"""One `wsnas estimate` run: every estimator of a set of architectures, scored against the ground truth.

Run dir (the `engine.rundir` conventions: one writer under `.wsnas.lock`, every file atomic):

estimate.yaml   the run config it was given (space, data, bench, eval pool, seed); not
                config.yaml, so `wsnas report` never takes it for a super-net run
estimate.json   the estimate options (estimators, archs, minibatch, network size)
identity.json   config + options hash, GT fingerprint, numerics, world size 1
scores.csv      one row per architecture, appended as each is scored (one write() of a whole
                line; a torn last line of a killed writer is cut on resume)
summary.json    per estimator: KdT, s-KdT, Spearman, final searched model, P>R, NaN counts, cost

A resumed run scores only the architectures not in scores.csv. Each architecture's network is
initialised from a seed of (seed, arch string), and every architecture sees the same seeded
minibatch, so a score does not depend on order, resume or which process computed it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wsnas.config import RunConfig, dump_config, identity_view, load_config
from wsnas.core.atomic import write_text_atomic
from wsnas.core.dirlock import DirLock
from wsnas.core.errors import BenchmarkError, ConfigError, WsnasError
from wsnas.core.interrupt import Interrupted
from wsnas.core.metrics import summarize
from wsnas.data.datasets import load_splits
from wsnas.engine.identity import gt_fingerprint, make_identity, numerics, record_identity
from wsnas.engine.rundir import RunDir, check_run_name
from wsnas.engine.runtime import setup_runtime
from wsnas.estimators.registry import VOTE_OF, Estimator, bench_schedule, check_estimators
from wsnas.estimators.zero_cost import Score, zero_cost_scores
from wsnas.groundtruth import open_benchmark
from wsnas.spaces import get_space
from wsnas.spaces.check import bench_metric, check_config, pool_size_used
from wsnas.sweep.executors import Executor, LocalExecutor, make_executor
from wsnas.sweep.placement import GpuRequest, check_run_device
from wsnas.trainers.evaluate import Pool, make_pool

CONFIG_FILE = "estimate.yaml"
OPTIONS_FILE = "estimate.json"
SCORES_FILE = "scores.csv"
DEFAULT_BATCH = 64
"""The minibatch of the zero-cost proxies: zero-cost-nas's NAS-Bench-201 runs use one batch of 64."""
NAN_RULE = (
    "metrics of an estimator use the architectures it scored (finite values); NaN scores are left out "
    "and counted in n_nan (reasons in nan_reasons); ties enter KdT/s-KdT/Spearman as tau-b / average "
    "ranks, and top-k (final_acc, P>R) as the expectation over tie-consistent choices"
)


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

    def check(self) -> None:
        if self.archs not in ("pool", "all") and not (self.archs.isdigit() and int(self.archs) >= 2):
            raise ConfigError(f"--archs: got {self.archs!r}; use pool, all or a number N >= 2")
        if self.batch < 2:
            raise ConfigError(f"--batch: got {self.batch}; the proxies need at least 2 images")
        for key in ("channels", "cells"):
            v = getattr(self, key)
            if v is not None and v < 1:
                raise ConfigError(f"--{key}: got {v}; must be >= 1")


@dataclass
class Plan:
    """Everything a run needs, resolved before a file is written (errors first)."""

    cfg: RunConfig
    opts: EstimateOptions
    space: Any
    estimators: list[Estimator]
    columns: list[str]
    """Estimator columns of scores.csv (vote is derived in the summary, not a column)."""
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


def plan_estimate(cfg: RunConfig, opts: EstimateOptions, source: str = "config") -> Plan:
    """Check the config and options, open the ground truth (and bench:E tables), draw the archs."""
    opts.check()
    check_run_name(cfg.name)
    space = get_space(check_config(cfg, source).space.name)
    ests = check_estimators(opts.estimators, space)
    names = [e.name for e in ests]
    columns = [n for n in names if n != "vote"]
    if "vote" in names:
        columns += [n for n in VOTE_OF if n not in columns]
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
        size = pool_size_used(int(opts.archs), bench.size, where)
    pool = make_pool(space, bench, size, cfg.eval.pool_seed)
    device = setup_runtime(cfg.runtime)
    plan = Plan(cfg, opts, space, ests, columns, bench, pool, reduced, device)
    plan.channels = opts.channels or int(space.proxy.get("channels", 16))
    plan.cells = opts.cells or int(space.proxy.get("cells", 5))
    plan.identity = estimate_identity(plan)
    return plan


def _options_record(plan: Plan) -> dict[str, Any]:
    return {
        **asdict(plan.opts),
        "columns": plan.columns,
        "channels": plan.channels,
        "cells": plan.cells,
    }


def estimate_identity(plan: Plan) -> dict[str, Any]:
    """Config hash over what changes a score (space, data, GT choice, pool, seed, options) + GT checksum
    + numerics; protocol, sampler and mapping of the config do not enter (no super-net is trained)."""
    d = identity_view(plan.cfg.to_dict())
    keep = {k: d.get(k) for k in ("space", "data", "bench", "seed")}
    keep["eval"] = {
        k: d.get("eval", {}).get(k) for k in ("pool_size", "pool_seed", "sparse_threshold", "top_k")
    }
    keep["estimate"] = _options_record(plan)
    digest = hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:12]
    return make_identity(digest, gt_fingerprint(plan.bench), numerics(plan.device, False), 1)


def default_run_dir(plan: Plan) -> Path:
    cfg = plan.cfg
    name = cfg.name or f"estimate-{cfg.space.name}-s{cfg.seed}-{plan.identity['config']}"
    return Path(cfg.out_dir) / name


def arch_seed(seed: int, arch: str) -> int:
    """The init seed of ARCH's network: the same whatever the order or process."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{arch}".encode()).digest()[:4], "little") & 0x7FFFFFFF


def minibatch(
    cfg: RunConfig, batch: int, device: torch.device
) -> tuple[tuple[torch.Tensor, torch.Tensor], int]:
    """The one seeded training minibatch every architecture is scored on (augmented as in training)."""
    splits = load_splits(cfg.data, seed=cfg.seed)
    if len(splits.train.y) < batch:
        raise ConfigError(f"--batch {batch}: the training split holds only {len(splits.train.y)} images")
    loader = splits.loader(
        splits.train, batch, train=True, device=device, seed=cfg.seed, augment=cfg.data.augment
    )
    loader.set_epoch(0)
    x, y = next(iter(loader))
    return (x.float().contiguous(), y), splits.info.num_classes


# ---- one architecture ---------------------------------------------------------------------------


def score_arch(plan: Plan, i: int) -> dict[str, Any]:
    """The row of pool architecture I: every column's value, the reasons of its NaNs, seconds."""
    arch, arch_str = plan.pool.archs[i], plan.pool.arch_strs[i]
    values: dict[str, Score] = {}
    secs: dict[str, float] = {}
    zc = [c for c in plan.columns if c in _ZC]
    if zc:
        t0 = time.perf_counter()
        values.update(_zero_cost(plan, arch, arch_str, zc))
        secs["zero_cost"] = time.perf_counter() - t0
    facts = [c for c in plan.columns if c in ("params", "flops")]
    if facts:
        t0 = time.perf_counter()
        f = plan.space.arch_facts_on(arch, plan.cfg.data.name) or plan.space.arch_facts(arch)
        for c in facts:
            key = f"{c}_m"
            values[c] = Score.checked(f[key], c) if key in f else Score(math.nan, f"{c}: not in arch_facts")
        secs["facts"] = time.perf_counter() - t0
    for c, table in plan.reduced.items():
        t0 = time.perf_counter()
        try:
            values[c] = Score.checked(table.acc_of(arch_str), c)
        except BenchmarkError:
            values[c] = Score(math.nan, f"{c}: the architecture is not in the {table.schedule}-epoch table")
        secs[c] = time.perf_counter() - t0
    return {
        "values": {c: values[c] for c in plan.columns},
        "seconds": secs,
    }


def _zero_cost(plan: Plan, arch: Any, arch_str: str, names: list[str]) -> dict[str, Score]:
    if plan.batch is None:
        plan.batch, plan.num_classes = minibatch(plan.cfg, plan.opts.batch, plan.device)
    x, y = plan.batch
    torch.manual_seed(arch_seed(plan.cfg.seed, arch_str))
    try:
        net = plan.space.standalone(arch, plan.channels, plan.cells, plan.num_classes).to(plan.device)
        return zero_cost_scores(net, x, y, names)
    except (RuntimeError, ValueError, ArithmeticError) as e:  # a network the proxies cannot run
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return {n: Score(math.nan, f"{n}: {type(e).__name__}: {first}") for n in names}


_ZC = frozenset({"grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot"})


# ---- scores.csv ---------------------------------------------------------------------------------


def csv_header(columns: list[str]) -> list[str]:
    return [
        "pos", "arch", "canonical", "index", *columns, "gt_acc", "gt_rank",
        "seconds", "seconds_zero_cost", "reason",
    ]  # fmt: skip


def _fmt(v: float) -> str:
    return "nan" if math.isnan(v) else repr(float(v))


def format_row(plan: Plan, i: int, result: dict[str, Any]) -> str:
    p = plan.pool
    vals: dict[str, Score] = result["values"]
    reasons = "; ".join(s.reason for s in vals.values() if s.reason)
    secs = sum(result["seconds"].values())
    row = [
        i,
        p.arch_strs[i],
        p.canonical[i],
        int(p.index[i]),
        *(_fmt(vals[c].value) for c in plan.columns),
        repr(float(p.gt[i])),
        int(p.gt_rank[i]),
        f"{secs:.6f}",
        f"{result['seconds'].get('zero_cost', 0.0):.6f}",
        reasons,
    ]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(row)
    return buf.getvalue()


def read_scores(path: Path, columns: list[str], repair: bool = False) -> list[dict[str, str]]:
    """The complete rows of scores.csv; with REPAIR, a torn last line (a writer killed mid-line, or a
    power cut) is cut off the file. A wrong header is an error (another run's file)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    keep = data if data.endswith(b"\n") else data[: data.rfind(b"\n") + 1]
    if repair and len(keep) != len(data):
        with open(path, "r+b") as f:
            f.truncate(len(keep))
    rows = list(csv.reader(io.StringIO(keep.decode("utf-8"))))
    if not rows:
        return []
    want = csv_header(columns)
    if rows[0] != want:
        raise WsnasError(f"{path}: header {rows[0]} is not this run's {want}")
    return [dict(zip(want, r, strict=True)) for r in rows[1:] if len(r) == len(want)]


def append_line(path: Path, line: str) -> None:
    """One whole line with one write() on an O_APPEND file: a kill leaves it entirely or not at all."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        data = line.encode("utf-8")
        n = os.write(fd, data)
        if n != len(data):
            raise OSError(f"short write to {path}")
    finally:
        os.close(fd)


# ---- the run ------------------------------------------------------------------------------------


ProgressFn = Callable[[int, int, float], None]
"""progress(done, total, seconds of this process's scoring so far)."""


def run_estimate(
    plan: Plan,
    run_dir: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
    workers: int = 1,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Score the plan's archs into a run dir (new, or resumed where scores.csv stops); the summary.

    WORKERS > 1 scores shards of SHARD archs in that many spawned processes (the sweep's local
    executor), or EXECUTOR (e.g. a `sweep.executors.RayExecutor`; the run dir must be on storage
    its workers see); this process alone writes scores.csv, in completion order, and sorts it by pool
    position at the end, so the file does not depend on workers, order or resumes."""
    run = RunDir(run_dir or default_run_dir(plan))
    plan.run = run
    existing = (run.path / OPTIONS_FILE).exists()
    hint = f"wsnas estimate --resume {run.path}"
    with _locked(run, existing):
        if existing:
            _check_same(plan, run)
        else:
            (run.path / SCORES_FILE).unlink(missing_ok=True)
        dump_config(plan.cfg, run.path / CONFIG_FILE)
        run.write_json(run.path / OPTIONS_FILE, _options_record(plan))
        record_identity(run, plan.identity)
        scores = run.path / SCORES_FILE
        done = {r["arch"] for r in read_scores(scores, plan.columns, repair=True)}
        if not scores.exists() or scores.stat().st_size == 0:
            append_line(scores, ",".join(csv_header(plan.columns)) + "\n")
        todo = [i for i, s in enumerate(plan.pool.arch_strs) if s not in done]
        total, t_start = len(plan.pool), time.perf_counter()
        parallel = workers > 1 or executor is not None
        rows = _rows_parallel(run, todo, workers, executor) if parallel else _rows_local(plan, todo)
        try:
            for k, line in enumerate(rows):
                append_line(scores, line)
                if progress is not None:
                    progress(total - len(todo) + k + 1, total, time.perf_counter() - t_start)
        except Interrupted as e:
            done_rows = read_scores(scores, plan.columns)
            n = len(done_rows)
            if n:  # what is scored so far, marked partial (the report shows it as such)
                run.write_json(run.summary, build_summary(plan, done_rows))
            e.where = f"after {n}/{total} architectures (scores.csv holds them; summary.json: partial)"
            e.resume = hint
            raise
        final = read_scores(scores, plan.columns)
        _sort_scores(scores, plan.columns, final)
        summary = build_summary(plan, final)
        run.write_json(run.summary, summary)
    return summary


def estimate_executor(
    plan: Plan,
    name: str = "local",
    workers: int | None = None,
    address: str | None = None,
    gpus: GpuRequest | None = None,
) -> Executor | None:
    """Where shards run: None (this process) for one local worker and no GPU placement, else the
    sweep's executor NAME (local processes, Ray), GPUs shared as for sweeps (`sweep.placement`):
    `GpuRequest(gpus=N, runs_per_gpu=K)` locally, `gpus_per_run=F` on Ray. Each worker then sees one
    GPU as cuda:0, so the run's device must follow it (runtime.device auto or cuda)."""
    req = gpus or GpuRequest()
    if workers is not None and workers < 1:
        raise WsnasError(f"--workers must be >= 1, got {workers}")
    if name == "local" and not req.any and (workers or 1) == 1:
        return None
    if name not in ("local", "ray"):
        raise WsnasError(f"estimate runs on the local or ray executor, not {name!r}")
    if req.any:
        check_run_device(plan.cfg.runtime.device, "estimate")
    return make_executor(name, workers=workers, threads=1, address=address, gpus=req)


SHARD = 8
"""Archs per task of a parallel run: small, so a stop loses little, large enough to amortise a task."""


def _rows_local(plan: Plan, todo: list[int]) -> Iterator[str]:
    for i in todo:
        yield format_row(plan, i, score_arch(plan, i))


def _rows_parallel(
    run: RunDir, todo: list[int], workers: int, executor: Executor | None = None
) -> Iterator[str]:
    tasks = [
        {"name": f"estimate-{k}", "run_dir": str(run.path), "kind": "estimate", "threads": 1,
         "positions": todo[k : k + SHARD]}
        for k in range(0, len(todo), SHARD)
    ]  # fmt: skip
    with executor or LocalExecutor(workers=workers, threads=1) as ex:
        for result in ex.run(tasks):
            if result.get("status") != "finished":
                raise WsnasError(
                    f"{result['name']} of {run.path}: {result.get('status')}: {result.get('error')}"
                )
            yield from result["rows"]


_SHARD_PLANS: dict[str, Plan] = {}
"""A worker's plan per run dir (data and benchmark read once per process)."""


def score_shard(run_dir: str, positions: list[int]) -> list[str]:
    """scores.csv lines of the pool POSITIONS of the estimate run in RUN_DIR (a parallel worker's task)."""
    if run_dir not in _SHARD_PLANS:
        plan = load_plan(run_dir, ["runtime.threads=1"])
        _check_same(plan, RunDir(run_dir))  # this worker's device gives the run's numerics
        _SHARD_PLANS[run_dir] = plan
    plan = _SHARD_PLANS[run_dir]
    return [format_row(plan, i, score_arch(plan, i)) for i in positions]


def _sort_scores(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    """Rewrite scores.csv in pool order (atomically; nothing to do when it already is)."""
    if [int(r["pos"]) for r in rows] == sorted(int(r["pos"]) for r in rows):
        return
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=csv_header(columns), lineterminator="\n")
    w.writeheader()
    w.writerows(sorted(rows, key=lambda r: int(r["pos"])))
    write_text_atomic(path, buf.getvalue())


@contextmanager
def _locked(run: RunDir, existing: bool) -> Iterator[None]:
    """The run dir's lock for the block (a second writer is refused): a folder wsnas did not make, or
    one holding another kind of run, is left alone. Unlike `RunDir.writing`, a stop before the end
    keeps the lock file and what was written: scores.csv is the point of a resume."""
    if not existing:  # an estimate run dir (estimate.json) is ours even without its lock file
        run.check_ours()
    if not existing and run.path.is_dir() and any(p.name in _OTHER_RUN for p in run.path.iterdir()):
        raise WsnasError(f"{run.path} holds a super-net or stand-alone run; choose another name/out_dir")
    try:
        run.path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WsnasError(f"cannot create run dir {run.path}: {e.strerror or e}") from None
    lock = DirLock(run.path, "run dir")
    lock.acquire()
    try:
        run.remove_temp_files()
        yield
    finally:
        lock.release()


_OTHER_RUN = frozenset({"config.yaml", "checkpoint.pt", "log.jsonl"})


def _check_same(plan: Plan, run: RunDir) -> None:
    """The run dir's identity is this plan's: the same settings, ground truth and numerics (a CPU run
    resumed, or a shard scored, on a GPU would mix fp32 and TF32 scores in one scores.csv)."""
    try:
        stored = json.loads((run.path / "identity.json").read_text())
    except (OSError, ValueError):
        return
    if stored.get("config") != plan.identity["config"]:
        raise WsnasError(
            f"{run.path} holds an estimate run with other settings (config {stored.get('config')}, "
            f"these: {plan.identity['config']}); resume it with its own settings or choose another name"
        )
    for key, what in (("gt", "ground truth"), ("numerics", "numerics (device)")):
        if key in stored and stored[key] != plan.identity[key]:
            raise WsnasError(
                f"{run.path} was scored with other {what}: {stored[key]} there, {plan.identity[key]} here "
                f"(runtime.device={plan.cfg.runtime.device!r} gives {plan.device}); resume it where it "
                "started, or choose another name"
            )


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
    )
    return plan_estimate(cfg, opts, str(path / CONFIG_FILE))


def current_summary(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The summary of the rows an estimate run dir holds now (status 'partial' until all are scored);
    reads only, so it works while a run writes."""
    plan = load_plan(run_dir)
    plan.run = RunDir(run_dir)
    return build_summary(plan, read_scores(Path(run_dir) / SCORES_FILE, plan.columns))


# ---- summary ------------------------------------------------------------------------------------


def vote_scores(columns: dict[str, np.ndarray]) -> tuple[np.ndarray, int]:
    """Copeland score of the majority vote of VOTE_OF: for each arch, the archs it beats on at least 2
    of the 3 proxies. Archs with a NaN among the three get NaN; (scores, archs left out)."""
    s = np.stack([columns[n] for n in VOTE_OF], axis=1)
    ok = np.isfinite(s).all(axis=1)
    out = np.full(len(s), np.nan)
    v = s[ok]
    wins = np.zeros(len(v))
    for start in range(0, len(v), 512):  # blocks of rows: 15,625 archs stay within memory
        blk = v[start : start + 512]
        beats = (blk[:, None, :] > v[None, :, :]).sum(axis=2) >= 2
        wins[start : start + 512] = beats.sum(axis=1)
    out[ok] = wins
    return out, int((~ok).sum())


def metrics_of(scores: np.ndarray, plan: Plan, gt: np.ndarray, ranks: np.ndarray) -> dict[str, Any]:
    ok = np.isfinite(scores)
    n = int(ok.sum())
    cfg = plan.cfg.eval
    out: dict[str, Any] = {"n_scored": n, "n_nan": int((~ok).sum())}
    if n < 2:
        return {
            **out,
            "kdt": math.nan,
            "skdt": math.nan,
            "spearman": math.nan,
            "final_acc": math.nan,
            "pbr": math.nan,
            "pbr_rank": math.nan,
            "distinct_scores": int(np.unique(scores[ok]).size),
        }
    m = summarize(
        scores[ok], gt[ok], ranks[ok], plan.pool.total, threshold=cfg.sparse_threshold, k=min(cfg.top_k, n)
    )
    keep = ("kdt", "skdt", "spearman", "final_acc", "pbr", "pbr_rank")
    return {**out, **{k: m[k] for k in keep}, "distinct_scores": int(np.unique(scores[ok]).size)}


def build_summary(plan: Plan, rows: list[dict[str, str]]) -> dict[str, Any]:
    """summary.json: metrics per estimator over the rows, with counts, cost and the identity."""
    gt = np.array([float(r["gt_acc"]) for r in rows])
    ranks = np.array([int(r["gt_rank"]) for r in rows])
    cols = {c: np.array([float(r[c]) for r in rows]) for c in plan.columns}
    secs = np.array([float(r["seconds"]) for r in rows])
    secs_zc = np.array([float(r["seconds_zero_cost"]) for r in rows])
    reasons: dict[str, Counter] = {c: Counter() for c in plan.columns}
    for r in rows:
        for part in filter(None, r["reason"].split("; ")):
            name = part.split(":", 1)[0]
            if name in reasons:
                reasons[name][part.split(": ", 1)[-1]] += 1
    per: dict[str, Any] = {}
    for est in plan.estimators:
        name = est.name
        if name == "vote":
            scores, left = vote_scores(cols)
            why = {"a proxy of the vote is NaN": left} if left else {}
        else:
            scores, why = cols[name], dict(reasons[name])
        rec = metrics_of(scores, plan, gt, ranks)
        rec["nan_reasons"] = why
        rec["kind"] = est.kind
        rec["seconds_per_arch"], rec["cost_note"] = _cost(est, secs, secs_zc)
        rec["seconds_total"] = rec["seconds_per_arch"] * len(rows)
        per[name] = rec
    ev = plan.cfg.eval
    pool_sha = hashlib.sha256("\n".join(sorted(r["arch"] for r in rows)).encode()).hexdigest()[:16]
    return {
        "status": "finished" if len(rows) == len(plan.pool) else "partial",
        "kind": "estimate",
        "run_dir": str(plan.run.path) if plan.run else None,
        "space": plan.space.name,
        "archs": {"mode": plan.opts.archs, "n": len(rows), "pool_seed": ev.pool_seed, "sha256": pool_sha},
        "gt": gt_fingerprint(plan.bench),
        "data": {
            "name": plan.cfg.data.name,
            "batch": plan.opts.batch,
            "seed": plan.cfg.seed,
            "augment": plan.cfg.data.augment,
        },
        "network": {"channels": plan.channels, "cells": plan.cells},
        "device": str(plan.device),
        "identity": plan.identity,
        "seconds": {"total": float(secs.sum()), "per_arch": float(secs.mean()) if len(secs) else math.nan},
        "estimators": per,
        "nan_rule": NAN_RULE,
        "definitions": {
            "kdt": "tau-b(score, gt)",
            "skdt": f"tau-b(score, floor(gt/{ev.sparse_threshold:g}))",
            "spearman": "spearman rho(score, gt), average ranks for ties",
            "final_acc": f"mean gt of the top-{ev.top_k} archs by score (ties: expectation)",
            "pbr": f"(1 - r/r_max)^n, r = best GT rank among the top-{ev.top_k}, n = {ev.top_k}",
            "seconds_per_arch": "wall seconds on `device` per architecture (see cost_note)",
        },
    }


def _cost(est: Estimator, secs: np.ndarray, secs_zc: np.ndarray) -> tuple[float, str]:
    """Mean wall seconds per arch of what computes EST, and what that number covers."""
    if secs.size == 0:
        return math.nan, ""
    if est.kind in ("zero_cost", "vote"):
        return float(
            secs_zc.mean()
        ), "one shared pass computes all the run's zero-cost proxies: its time per arch"
    note = "arch_facts" if est.kind == "baseline" else "a table look-up; the benchmark paid the training"
    return float((secs - secs_zc).mean()), f"{note} (with the run's other non-proxy columns)"
