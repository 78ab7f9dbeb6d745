"""Config checks that need the registries: names of spaces, samplers and data sets, factors, and
whether the ground truth was measured on the data the super-net is scored on.

`config` validates types and ranges only (it sits below the spaces); a run or
stand-alone config is checked here before anything is trained or written, so an
unknown name, a factor the space would ignore or a CIFAR-100 super-net scored against
CIFAR-10 ground truth is an error at load time.

Each command checks a config once: `check_config` marks the config object it passed,
and a later call on that object (a CLI verb's config reaching the trainer) returns at
once, unless the object changed since. A sweep worker marks the config its driver
checked (`mark_checked`).
"""

from __future__ import annotations

import json
import warnings
import weakref
from typing import Any, TypeVar

from wsnas.config import RunConfig, StandaloneConfig
from wsnas.core.errors import BenchmarkError, ConfigError, did_you_mean
from wsnas.data.datasets import DATASETS, halves_hint
from wsnas.data.nb201_splits import HALVES, has_halves
from wsnas.spaces.algorithms import ALGORITHMS, NONE, check_algorithm
from wsnas.spaces.base import SPACES, SearchSpace
from wsnas.spaces.factors import ANY, factor_fields, need_text, show, training_factor_fields
from wsnas.spaces.fewshot import split_edges
from wsnas.spaces.landmarks import read_archs_file
from wsnas.spaces.samplers import SAMPLERS, require_sampler

C = TypeVar("C", RunConfig, StandaloneConfig)


def _known(key: str, value: str, names: list[str], what: str) -> None:
    if value not in names:
        raise ConfigError(
            f"key '{key}': got {value!r}; known {what}: {', '.join(names)}{did_you_mean(value, names)}"
        )


def space_of(cfg: RunConfig | StandaloneConfig) -> SearchSpace:
    """The registered space CFG names (ConfigError with a close match otherwise)."""
    _known("space.name", cfg.space.name, SPACES.names(), "spaces")
    return SPACES.get(cfg.space.name)()


_CHECKED: dict[int, tuple[weakref.ref[Any], str]] = {}
"""id(config) -> (the config, its content when checked): the configs checked in this process."""


def _content(cfg: RunConfig | StandaloneConfig) -> str:
    return json.dumps(cfg.to_dict(), sort_keys=True, default=str)


def is_checked(cfg: RunConfig | StandaloneConfig) -> bool:
    """Whether this config object passed `check_config` (or was marked) and is unchanged since."""
    entry = _CHECKED.get(id(cfg))
    return entry is not None and entry[0]() is cfg and entry[1] == _content(cfg)


def mark_checked(cfg: C) -> C:
    """Record CFG as checked, as it is now: `check_config` then returns it without checking."""
    key = id(cfg)

    def forget(ref: weakref.ref[Any]) -> None:
        if _CHECKED.get(key, (None,))[0] is ref:
            del _CHECKED[key]

    _CHECKED[key] = (weakref.ref(cfg, forget), _content(cfg))
    return cfg


def check_config(cfg: C, source: str = "config") -> C:
    """CFG if every name it gives is registered and every factor acts on its space; else a
    ConfigError prefixed with SOURCE that names each problem. A config already checked as
    it is now (`is_checked`) is returned at once."""
    if is_checked(cfg):
        return cfg
    try:
        space = space_of(cfg)
        _known("data.name", cfg.data.name, list(DATASETS), "data sets")
        if cfg.data.eval_split in HALVES and not has_halves(cfg.data.name):
            raise ConfigError(f"key 'data.eval_split': {halves_hint(cfg.data.name)}")
        if isinstance(cfg, RunConfig):
            _check_run(space, cfg)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    return mark_checked(cfg)


def _check_run(space: SearchSpace, cfg: RunConfig) -> None:
    _known("sampler.name", cfg.sampler.name, SAMPLERS.names(), "samplers")
    require_sampler(space, cfg.sampler.name)
    if cfg.sampler.fairnas_k is not None and cfg.sampler.name != "fairnas":
        raise ConfigError(
            f"key 'sampler.fairnas_k': only FairNAS draws several paths per step, but sampler.name is "
            f"{cfg.sampler.name!r}; remove sampler.fairnas_k or use sampler.name=fairnas"
        )
    _known("algorithm.name", cfg.algorithm.name, [NONE, *ALGORITHMS.names()], "search algorithms")
    check_algorithm(space, cfg)
    space.check_factors(cfg.mapping, cfg.lowfi, {"landmark": cfg.landmark, "fewshot": cfg.fewshot})
    check_heuristics(space, cfg)
    check_metric_data(space, cfg)
    if cfg.eval.pool_size > space.num_archs:
        pool_size_used(cfg.eval.pool_size, space.num_archs, f"the {space.name} space", at_most=True)


def check_heuristics(space: SearchSpace, cfg: RunConfig) -> None:
    """Landmark regularisation and few-shot super-nets: their values and their combinations with the
    other factors (a sweep plan runs this for every run before any is trained)."""
    lm, fs = cfg.landmark, cfg.fewshot
    edges = split_edges(space, fs.split)
    if lm.num_archs == 1:
        raise ConfigError("key 'landmark.num_archs': a ranking term needs at least 2 landmarks (or 0: off)")
    if edges:
        if cfg.sampler.name == "fairnas":
            raise ConfigError(
                "key 'fewshot.split': FairNAS trains every op of every edge in each step, so no step's "
                "paths stay inside one sub-super-net; use sampler.name=random_nas or random_a"
            )
        if lm.num_archs:
            raise ConfigError(
                "keys 'fewshot.split' and 'landmark.num_archs': a landmark pair may belong to two "
                "sub-super-nets, whose losses share no weights to rank; use one of the two"
            )
        if cfg.protocol.epochs < 2:
            raise ConfigError("key 'fewshot.split': needs protocol.epochs >= 2 (a warm-up, then the split)")
    if lm.archs_file is not None and lm.num_archs:
        got = read_archs_file(space, lm.archs_file)
        if len(got) != lm.num_archs:
            raise ConfigError(
                f"key 'landmark.num_archs': {lm.num_archs}, but landmark.archs_file {lm.archs_file} "
                f"lists {len(got)} architectures"
            )


def bench_metric(space: SearchSpace, cfg: RunConfig) -> str | None:
    """The metric a run opens its ground truth with: bench.metric, else the space's default for
    data.name (NB201 on cifar100: cifar100/x-test); None = the space's own default."""
    if cfg.bench.metric is not None:
        return cfg.bench.metric
    return space.loader.metric_by_data.get(cfg.data.name)


def check_metric_data(space: SearchSpace, cfg: RunConfig) -> None:
    """ConfigError if the ground truth was measured on another data set or split than the super-net
    is scored on (unless bench.allow_metric_mismatch, then a warning). Metrics the space cannot
    place are left to the benchmark's own error when it opens."""
    loader = space.loader
    try:
        metric = loader.resolve_metric(cfg.bench.metric, cfg.data.name)
    except BenchmarkError:
        return  # an unknown metric: opening the benchmark says so
    where = loader.measured_on(metric)
    if where is None:
        return
    problem = None
    if cfg.data.name not in where.data:
        default = loader.measured_on(loader.resolve_metric(None))
        own = default.data if default is not None else ()
        other = f"a bench.metric measured on {cfg.data.name}"
        if own and cfg.data.name not in loader.metric_by_data and cfg.data.name not in own:
            other += f" ({space.title}'s ground truth is on {' / '.join(own)})"
        problem = (
            f"the super-net is trained and scored on data.name={cfg.data.name}, but the ground truth "
            f"{metric} was measured on {' / '.join(where.data)}; set data.name={where.data[0]} or {other}"
        )
    elif where.split is not None and cfg.data.eval_split != where.split:
        problem = (
            f"the super-net is scored on data.eval_split={cfg.data.eval_split}, but the ground truth "
            f"{metric} was measured on the {where.split} images; set data.eval_split={where.split}"
        )
    if problem is None:
        return
    if not cfg.bench.allow_metric_mismatch:
        raise ConfigError(
            f"key 'bench.metric': {problem} (or bench.allow_metric_mismatch=true to score against it anyway)"
        )
    warnings.warn(f"bench.allow_metric_mismatch=true: {problem}", stacklevel=2)


def pool_size_used(requested: int, available: int, what: str, at_most: bool = False) -> int:
    """The evaluation pool's size: REQUESTED, or AVAILABLE (the architectures of WHAT, e.g. the
    benchmark's rows: the trainer calls it once the table is open) with a warning saying so."""
    if requested <= available:
        return requested
    warnings.warn(
        f"eval.pool_size={requested} is larger than {what} ({available} architectures); "
        f"the pool holds {'at most ' if at_most else ''}{available}",
        stacklevel=2,
    )
    return available


def support_table() -> str:
    """Markdown: each factor field x each registered space -> the values that act there.

    Rendered from the declarations the config check uses (docs/factors.md embeds it;
    a test keeps the two equal)."""
    spaces = [SPACES.get(n)() for n in SPACES.names()]
    head = "| Factor field | " + " | ".join(f"`{s.name}`" for s in spaces) + " |"
    rows = [head, "|---|" + "---|" * len(spaces)]
    for field in factor_fields() + training_factor_fields():
        cells = []
        for s in spaces:
            decl = {**s.factors, **s.training_factors}.get(field)
            if decl is None:
                cells.append("-")
                continue
            vals = "any" if decl.values is ANY else ", ".join(show(v) for v in decl.values)
            needs = "".join(f" (non-default needs `{need_text(k, v)}`)" for k, v in decl.requires)
            cells.append(vals + needs)
        rows.append(f"| `{field}` | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
