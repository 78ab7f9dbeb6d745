"""The sweep spec: a base run config, factors with their values, seeds and a mode.

A spec is YAML validated by pydantic, with errors in the style of `wsnas.config`
(the key, the value, the allowed values). The spec says *what* to run; the
expansion into run configs lives in `wsnas.sweep.plan`, so a spec can be checked
without touching data.

Modes: `grid`, `one-at-a-time` (each value around the base), `sequential` (each
factor in `order` fixed at its winner) and `paper` (the paper's protocol: the
`sequential` factors validated in order, then the `one_at_a_time` factors varied
alone around the tuned result). A one-at-a-time value may be compound, a mapping
of several keys changed together that includes the factor's own key, e.g.
`mapping.wsbn: [false, {mapping.wsbn: true, mapping.ops_on: nodes}]`. A validated factor's
stage may hold other keys at a value while it runs (`stage_fix`), as the paper's Fig. 5 studies
the learning rate at 400 epochs and the authors' epoch study fixes the learning rate.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from wsnas.config import SEED_MAX, read_yaml_mapping
from wsnas.config.load import explain_errors, shown_value
from wsnas.config.shipped import resolve_sweep
from wsnas.core.errors import ConfigError, did_you_mean
from wsnas.execution.placement import GpuRequest
from wsnas.execution.slurm_options import SlurmOptions

Mode = Literal["grid", "one-at-a-time", "sequential", "paper"]
Select = Literal["final_acc", "skdt", "kdt", "spearman", "supernet_acc_mean", "pbr"]
"""Final metrics a sequential sweep may choose by (higher is better for all of them)."""

MAX_RUNS = 100_000
"""Most runs a spec may plan, and most value combinations checked before its first run: each run
trains a super-net (minutes to days), so a spec beyond this is a slip (seeds written out as a range,
a grid one factor too wide); planning it would take hours and the memory of millions of configs.
Planning is linear in the runs (about 0.2 ms a run on one core)."""

RESERVED = ("seed", "name", "out_dir")
"""Keys the sweep sets itself: seeds come from `seeds`, names and places from the sweep dir."""


def is_compound(value: Any) -> bool:
    """A compound factor value: a mapping {config.key: value, ...} changed together."""
    return isinstance(value, dict)


def assignment(key: str, value: Any) -> dict[str, Any]:
    """The config keys one value of factor `key` sets (several for a compound value)."""
    return dict(value) if is_compound(value) else {key: value}


def value_label(key: str, value: Any) -> str:
    """A value as a row shows it: `true`, or `true (+ mapping.ops_on=nodes)` for a compound."""

    def text(v: Any) -> str:
        return v if isinstance(v, str) else json.dumps(v)

    if not is_compound(value):
        return text(value)
    rest = ", ".join(f"{k}={text(v)}" for k, v in value.items() if k != key)
    return f"{text(value[key])} (+ {rest})"


def _check_key(key: str) -> None:
    if key in RESERVED:
        raise ValueError(f"'{key}' is set by the sweep itself (use `seeds` for seeds), not a factor")
    if key.split(".")[0] in ("runtime", "logging"):
        raise ValueError(f"'{key}' does not change results, so it cannot be a factor")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ExecutorSpec(_Section):
    """Where runs execute; every field can be overridden on the command line."""

    name: Literal["local", "ray", "slurm"] = "local"
    workers: int | None = Field(None, ge=1)
    """local: concurrent processes (default 1); ray: most runs in flight (default: no cap); slurm:
    most jobs running at once (the job array's limit; default: no cap)."""
    threads: int | None = Field(None, ge=1)
    """Torch threads per run; default: the machine's cores / workers (local), 1 (ray)."""
    address: str | None = None
    """Ray cluster address (e.g. `auto` or `ray://head:10001`); None starts a local Ray."""
    gpus: int | None = Field(None, ge=1)
    """local: GPUs to fill (the first N visible); each worker process sees one (`execution.placement`)."""
    runs_per_gpu: int | None = Field(None, ge=1)
    """local, with gpus: concurrent runs per GPU (default 1); workers = gpus x runs_per_gpu."""
    gpus_per_run: float | None = Field(None, gt=0.0)
    """ray: GPUs each run asks Ray for (0.25: four runs share a GPU)."""
    slurm: SlurmOptions = Field(default_factory=SlurmOptions)
    """slurm: partition, time limit, CPUs, memory, extra sbatch options (`execution.slurm`); `gpus` is
    then the GPUs per job and `runs_per_gpu` the runs each of them trains at once."""

    def gpu_request(self) -> GpuRequest:
        return GpuRequest(self.gpus, self.runs_per_gpu, self.gpus_per_run)


class SweepSpec(_Section):
    description: str | None = None
    base: str | dict[str, Any] | None = None
    """Run config file (relative to the spec file), an inline config mapping, or None = defaults."""
    overrides: list[str] | dict[str, Any] = Field(default_factory=list)
    """Common to every run: `key.sub=value` strings, or a mapping {key.sub: value}."""
    factors: dict[str, list[Any]] = Field(default_factory=dict)
    """Config key -> the values to try (the paper's Table 1 factors)."""
    seeds: list[int] = Field(default_factory=lambda: [0])
    mode: Mode = "one-at-a-time"
    order: list[str] | None = None
    """sequential: the order in which factors are validated (default: as listed in factors)."""
    select: Select = "final_acc"
    """sequential, paper: the final metric whose mean over seeds picks each factor's value."""
    sequential: list[str] | None = None
    """paper: the factors validated in this order, each fixed at its winner (the hyper-parameters)."""
    one_at_a_time: list[str] | None = None
    """paper: the factors then varied alone around the tuned result (default: all the others)."""
    start: dict[str, Any] = Field(default_factory=dict)
    """sequential, paper: the value each validated factor has before its stage (the starting
    point; the paper's: the benchmark's stand-alone hyper-parameters); default: the base's."""
    stage_fix: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """sequential, paper: config keys held at a value while one validated factor's stage runs, and
    only then, e.g. `{protocol.epochs: {protocol.lr: 0.025}}` (the authors' epoch study ran at lr
    0.025 whatever the lr stage chose); later stages and the tuned result use the chosen values."""
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)

    @field_validator("factors")
    @classmethod
    def _check_factors(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in v.items():
            _check_key(key)
            for value in values:
                if is_compound(value):
                    if key not in value:
                        raise ValueError(
                            f"factor '{key}': a compound value must set '{key}' itself, "
                            f"got {json.dumps(value, sort_keys=True)}"
                        )
                    for sub in value:
                        _check_key(sub)
            if not values:
                raise ValueError(f"factor '{key}' has no values")
            counts = Counter(json.dumps(x, sort_keys=True) for x in values)
            dupes = sorted(s for s, n in counts.items() if n > 1)
            if dupes:
                raise ValueError(f"factor '{key}' lists {_first(dupes)} more than once")
        return v

    @field_validator("seeds")
    @classmethod
    def _check_seeds(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("give at least one seed (the paper: at least 3)")
        bad = [s for s in v if not 0 <= s <= SEED_MAX]
        if bad:
            raise ValueError(f"seeds are 0 to {SEED_MAX} (torch's range), got {_first(bad)}")
        counts = Counter(v)
        dupes = sorted(s for s, n in counts.items() if n > 1)
        if dupes:
            raise ValueError(f"seeds must be distinct; {_first(dupes)} appear more than once")
        return v

    @field_validator("overrides")
    @classmethod
    def _check_overrides(cls, v: list[str] | dict[str, Any]) -> list[str] | dict[str, Any]:
        keys = [s.split("=", 1)[0] for s in v] if isinstance(v, list) else list(v)
        if isinstance(v, list):
            bad = [s for s in v if "=" not in s]
            if bad:
                raise ValueError(f"{bad[0]!r}: expected key.sub=value")
        for key in keys:
            if key.strip() in RESERVED:
                raise ValueError(f"'{key.strip()}' is set by the sweep itself")
        return v

    @model_validator(mode="after")
    def _check_order(self) -> SweepSpec:
        if self.order is None:
            return self
        if self.mode != "sequential":
            raise ValueError(f"'order' is for mode sequential only (mode is {self.mode})")
        names = list(self.factors)
        unknown = [k for k in self.order if k not in self.factors]
        if unknown:
            raise ValueError(
                f"order names '{unknown[0]}', which is not a factor; factors: {', '.join(names)}"
                f"{did_you_mean(unknown[0], names)}"
            )
        missing = [k for k in names if k not in self.order]
        if missing or len(set(self.order)) != len(self.order):
            raise ValueError(f"order must list every factor exactly once; factors: {', '.join(names)}")
        return self

    @model_validator(mode="after")
    def _check_paper(self) -> SweepSpec:
        names = list(self.factors)
        if self.mode != "paper":
            for field_name in ("sequential", "one_at_a_time"):
                if getattr(self, field_name) is not None:
                    raise ValueError(f"'{field_name}' is for mode paper only (mode is {self.mode})")
            if self.mode in ("grid", "sequential"):
                bad = [k for k, vs in self.factors.items() if any(is_compound(v) for v in vs)]
                if bad:
                    raise ValueError(
                        f"factor '{bad[0]}': compound values are for modes one-at-a-time "
                        f"and paper (mode is {self.mode})"
                    )
            return self
        if self.sequential is None:
            raise ValueError("mode paper needs 'sequential': the factors validated in order")
        listed = [*self.sequential, *(self.one_at_a_time or [])]
        unknown = [k for k in listed if k not in self.factors]
        if unknown:
            raise ValueError(
                f"'{unknown[0]}' is not a factor; factors: {', '.join(names)}"
                f"{did_you_mean(unknown[0], names)}"
            )
        if len(set(listed)) != len(listed):
            raise ValueError("a factor is listed twice in 'sequential' / 'one_at_a_time'")
        oat = self.one_at_a_time_factors()
        missing = [k for k in names if k not in self.sequential and k not in oat]
        if missing:
            raise ValueError(f"factor '{missing[0]}' is in neither 'sequential' nor 'one_at_a_time'")
        for k in self.sequential:
            if any(is_compound(v) for v in self.factors[k]):
                raise ValueError(f"factor '{k}': compound values are for one_at_a_time factors")
        for k in oat:
            for v in self.factors[k]:
                clash = [x for x in assignment(k, v) if x in self.sequential]
                if clash:
                    raise ValueError(
                        f"factor '{k}': value {json.dumps(v, sort_keys=True)} sets "
                        f"'{clash[0]}', a sequential factor, which would undo its tuned value"
                    )
        return self

    @model_validator(mode="after")
    def _check_start(self) -> SweepSpec:
        if not self.start:
            return self
        if self.mode not in ("sequential", "paper"):
            raise ValueError(f"'start' is for modes sequential and paper (mode is {self.mode})")
        order = self.factor_order()
        bad = [k for k in self.start if k not in order]
        if bad:
            raise ValueError(
                f"start sets '{bad[0]}', which is not a validated factor; validated: "
                f"{', '.join(order)}{did_you_mean(bad[0], order)}"
            )
        return self

    @model_validator(mode="after")
    def _check_stage_fix(self) -> SweepSpec:
        if not self.stage_fix:
            return self
        if self.mode not in ("sequential", "paper"):
            raise ValueError(f"'stage_fix' is for modes sequential and paper (mode is {self.mode})")
        order = self.factor_order()
        for factor, held in self.stage_fix.items():
            if factor not in order:
                raise ValueError(
                    f"stage_fix names '{factor}', which is not a validated factor; validated: "
                    f"{', '.join(order)}{did_you_mean(factor, order)}"
                )
            if not held:
                raise ValueError(f"stage_fix '{factor}': give the keys to hold while its stage runs")
            for key in held:
                _check_key(key)
                if key == factor:
                    raise ValueError(f"stage_fix '{factor}': a stage cannot hold its own factor")
        return self

    @model_validator(mode="after")
    def _check_size(self) -> SweepSpec:
        runs, settings = self.run_count(), self.setting_count()
        if runs > MAX_RUNS:
            raise ValueError(
                f"the spec plans {runs:,} runs ({_count(settings, 'factor setting')} x "
                f"{_count(len(self.seeds), 'seed')}), "
                f"more than the {MAX_RUNS:,} a sweep takes (wsnas.sweep.spec.MAX_RUNS): each run trains a "
                "super-net; give fewer seeds or values, or split the study into several sweeps"
            )
        checks = self.check_count()
        if checks > MAX_RUNS:
            raise ValueError(
                f"the spec's validated factors make {checks:,} value combinations to check before the first "
                f"run (every value of each with every value of the others), more than the {MAX_RUNS:,} a "
                "sweep checks (wsnas.sweep.spec.MAX_RUNS); give fewer values or split the study"
            )
        return self

    def setting_count(self) -> int:
        """The factor settings the mode trains (before settings that are the same experiment merge):
        grid: the product of the value counts; one-at-a-time: the base and each value; sequential:
        each stage's values; paper: those, the starting point, the tuned baseline and each value
        around it."""
        n = {k: len(v) for k, v in self.factors.items()}
        if self.mode == "grid":
            return math.prod(n.values())
        if self.mode == "one-at-a-time":
            return 1 + sum(n.values())
        staged = sum(n[k] for k in self.factor_order())
        if self.mode == "sequential":
            return staged
        return staged + 2 + sum(n[k] for k in self.one_at_a_time_factors())

    def run_count(self) -> int:
        """An upper bound on the runs the spec plans: its settings x its seeds (`MAX_RUNS` bounds it)."""
        return self.setting_count() * len(self.seeds)

    def check_count(self) -> int:
        """The configs checked before the first run (`sweep.plan.Planner._check_factors`): each value;
        sequential, paper: each pair of values of two validated factors, each stage's held keys with its
        values; paper: each value around the tuned result with each value of each validated factor."""
        n = {k: len(v) for k, v in self.factors.items()}
        checks = sum(n.values())
        if self.mode in ("sequential", "paper"):
            order = [n[k] for k in self.factor_order()]
            checks += (sum(order) ** 2 - sum(x * x for x in order)) // 2
            checks += sum(n[k] for k in self.stage_fix)
            checks += sum(n[k] for k in self.one_at_a_time_factors()) * sum(order)
        return checks

    def factor_order(self) -> list[str]:
        """Factors in validation order (sequential, paper: its sequential ones) or as listed (other modes)."""
        if self.mode == "paper":
            return list(self.sequential or [])
        return list(self.order) if self.order is not None else list(self.factors)

    def one_at_a_time_factors(self) -> list[str]:
        """paper: the factors varied alone around the tuned result, in spec order."""
        if self.mode != "paper":
            return []
        if self.one_at_a_time is not None:
            return list(self.one_at_a_time)
        return [k for k in self.factors if k not in (self.sequential or [])]

    def label_keys(self) -> list[str]:
        """Keys a run's label may list: the factors, then keys only compound values set."""
        keys = list(self.factors)
        keys += [k for held in self.stage_fix.values() for k in held if k not in keys]
        for values in self.factors.values():
            for v in values:
                if is_compound(v):
                    keys += [k for k in v if k not in keys]
        return keys

    def override_items(self) -> list[str]:
        """The common overrides as `key=value` strings (mapping values as JSON, which YAML reads)."""
        if isinstance(self.overrides, list):
            return list(self.overrides)
        return [f"{k}={json.dumps(v)}" for k, v in self.overrides.items()]


def load_spec(path: str | os.PathLike) -> tuple[SweepSpec, Path]:
    """Read and validate a spec file (or a shipped spec's name, `mini-paper`); return it with the folder
    its relative paths start from."""
    path = resolve_sweep(path)
    data = read_yaml_mapping(path, "sweep spec")
    return parse_spec(data, source=f"sweep spec {path}"), path.resolve().parent


def parse_spec(data: dict[str, Any], source: str = "sweep spec") -> SweepSpec:
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as e:
        msgs = explain_errors(e.errors(), _explain, _loc, _allowed_at)
        raise ConfigError(f"{source}: " + "; ".join(msgs)) from None


def _first(items: list[Any], shown: int = 5) -> str:
    """The first SHOWN of ITEMS and how many more: an error names a few, not a million."""
    more = f" and {len(items) - shown:,} more" if len(items) > shown else ""
    return ", ".join(str(x) for x in items[:shown]) + more


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'s' * (n != 1)}"


def _loc(err: ErrorDetails) -> tuple[str, ...]:
    """ERR's path, without the union member pydantic tried ('str', 'dict[str,any]', 'list[...]')."""
    loc = tuple(str(p) for p in err["loc"])
    return tuple(p for p in loc if not (p.startswith(("str", "dict[", "list[")) or p == "function-after"))


def _allowed_at(parent: tuple[str, ...]) -> list[str]:
    model = _model_at(parent)
    return list(model.model_fields) if hasattr(model, "model_fields") else []


def _model_at(loc: tuple[str, ...]) -> Any:
    model: Any = SweepSpec
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        model = fields[part].annotation
    return model


def _explain(err: ErrorDetails) -> str:
    loc = _loc(err)
    key = ".".join(loc) or "top level"
    if err["type"] == "extra_forbidden":
        allowed = _allowed_at(loc[:-1])
        return (
            f"unknown key '{key}'; allowed keys at {'.'.join(loc[:-1]) or 'top level'}: "
            f"{', '.join(allowed)}{did_you_mean(loc[-1], allowed)}"
        )
    value = err.get("input")
    if err["type"] == "literal_error":
        allowed = [str(a) for a in get_args(_model_at(loc))]
        return (
            f"key '{key}': got {shown_value(value)}; allowed values: {', '.join(allowed)}"
            f"{did_you_mean(str(value), allowed)}"
        )
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "value_error":
        return f"key '{key}': {msg}" if loc else msg
    return f"key '{key}': got {shown_value(value)}; {msg}"
