"""Expanding a sweep spec into run configs with stable names.

A run's name is `LABEL-sSEED-HASH`: LABEL lists the factor values that differ from
the base config (`base` when none do), HASH is the start of the run config's hash.
The same experiment therefore always gets the same run dir, whichever mode or stage
asks for it: the one-at-a-time baseline is one set of runs shared by every factor,
and a sequential stage reuses the previous stage's winner instead of training it
again. That is also what makes a rerun skip finished work.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from wsnas.config import RunConfig, experiment_hash, load_config, validate
from wsnas.core.errors import ConfigError
from wsnas.core.runname import run_name
from wsnas.spaces.check import check_config, mark_checked
from wsnas.sweep.spec import RESERVED, SweepSpec, assignment


@contextlib.contextmanager
def _epochs_vary() -> Iterator[None]:
    """A study's one eval.epochs list serves every protocol.epochs value it tries: entries beyond
    one run's epochs are expected there, not worth a warning per run (`config.load.check_eval_epochs`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*beyond protocol\.epochs=.*never evaluated")
        yield


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: its stable name, what it varies, and its full config."""

    name: str
    label: str
    seed: int
    assign: dict[str, Any] = field(hash=False)
    cfg: RunConfig = field(hash=False, compare=False)

    @property
    def run_dir(self) -> Path:
        return Path(self.cfg.out_dir) / self.name


def get_key(d: dict[str, Any], key: str) -> Any:
    """Value at a dotted key of a nested dict (KeyError when absent)."""
    for part in key.split("."):
        d = d[part]
    return d


def set_key(d: dict[str, Any], key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        nxt = d.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{source}: key '{key}': '{part}' is a value, not a section")
        d = nxt
    d[parts[-1]] = copy.deepcopy(value)


def format_value(v: Any) -> str:
    """A factor value as it appears in labels: strings bare, everything else as JSON."""
    return v if isinstance(v, str) else json.dumps(v)


class Planner:
    """Resolves the base config once, then builds the config of any factor assignment."""

    def __init__(
        self,
        spec: SweepSpec,
        spec_dir: Path | None,
        out_dir: str | Path,
        cli_overrides: Sequence[str] = (),
    ) -> None:
        self.spec = spec
        self.runs_dir = Path(out_dir) / "runs"
        self._settings: dict[str, tuple[RunConfig, dict[str, Any], str]] = {}
        self._by_content: dict[str, tuple[RunConfig, dict[str, Any], str]] = {}
        """The same settings by config content: two assignments that give one config check it once."""
        """Per factor assignment: its config (seed 0, validated and checked once: plans are made again
        and again), that config as a dict, its label. A seed only copies it: planning is linear in runs."""
        self._label_keys = spec.label_keys()
        overrides = [*spec.override_items(), *cli_overrides]
        for item in overrides:
            key = item.split("=", 1)[0].strip()
            if "=" not in item:
                raise ConfigError(f"override {item!r}: expected key.sub=value")
            if key in spec.factors:
                raise ConfigError(f"override {item!r} sets factor '{key}'; change the factor's values")
            if key in RESERVED:
                raise ConfigError(f"override {item!r}: '{key}' is set by the sweep itself")
        self.base = self._resolve_base(spec_dir, overrides)
        self.base_dict = self.base.to_dict()
        self._check_factors()

    def _resolve_base(self, spec_dir: Path | None, overrides: list[str]) -> RunConfig:
        base = self.spec.base
        if isinstance(base, str):
            path = Path(base) if spec_dir is None else spec_dir / base
            data: Any = load_config(path).to_dict()
        else:
            data = base or {}
        layers: list[Any] = [data]
        for item in overrides:
            try:
                layers.append(OmegaConf.from_dotlist([item]))
            except OmegaConfBaseException as e:
                raise ConfigError(f"override {item!r}: {e}") from None
        merged: Any = OmegaConf.to_container(OmegaConf.merge({}, *layers))
        for key, value in self.spec.start.items():  # the starting point of the validated factors
            set_key(merged, key, value, source="sweep start")
        with _epochs_vary():
            base = validate(merged, source="sweep base config + overrides")
        return check_config(base, source="sweep base config + overrides")

    def _check_factors(self) -> None:
        """Every value must give a valid config, and distinct values distinct experiments.

        A sequential sweep combines each stage with any earlier stage's winner, so there
        every pair of values of two factors must make a valid config too (checked now,
        not hours later when the stage starts). In paper mode the one-at-a-time values
        are applied to the tuned result, so each must also pair with every value of
        every sequential factor.
        """
        if self.spec.mode in ("sequential", "paper"):
            order = self.spec.factor_order()
            for i, a in enumerate(order):
                for b in order[i + 1 :]:
                    for va in self.spec.factors[a]:
                        for vb in self.spec.factors[b]:
                            self.config({a: va, b: vb}, seed=0)
            for factor, held in self.spec.stage_fix.items():
                for v in self.spec.factors[factor]:
                    self.config({**held, factor: v}, seed=0)
        self._check_around_tuned()
        for key, values in self.spec.factors.items():
            seen: dict[str, Any] = {}
            for v in values:
                h = self.config(assignment(key, v), seed=0).hash()
                if h in seen:
                    raise ConfigError(
                        f"factor '{key}': values {seen[h]!r} and {v!r} give the same experiment "
                        "(paths, runtime and logging settings are not factors)"
                    )
                seen[h] = v

    def _check_around_tuned(self) -> None:
        """paper: every one-at-a-time value with every value of every sequential factor."""
        for key in self.spec.one_at_a_time_factors():
            for v in self.spec.factors[key]:
                for s in self.spec.factor_order():
                    for vs in self.spec.factors[s]:
                        self.config({s: vs, **assignment(key, v)}, seed=0)

    def _setting(self, assign: dict[str, Any]) -> tuple[RunConfig, dict[str, Any], str]:
        """ASSIGN's config at seed 0, as a dict, and its label; built, validated and checked once.
        No check depends on the seed (the spec checks each seed's range)."""
        key = json.dumps(assign, sort_keys=True)
        if key not in self._settings:
            d = copy.deepcopy(self.base_dict)
            for k, value in assign.items():
                set_key(d, k, value, source="sweep factor")
            d["seed"], d["out_dir"], d["name"] = 0, str(self.runs_dir), None
            content = json.dumps(d, sort_keys=True, default=str)
            if content not in self._by_content:
                where = ", ".join(f"{k}={format_value(v)}" for k, v in assign.items()) or "base"
                with _epochs_vary():
                    cfg = check_config(
                        validate(d, source=f"sweep run ({where})"), source=f"sweep run ({where})"
                    )
                d = cfg.to_dict()
                self._by_content[content] = (cfg, d, self._label(d))
            self._settings[key] = self._by_content[content]
        return self._settings[key]

    def config(self, assign: dict[str, Any], seed: int, name: str | None = None) -> RunConfig:
        cfg = self._setting(assign)[0]
        if (seed, name) == (0, None):
            return cfg
        return mark_checked(cfg.model_copy(update={"seed": seed, "name": name}))  # no check reads the seed

    def _label(self, d: dict[str, Any]) -> str:
        """Factor values of the config D that differ from the base config, in spec order."""
        parts = [
            f"{k}={format_value(get_key(d, k))}"
            for k in self._label_keys
            if get_key(d, k) != get_key(self.base_dict, k)
        ]
        return ",".join(parts) or "base"

    def label(self, cfg: RunConfig) -> str:
        """Factor values of `cfg` that differ from the base config, in spec order."""
        return self._label(cfg.to_dict())

    def run(self, assign: dict[str, Any], seed: int) -> PlannedRun:
        cfg, d, label = self._setting(assign)
        name = run_name(label, seed, experiment_hash({**d, "seed": seed})[:8])  # = the seed's cfg.hash()
        return PlannedRun(
            name=name,
            label=label,
            seed=seed,
            assign=dict(assign),
            cfg=mark_checked(cfg.model_copy(update={"seed": seed, "name": name})),  # checked as seed 0
        )

    def runs(self, assigns: Iterable[dict[str, Any]]) -> list[PlannedRun]:
        """Every assignment x every seed, without duplicates (shared runs appear once)."""
        out: dict[str, PlannedRun] = {}
        for assign in assigns:
            for seed in self.spec.seeds:
                r = self.run(assign, seed)
                out.setdefault(r.name, r)
        return list(out.values())

    # ---- modes ---------------------------------------------------------------------------
    def grid(self) -> list[PlannedRun]:
        keys = list(self.spec.factors)
        combos = itertools.product(*(self.spec.factors[k] for k in keys))
        return self.runs(dict(zip(keys, c, strict=True)) for c in combos)

    def one_at_a_time(
        self, around: dict[str, Any] | None = None, factors: Sequence[str] | None = None
    ) -> list[PlannedRun]:
        """`around` (default: the base) and each value of each factor alone on top of it."""
        around = dict(around or {})
        keys = list(self.spec.factors) if factors is None else list(factors)
        assigns: list[dict[str, Any]] = [around]
        assigns += [{**around, **assignment(k, v)} for k in keys for v in self.spec.factors[k]]
        return self.runs(assigns)

    def stage(self, factor: str, fixed: dict[str, Any]) -> list[PlannedRun]:
        """Sequential stage: `factor` takes each value, earlier factors stay at their choices, and
        the keys the spec's `stage_fix` holds for this stage are set (for this stage only)."""
        held = self.spec.stage_fix.get(factor, {})
        return self.runs({**fixed, **held, factor: v} for v in self.spec.factors[factor])

    def around_tuned(self, tuned: dict[str, Any]) -> list[PlannedRun]:
        """paper: the tuned baseline and the one-at-a-time factors' values around it, and the
        starting point itself: a stage that holds keys (`stage_fix`) may not have trained it."""
        runs = {r.name: r for r in self.runs([{}])}
        runs.update((r.name, r) for r in self.one_at_a_time(tuned, self.spec.one_at_a_time_factors()))
        return list(runs.values())
