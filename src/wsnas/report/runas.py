"""What was run: each setting's nearest shipped config and what departs from it (`nb201-quick, 10 epochs`).

A run dir does not record which shipped config it started from (config.yaml is the resolved
config), so the report compares the run's config with every shipped config of its space and
the demo preset (`wsnas list configs`; the other presets are the mini benchmark's stand-alone
protocol and build spec, never a super-net's start) and with wsnas's own defaults (`defaults`:
no config file, the paper's tuned values), and names the one it departs from in the fewest
keys (ties: a shipped config before a preset before the defaults, then by name). Keys that
never define a setting (where and how it ran: `runtime.*`, `bench.source`, `out_dir`, the
seed, ...) are not compared.
Run names on disk are never changed: this is what the report shows next to a setting's label,
so that a 10-epoch CPU run is never read as the paper's protocol.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

from wsnas.config import RunConfig, load_config
from wsnas.config.shipped import shipped
from wsnas.core.errors import WsnasError
from wsnas.report.runs import canon, setting_part, show

DEFAULTS = "defaults"
"""The name of wsnas's own defaults (RunConfig() on the run's space) as a starting point."""
SUPERNET_PRESETS = ("demo",)
"""The presets that are super-net run configs."""
SHOWN = 6
"""Most departures one text lists; the rest are counted (`+3 more`); the settings CSV has them all."""


@dataclass(frozen=True)
class RunAs:
    """A config as a shipped config (or the defaults) and the keys in which it departs from it."""

    base: str
    departures: tuple[tuple[str, Any], ...]

    def text(self, limit: int | None = SHOWN, skip: frozenset[str] = frozenset()) -> str:
        """`nb201-quick, 10 epochs, sampler.name=fairnas` (without the keys in SKIP)."""
        shown = [departure_text(k, v) for k, v in self.departures if k not in skip]
        more = len(shown) - limit if limit is not None and len(shown) > limit else 0
        parts = [self.base, *shown[: len(shown) - more]] + ([f"+{more} more"] if more else [])
        return ", ".join(parts)


def departure_text(key: str, value: Any) -> str:
    """`10 epochs` for protocol.epochs (what a reader looks for first), else `key=value`."""
    if key == "protocol.epochs" and isinstance(value, int):
        return f"{value} epoch" + ("" if value == 1 else "s")
    return f"{key}={show(value)}"


@cache
def _candidates(space: str) -> tuple[tuple[tuple[int, str], str, dict[str, Any]], ...]:
    """((rank, name), name, setting keys) of every shipped config and preset of SPACE, and the defaults."""
    found: list[tuple[tuple[int, str], str, dict[str, Any]]] = []
    for name, (kind, path) in shipped().items():
        if kind != "config" and name not in SUPERNET_PRESETS:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a shipped file's own warnings are not the report's
                cfg = load_config(path)
        except (OSError, ValueError, WsnasError):
            continue  # a shipped file this version cannot read is no starting point
        if isinstance(cfg, RunConfig) and cfg.space.name == space:
            found.append(((0 if kind == "config" else 1, name), name, setting_part(cfg.to_dict())))
    defaults = RunConfig.model_validate({"space": {"name": space}})
    found.append(((2, DEFAULTS), DEFAULTS, setting_part(defaults.to_dict())))
    return tuple(sorted(found, key=lambda c: c[0]))


def run_as(cfg: RunConfig) -> RunAs:
    """CFG as its nearest shipped config (fewest differing setting keys) and the departures, in the
    config's field order."""
    own = setting_part(cfg.to_dict())
    best: RunAs | None = None
    for _, name, ref in _candidates(cfg.space.name):
        diff = tuple((k, v) for k, v in own.items() if canon(v) != canon(ref.get(k)))
        if best is None or len(diff) < len(best.departures):
            best = RunAs(name, diff)
    assert best is not None  # the defaults are always a candidate
    return best


def common_text(runs_as: list[RunAs], skip: frozenset[str] = frozenset()) -> str:
    """What all of RUNS_AS share: their base and the departures all hold with one value (keys in
    SKIP left out: a factor's values); `several shipped configs` when the bases differ."""
    if not runs_as:
        return ""
    bases = {r.base for r in runs_as}
    if len(bases) > 1:
        return "several shipped configs (" + ", ".join(sorted(bases)) + "; see All settings)"
    first = runs_as[0]
    held = [dict(r.departures) for r in runs_as]
    shared = tuple(
        (k, v)
        for k, v in first.departures
        if k not in skip and all(k in d and canon(d[k]) == canon(v) for d in held)
    )
    return RunAs(first.base, shared).text()
