"""The Python API (`import wsnas`): the functions a notebook or a script calls, over the same code
the `wsnas` command runs.

Each function wraps the layer that does the work (config, trainers, sweep, report, search,
spaces, ground truth) and adds only what a Python caller needs: overrides as a dict, a
`RunResult` instead of a summary dict, progress on or off per call. `wsnas/__init__.py`
re-exports these names lazily, so `import wsnas` does not import torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from wsnas.config import RunConfig, StandaloneConfig
from wsnas.config import load_config as _load_config
from wsnas.core.errors import BenchmarkError
from wsnas.engine.rundir import RunDir
from wsnas.engine.runs import RunResult, open_run, read_summary
from wsnas.estimators.plan import DEFAULT_BATCH, EstimateOptions, archs_option, load_plan, plan_estimate
from wsnas.estimators.predictor import PredictorOptions, run_predictor
from wsnas.estimators.run import run_estimate
from wsnas.estimators.shards import estimate_executor
from wsnas.execution.placement import GpuRequest
from wsnas.groundtruth import Benchmark
from wsnas.groundtruth import open_benchmark as _open_benchmark
from wsnas.spaces import SPACES, SearchSpace, get_space
from wsnas.spaces.check import bench_metric, check_config
from wsnas.spaces.facts import arch_record
from wsnas.trainers.standalone_trainer import train_standalone as _train_standalone
from wsnas.trainers.supernet_trainer import train as _train

Overrides = Sequence[str] | Mapping[str, Any] | None
"""`["protocol.epochs=5", ...]` as on the command line, or `{"protocol.epochs": 5}` (nested dicts too)."""

__all__ = [
    "Overrides",
    "arch_info",
    "list_spaces",
    "load_config",
    "open_benchmark",
    "train",
    "train_standalone",
]


def _flat(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out += _flat(v, key + ".")
        else:
            out.append((key, v))
    return out


def as_overrides(overrides: Overrides) -> list[str]:
    """OVERRIDES as `key.sub=value` strings; a dict's values are written as YAML (via JSON), so
    `{"eval.epochs": [10, 20], "name": "a"}` means what `eval.epochs=[10,20] name=a` means."""
    if overrides is None:
        return []
    if isinstance(overrides, str):
        raise TypeError(
            f"overrides: give a list of key=value strings or a dict, not the string {overrides!r}"
        )
    if isinstance(overrides, Mapping):
        return [f"{k}={json.dumps(v)}" for k, v in _flat(overrides)]
    return [str(o) for o in overrides]


def load_config(
    config: str | os.PathLike | None = None, overrides: Overrides = None, *, standalone: bool = False
) -> RunConfig | StandaloneConfig:
    """A checked run config: CONFIG (a YAML path, or a shipped config's name such as "demo" or
    "nb201-quick"; None: the defaults) with OVERRIDES applied.

    The result is what `wsnas train CONFIG key=value ...` trains (`standalone=True`: what
    `wsnas standalone train --config CONFIG` trains). Registry names (space, sampler, data set)
    and the factors the space honours are checked here, so a bad config fails before training.
    """
    cfg = _load_config(config, as_overrides(overrides), model=StandaloneConfig if standalone else RunConfig)
    return check_config(cfg, str(config) if config is not None else "overrides")


def _with_progress(cfg: Any, progress: bool | None) -> Any:
    """CFG with `runtime.progress` set (not part of the config hash: the run is the same)."""
    if progress is None:
        return cfg
    return cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"progress": bool(progress)})})


def _finished(run_dir: str | os.PathLike) -> bool:
    run = RunDir(run_dir)
    summary = read_summary(run.summary) if run.path.is_dir() and run.is_run_dir() else None
    return summary is not None and summary.get("status") == "finished"


def train(
    cfg: RunConfig | str | os.PathLike | None = None,
    *,
    resume: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> RunResult:
    """Train a super-net and score it against the ground truth; the run dir read back as a RunResult.

    CFG is a config (`load_config`) or what `load_config` takes. `resume=RUN_DIR` continues a cut
    run from its last checkpoint (CFG None: the run's own config); a finished run is returned as
    it is. `progress` overrides `runtime.progress` (start line and bars on stderr; in Jupyter,
    notebook bars). One process; under torchrun use `wsnas train`.
    """
    if resume is not None:
        if _finished(resume):
            return open_run(resume)
        run_cfg = RunDir(resume).resume_config([]) if cfg is None else _config(cfg)
        summary = _train(_with_progress(run_cfg, progress), resume_dir=str(resume))
    else:
        if cfg is None:
            raise TypeError("train: give a config (wsnas.load_config(...)) or resume=RUN_DIR")
        summary = _train(_with_progress(_config(cfg), progress))
    return open_run(summary["run_dir"])


def train_standalone(
    cfg: StandaloneConfig | str | os.PathLike | None = None,
    *,
    resume: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> RunResult:
    """Train one architecture's stand-alone network (P_proxy: the ground-truth side); a RunResult.

    CFG is a stand-alone config (`load_config(..., standalone=True)`, with `arch` set) or what
    `load_config` takes; `resume` and `progress` as in `train`.
    """
    if resume is not None:
        if _finished(resume):
            return open_run(resume)
        run_cfg = (
            RunDir(resume).resume_config([], model=StandaloneConfig)
            if cfg is None
            else _config(cfg, standalone=True)
        )
        summary = _train_standalone(_with_progress(run_cfg, progress), resume_dir=str(resume))
    else:
        if cfg is None:
            raise TypeError("train_standalone: give a config (wsnas.load_config(..., standalone=True))")
        summary = _train_standalone(_with_progress(_config(cfg, standalone=True), progress))
    return open_run(summary["run_dir"])


def estimate(
    cfg: RunConfig | str | os.PathLike,
    estimators: Sequence[str],
    *,
    archs: str | int | os.PathLike | Sequence[str] = "pool",
    drop_duplicates: bool = False,
    batch: int | None = None,
    resume: str | os.PathLike | None = None,
    workers: int | None = None,
    executor: str = "local",
    gpus: int | None = None,
    runs_per_gpu: int | None = None,
    network: str = "benchmark",
) -> dict[str, Any]:
    """Score architectures without a super-net (`wsnas estimate`): zero-cost proxies, params, FLOPs,
    the benchmark's short schedules; the run's summary (per estimator KdT, s-KdT, Spearman, P>R,
    final searched model, P@topK / BR@K / WR@K at K = 1, 5, 10 % (`ptop_5pct`, ...) and NDCG,
    seconds per architecture), its run dir under `summary["run_dir"]`.

    CFG is a run config (or what `load_config` takes): the same space, data, GT and pool a super-net
    run of it is scored on. ARCHS: 'pool', 'all', a number, a file of architectures (one per line, or a
    CSV with an `arch` column) or a list of architecture strings, scored in their order (a repeat,
    also an isomorphic one, is refused, or left out with DROP_DUPLICATES). RESUME: a started estimate run dir
    (CFG and the options are then read from it). WORKERS processes score shards in parallel on
    EXECUTOR ('local' or 'ray'); GPUS x RUNS_PER_GPU local workers share GPUs as sweep runs do.
    NETWORK: what the zero-cost estimators score, 'benchmark' or 'zero_cost_authors' (`--network`)."""
    if resume is not None:
        plan = load_plan(resume)
    else:
        opts = EstimateOptions(
            estimators=list(estimators),
            **archs_option(archs),
            drop_duplicates=drop_duplicates,
            batch=DEFAULT_BATCH if batch is None else batch,
            network=network,
        )
        plan = plan_estimate(_config(cfg), opts)
    ex = estimate_executor(plan, executor, workers, gpus=GpuRequest(gpus, runs_per_gpu))
    return run_estimate(plan, resume, executor=ex)


def estimate_predictor(
    run_dir: str | os.PathLike,
    *,
    supernet: str | os.PathLike | None = None,
    features_from: Sequence[str | os.PathLike] = (),
    ns: Sequence[int] = (10, 20, 50, 100, 200),
    repeats: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """A gradient-boosting predictor over a finished estimate run's estimators (`wsnas estimate
    --predictor`): trained on N ground-truth-labelled archs for each N of NS (REPEATS seeded splits
    each), scored on the rest of the pool; SUPERNET: a super-net run on the same pool and ground
    truth whose one-shot accuracy is a feature; FEATURES_FROM: further finished estimate runs of the
    same pool and ground truth whose estimators join the features. Writes and returns predictor.json
    (needs scikit-learn: `pip install 'wsnas[predictor]'`)."""
    opts = PredictorOptions(
        tuple(int(n) for n in ns),
        repeats,
        seed,
        None if supernet is None else str(supernet),
        tuple(str(p) for p in features_from),
    )
    return run_predictor(run_dir, opts)


def _config(cfg: Any, standalone: bool = False) -> Any:
    if isinstance(cfg, RunConfig | StandaloneConfig):
        return cfg
    return load_config(cfg, standalone=standalone)


def list_spaces() -> list[str]:
    """The registered search spaces' names (`get_space(name)` builds one)."""
    return SPACES.names()


def _space(space: str | SearchSpace) -> SearchSpace:
    return get_space(space) if isinstance(space, str) else space


def open_benchmark(
    space: str | SearchSpace,
    *,
    source: str | os.PathLike | None = None,
    metric: str | None = None,
    schedule: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    config: RunConfig | None = None,
) -> Benchmark:
    """SPACE's ground-truth table (a read-only `Benchmark`: `query(arch)`, `acc_of`, `rank`, `best()`).

    Opens the imported cache (`wsnas bench import`), or reads SOURCE (a benchmark file) once and
    caches it; nb201_mini's table ships with wsnas. With CONFIG, the table a run of that config
    is scored against (its metric, source, schedule and cache).
    """
    sp = _space(space)
    if config is not None:
        b = config.bench
        source, schedule, cache_dir = b.source, b.schedule, b.cache_dir
        metric = bench_metric(sp, config)
    return _open_benchmark(
        sp,
        source=None if source is None else str(source),
        metric=metric,
        schedule=schedule,
        cache_dir=None if cache_dir is None else str(cache_dir),
    )


def arch_info(
    space: str | SearchSpace,
    arch: Any,
    *,
    bench: Benchmark | None = None,
    metric: str | None = None,
    data: str | None = None,
) -> dict[str, Any]:
    """One architecture's record, as `wsnas arch info SPACE ARCH --json` prints it: arch,
    canonical id, index, params_m, flops_m and, where the ground truth has it, gt_acc, gt_rank,
    gt_metric.

    ARCH is the space's notation (a string) or an encoding. BENCH: an opened benchmark (default:
    SPACE's imported one with METRIC, if any; none imported: no GT fields). DATA: the data set
    whose network the params/FLOPs describe (NB201: cifar100, imagenet16_120).
    """
    sp = _space(space)
    encoded = sp.parse(arch) if isinstance(arch, str) else arch
    if bench is None:
        try:
            bench = _open_benchmark(sp, metric=metric)
        except BenchmarkError:
            bench = None
    return arch_record(sp, encoded, bench, data)
