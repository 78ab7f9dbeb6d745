"""One architecture's row of a `wsnas estimate` run: every column's value, its NaN reasons, seconds.

Zero-cost estimators are computed per registered `compute` function: each distinct function is
called once per architecture with every requested name that shares it, on a fresh network
initialised from a seed of (seed, arch string), so a score does not depend on order, resume,
which process computed it, or which other estimators ran beside it.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

import torch

from wsnas.core.errors import BenchmarkError
from wsnas.estimators.networks import build_network
from wsnas.estimators.plan import Plan, minibatch
from wsnas.estimators.registry import ESTIMATORS, Compute
from wsnas.estimators.zero_cost import Score


def arch_seed(seed: int, arch: str) -> int:
    """The init seed of ARCH's network: the same whatever the order or process."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{arch}".encode()).digest()[:4], "little") & 0x7FFFFFFF


def score_arch(plan: Plan, i: int) -> dict[str, Any]:
    """The row of pool architecture I: every column's value, the reasons of its NaNs, seconds."""
    arch, arch_str = plan.pool.archs[i], plan.pool.arch_strs[i]
    values: dict[str, Score] = {}
    secs: dict[str, float] = {}
    groups = zero_cost_groups(plan)
    if groups:
        t0 = time.perf_counter()
        for compute, names in groups:
            values.update(_zero_cost(plan, arch, arch_str, compute, names))
        secs["zero_cost"] = time.perf_counter() - t0
    facts = [e.name for e in plan.estimators if e.kind == "baseline"]
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


def zero_cost_groups(plan: Plan) -> list[tuple[Compute, list[str]]]:
    """The run's zero-cost columns grouped by their registered compute function, in column order."""
    groups: dict[int, tuple[Compute, list[str]]] = {}
    for est in plan.estimators:
        if est.kind != "zero_cost":
            continue
        assert est.compute is not None  # Estimator checks it
        groups.setdefault(id(est.compute), (est.compute, []))[1].append(est.name)
    asked = {n for g in groups.values() for n in g[1]}
    derived = [n for n in plan.columns if n not in asked and n in ESTIMATORS]
    for n in derived:  # the proxies of vote / of a pool estimator, when only it asked for them
        est = ESTIMATORS.get(n)
        if est.kind != "zero_cost":
            continue
        assert est.compute is not None
        groups.setdefault(id(est.compute), (est.compute, []))[1].append(n)
    return list(groups.values())


def _zero_cost(plan: Plan, arch: Any, arch_str: str, compute: Compute, names: list[str]) -> dict[str, Score]:
    """NAMES of one compute function on a fresh network seeded by (seed, arch): the same network
    whichever other estimators ran, so a score depends on its architecture and the run's seed only."""
    if plan.batch is None:
        plan.batch, plan.num_classes = minibatch(plan.cfg, plan.opts.batch, plan.device, plan.opts.network)
    x, y = plan.batch
    torch.manual_seed(arch_seed(plan.cfg.seed, arch_str))
    try:
        net = build_network(
            plan.opts.network, plan.space, arch, plan.channels, plan.cells, plan.num_classes
        ).to(plan.device)
        out = compute(net, x, y, list(names))
    except (RuntimeError, ValueError, ArithmeticError) as e:  # a network the proxies cannot run
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return {n: Score(math.nan, f"{n}: {type(e).__name__}: {first}") for n in names}
    return {
        n: out[n] if n in out else Score(math.nan, f"{n}: its compute function gave no value") for n in names
    }
