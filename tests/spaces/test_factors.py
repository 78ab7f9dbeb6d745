"""Every factor a space declares changes its super-net; every factor it leaves out would not.

"Acts" means: with the same input and paths, either the weights the paths train
differ (shapes, count, sharing) or, with identical weights loaded, the outputs
differ in train or eval mode. A declared (space, factor, value) must act; an
undeclared one must not (else the declaration is missing), and is a config error.
"""

from __future__ import annotations

import contextlib
from typing import Any, Literal, get_args

import numpy as np
import pytest
import torch

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.core.errors import ConfigError
from wsnas.spaces import get_space
from wsnas.spaces.check import support_table
from wsnas.spaces.factors import ANY, SECTIONS, Above, default_of, factor_fields

SIZES = {  # tiny super-nets: (lowfi channels, cells per stage, image size)
    "nb201": (4, 1, 8),
    "nb201_mini": (4, 1, 8),
    "nb101": (8, 1, 8),
    "darts_nds": (4, 1, 8),
}


def candidate_values(field: str) -> list[Any]:
    """Values other than the default that the config accepts for FIELD."""
    sec, name = field.split(".", 1)
    ann = SECTIONS[sec].model_fields[name].annotation
    default = default_of(field)
    if ann is bool:
        return [not default]
    if getattr(ann, "__origin__", None) is Literal:
        return [v for v in get_args(ann) if v != default]
    if ann is float:
        return [0.5]
    return [default + 1 if name == "cells_per_stage" else default * 2]


def baseline(space) -> dict[str, Any]:
    """The space's reference factor values: config defaults, or its first value where the
    default is not one it supports (NB101: ops on nodes)."""
    base: dict[str, Any] = {}
    for field, decl in space.factors.items():
        if decl.values is not ANY and default_of(field) not in decl.values:
            base[field] = decl.values[0]
    return base


def build(space, values: dict[str, Any], check: bool = True):
    channels, cells, _ = SIZES[space.name]
    mapping = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("mapping.")}
    lowfi = {"channels": channels, "cells_per_stage": cells}
    lowfi.update({k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("lowfi.")})
    m, lf = MappingConfig(**mapping), LowFidelityConfig(**lowfi)
    torch.manual_seed(0)
    return space.supernet(m, lf) if check else space.build_supernet(m, lf, 10)


def paths(space) -> list[Any]:
    rng = np.random.default_rng(0)
    return [space.sample(rng) for _ in range(6)] + list(space.fair_paths(rng))


def used_signature(net, x, archs) -> tuple:
    """Per path the shapes of the parameters it trains, and the sharing across paths."""
    net.train()
    per_path, used = [], {}
    for arch in archs:
        net.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        net(x, arch).sum().backward()
        ps = [p for p in net.parameters() if p.grad is not None]
        per_path.append(tuple(sorted(tuple(p.shape) for p in ps)))
        used.update({id(p): p.numel() for p in ps})
    return tuple(per_path), len(used), sum(used.values())


def outputs(net, x, archs) -> list[torch.Tensor]:
    outs = []
    for mode in ("train", "eval"):
        net.train(mode == "train")
        for arch in archs:
            torch.manual_seed(2)
            with torch.no_grad():
                outs.append(net(x, arch))
    return outs


def acts(space, base: dict[str, Any], changed: dict[str, Any], check: bool = True) -> bool:
    size = SIZES[space.name][2]
    torch.manual_seed(3)
    x = torch.randn(4, 3, size, size)
    archs = paths(space)
    a, b = build(space, base), build(space, {**base, **changed}, check)
    if used_signature(a, x, archs) != used_signature(b, x, archs):
        return True
    pa = {k: tuple(v.shape) for k, v in a.named_parameters()}
    pb = {k: tuple(v.shape) for k, v in b.named_parameters()}
    if pa != pb:  # same trained structure under other names: nothing changed
        return False
    b.load_state_dict({k: v for k, v in a.state_dict().items() if k in pa}, strict=False)
    return any(not torch.equal(u, v) for u, v in zip(outputs(a, x, archs), outputs(b, x, archs), strict=True))


def met(requires: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """Values that meet a declaration's `requires` (`Above(b)`: b + 0.5, a rate switched on)."""
    return {k: v.bound + 0.5 if isinstance(v, Above) else v for k, v in requires}


def declared_cases():
    for name in SIZES:
        space = get_space(name)
        base = baseline(space)
        for field, decl in space.factors.items():
            values = candidate_values(field) if decl.values is ANY else list(decl.values)
            for v in values:
                if v == base.get(field, default_of(field)):
                    continue
                yield pytest.param(name, field, v, id=f"{name}-{field}={v}")


def undeclared_cases():
    for name in SIZES:
        space = get_space(name)
        for field in factor_fields():
            if field not in space.factors:
                for v in candidate_values(field):
                    yield pytest.param(name, field, v, id=f"{name}-{field}={v}")


@pytest.mark.parametrize(("name", "field", "value"), list(declared_cases()))
def test_declared_factor_changes_the_supernet(name, field, value):
    space = get_space(name)
    decl = space.factors[field]
    changed = {field: value, **met(decl.requires)}
    base = {**baseline(space), **{k: v for k, v in met(decl.requires).items() if k != field}}
    assert acts(space, base, changed), f"{name}: {field}={value} declared but changes nothing"


@pytest.mark.parametrize(("name", "field", "value"), list(undeclared_cases()))
def test_undeclared_factor_is_refused_and_would_change_nothing(name, field, value):
    space = get_space(name)
    with pytest.raises(ConfigError, match=f"{field}="):
        build(space, {**baseline(space), field: value})
    with contextlib.suppress(ConfigError):  # the super-net itself may refuse it (NB101 ops on edges)
        assert not acts(space, baseline(space), {field: value}, check=False), (
            f"{name}: {field}={value} acts but is not declared"
        )


def test_unmet_requirement_is_refused_and_would_change_nothing():
    space = get_space("nb201")
    with pytest.raises(ConfigError, match="every edge already has its own BN"):
        build(space, {"mapping.wsbn": True})
    assert not acts(space, {}, {"mapping.wsbn": True}, check=False)


@pytest.mark.parametrize("name", ["nb201", "nb201_mini"])
def test_cell_path_dropout_without_a_rate_is_refused_and_would_change_nothing(name):
    space = get_space(name)
    with pytest.raises(ConfigError, match=r"nothing is dropped.*use mapping.dropout_path > 0"):
        build(space, {"mapping.dropout_path_at": "cell"})
    assert not acts(space, {}, {"mapping.dropout_path_at": "cell"}, check=False)


def test_docs_table_is_the_declarations():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "factors.md").read_text()
    assert support_table() in docs, "docs/factors.md: re-render the table with support_table()"
