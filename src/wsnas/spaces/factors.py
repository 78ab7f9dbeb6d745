"""Which mapping and low-fidelity factors a space honours, and the check that refuses the rest.

A space declares, per config field, the values that change its super-net
(`SearchSpace.factors`). A field it does not declare must keep the config's
default: a factor that would change nothing is a config error, never a silent
no-op that changes the run's hash and yields a "finding" made of noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from wsnas.config import FewShotConfig, LandmarkConfig, LowFidelityConfig, MappingConfig
from wsnas.core.errors import ConfigError

SECTIONS: dict[str, type[BaseModel]] = {"mapping": MappingConfig, "lowfi": LowFidelityConfig}
"""Config sections whose fields are super-net factors."""

TRAINING_SECTIONS: dict[str, type[BaseModel]] = {"landmark": LandmarkConfig, "fewshot": FewShotConfig}
"""Config sections of training heuristics published after the paper (landmark regularisation, few-shot
super-nets): declared per space in `SearchSpace.training_factors`, checked where a whole run config is
(`spaces.check.check_config`), not by `SearchSpace.supernet`, whose network they do not change."""

ANY = None
"""`Factor.values` for a field every valid value of which acts (rates, widths, depths)."""


@dataclass(frozen=True)
class Above:
    """A `Factor.requires` condition met by any value greater than `bound` (a rate switched on)."""

    bound: float

    def holds(self, value: Any) -> bool:
        return value > self.bound


@dataclass(frozen=True)
class Not:
    """A `Factor.requires` condition met by any value other than `value` (a factor switched on)."""

    value: Any

    def holds(self, value: Any) -> bool:
        return value != self.value


def need_text(field: str, want: Any) -> str:
    """A `requires` pair as a person reads it: `field=value`, `field > bound` or `field != value`."""
    if isinstance(want, Above):
        return f"{field} > {show(want.bound)}"
    if isinstance(want, Not):
        return f"{field} != {show(want.value)}"
    return f"{field}={show(want)}"


def need_holds(value: Any, want: Any) -> bool:
    return want.holds(value) if isinstance(want, Above | Not) else value == want


@dataclass(frozen=True)
class Factor:
    """How a space honours one factor field.

    `values`: the values it supports (ANY = every value the config accepts).
    `requires`: (field, value) pairs that must hold for a non-default value to act (value may be
    `Above(bound)`: the field must exceed bound).
    `why`: what the space does instead when `requires` fails, for the error message.
    """

    values: tuple[Any, ...] | None = ANY
    requires: tuple[tuple[str, Any], ...] = ()
    why: str = ""


def factor_fields() -> list[str]:
    """Every super-net factor field as `section.field`, in config order."""
    return [f"{sec}.{name}" for sec, model in SECTIONS.items() for name in model.model_fields]


def training_factor_fields() -> list[str]:
    """Every training-heuristic factor field (`landmark.*`, `fewshot.*`), in config order."""
    return [f"{sec}.{name}" for sec, model in TRAINING_SECTIONS.items() for name in model.model_fields]


def default_of(field: str) -> Any:
    sec, name = field.split(".", 1)
    return {**SECTIONS, **TRAINING_SECTIONS}[sec].model_fields[name].default


def _value(
    field: str, mapping: MappingConfig, lowfi: LowFidelityConfig, extra: Mapping[str, Any] | None = None
) -> Any:
    """FIELD's value; a field of a section not given (`extra` lacks it) reads as its default."""
    sec, name = field.split(".", 1)
    if sec == "mapping":
        return getattr(mapping, name)
    if sec == "lowfi":
        return getattr(lowfi, name)
    section = (extra or {}).get(sec)
    return default_of(field) if section is None else getattr(section, name)


def show(v: Any) -> str:
    """A factor value as configs spell it (YAML booleans lower-case)."""
    return str(v).lower() if isinstance(v, bool) else str(v)


def factor_problems(
    space: str,
    factors: Mapping[str, Factor],
    mapping: MappingConfig,
    lowfi: LowFidelityConfig,
    why_not: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[str]:
    """One message per factor the config sets that SPACE's super-net cannot honour; WHY_NOT
    says, per undeclared field, why the space leaves it out; EXTRA: the other factor sections
    (`landmark`, `fewshot`) by name, when a whole run config is checked."""
    problems = []
    for field in factor_fields() + (training_factor_fields() if extra else []):
        value, default = _value(field, mapping, lowfi, extra), default_of(field)
        decl = factors.get(field)
        if decl is None:
            if value != default:
                supported = ", ".join(k for k in factors if k.split(".")[0] == field.split(".")[0])
                why = (why_not or {}).get(field, "its super-net does not implement this factor")
                problems.append(
                    f"{field}={show(value)} has no effect on {space}: {why} "
                    f"(leave it at {show(default)}; {space} supports {supported})"
                )
            continue
        if decl.values is not ANY and value not in decl.values:
            allowed = ", ".join(show(v) for v in decl.values)
            why = f": {decl.why}" if decl.why else ""
            problems.append(f"{field}={show(value)} is not supported by {space} (use {allowed}){why}")
            continue
        if value == default:
            continue
        for need, want in decl.requires:
            got = _value(need, mapping, lowfi, extra)
            if not need_holds(got, want):
                why = f": {decl.why}" if decl.why else ""
                problems.append(
                    f"{field}={show(value)} has no effect on {space} with "
                    f"{need}={show(got)}{why}; use {need_text(need, want)}"
                )
    return problems


def check_factors(
    space: str,
    factors: Mapping[str, Factor],
    mapping: MappingConfig,
    lowfi: LowFidelityConfig,
    why_not: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """ConfigError listing every factor SPACE cannot honour (none: returns)."""
    problems = factor_problems(space, factors, mapping, lowfi, why_not, extra)
    if problems:
        raise ConfigError("; ".join(problems))
