"""`wsnas list spaces|samplers|algorithms|estimators|configs|sweeps|factors`: what is installed, a line
each.

Spaces, samplers, algorithms and estimators come from their registries, plugins included (`core.registry`).

`factors` prints the paper's Table 1 (factor -> config field -> accepted values -> the
spaces whose super-net honours it) from the declarations the config check uses.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

KINDS = ("spaces", "samplers", "algorithms", "estimators", "configs", "sweeps", "factors")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list spaces, samplers, algorithms, estimators, shipped configs, sweeps or Table 1's factors",
    )
    p.add_argument("kind", choices=KINDS, help="what to list")
    p.set_defaults(func=_list)


def _list(args: argparse.Namespace) -> None:
    for line in LISTERS[args.kind]():
        print(line)


def _spaces() -> list[str]:
    from wsnas.spaces import SPACES

    rows = []
    for name in SPACES.names():
        cls = SPACES.get(name)
        rows.append((name, cls.title or name, "samplers: " + ", ".join(cls.samplers)))
    return _columns(rows)


def _samplers() -> list[str]:
    from wsnas.spaces.samplers import SAMPLERS

    return _columns([(n, _first_line(SAMPLERS.get(n).__doc__)) for n in SAMPLERS.names()])


def _algorithms() -> list[str]:
    """Search algorithms (`algorithm.name`): name, what it does, its reference defaults and code."""
    from wsnas.spaces.algorithms import ALGORITHMS

    rows = [("none", "the sampler alone (Random-NAS, Random-A, FairNAS): no learnt distribution", "")]
    for n in ALGORITHMS.names():
        s = ALGORITHMS.get(n)
        defaults = ", ".join(f"{k}={list(v) if isinstance(v, tuple) else v}" for k, v in s.defaults.items())
        rows.append((n, s.summary, f"defaults: {defaults}; follows: {s.reference}"))
    return _columns(rows)


def _estimators() -> list[str]:
    """Registered estimators (`wsnas estimate --estimators`): name, kind, what it computes."""
    from wsnas.estimators.registry import BENCH_PREFIX, ESTIMATORS

    rows = [(n, ESTIMATORS.get(n).kind, ESTIMATORS.get(n).summary) for n in ESTIMATORS.names()]
    rows.append((f"{BENCH_PREFIX}E", "bench", "accuracy after the benchmark's shorter E-epoch schedule"))
    return _columns(rows)


def _configs() -> list[str]:
    from wsnas.presets import describe, shipped

    return _columns([(name, kind, str(path), describe(path)) for name, (kind, path) in shipped().items()])


def _sweeps() -> list[str]:
    """Shipped sweep specs: `wsnas sweep NAME --out DIR` takes the name."""
    from wsnas.presets import describe, shipped_sweeps

    return _columns([(name, str(path), describe(path)) for name, path in shipped_sweeps().items()])


def _factors() -> list[str]:
    from wsnas.spaces.table1 import factor_lines

    return factor_lines()


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)] if rows else []
    return ["  ".join([*(f"{c:{w}}" for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip() for r in rows]


LISTERS = {
    "spaces": _spaces,
    "samplers": _samplers,
    "algorithms": _algorithms,
    "estimators": _estimators,
    "configs": _configs,
    "sweeps": _sweeps,
    "factors": _factors,
}
