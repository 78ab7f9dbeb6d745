"""What the proxy families share: name checks, the layers they read, the inits their authors use,
ReLU codes and the features a network exposes.

The wsnas networks call `F.relu` inside their blocks where the authors' networks hold `nn.ReLU`
modules, so a proxy that hooks `nn.ReLU` in the reference reads every ReLU the forward applies here
(`ReluInputs`, a `TorchFunctionMode`; a `nn.ReLU` module calls `F.relu`, so it is seen once).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from wsnas.estimators.zero_cost import Score

RELU_FUNCS = frozenset({F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_})


def check_names(names: Iterable[str], family: Sequence[str], what: str) -> list[str]:
    """NAMES without repeats, or a ValueError naming the ones FAMILY (the proxies WHAT computes) lacks."""
    out = list(dict.fromkeys(names))
    unknown = [n for n in out if n not in family]
    if unknown:
        raise ValueError(f"not {what} proxies: {unknown}; known: {', '.join(family)}")
    return out


def nan_all(names: Iterable[str], why: str) -> dict[str, Score]:
    """NaN for every name, each reason prefixed with its name (the CSV's reason convention)."""
    return {n: Score(math.nan, f"{n}: {why}") for n in names}


def logits_of(out: torch.Tensor | tuple | list) -> torch.Tensor:
    """A network's logits (nets with an auxiliary head return (logits, aux) in train mode)."""
    return out[0] if isinstance(out, tuple | list) else out


def layers(net: nn.Module) -> list[nn.Module]:
    """Every Conv2d and Linear in module order: the layers the zero-cost references score."""
    return [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def weights(net: nn.Module) -> list[torch.Tensor]:
    return [cast(torch.Tensor, m.weight) for m in layers(net)]


def _zero_bias(m: nn.Module) -> None:
    bias = getattr(m, "bias", None)
    if isinstance(bias, torch.Tensor):
        nn.init.zeros_(bias)


def _unit_norm(m: nn.Module) -> None:
    """BatchNorm/GroupNorm scale 1, shift 0 (every reference init below does this)."""
    if isinstance(m, nn.BatchNorm2d | nn.GroupNorm) and m.weight is not None:
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


@torch.no_grad()
def gaussian_init(net: nn.Module) -> None:
    """Zen-NAS's `network_weight_gaussian_init` (also SWAP's): conv/linear weights N(0, 1), biases 0,
    BN scale 1 and shift 0."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            _normal_in_logical_order(m.weight)
            _zero_bias(m)
        else:
            _unit_norm(m)


def _normal_in_logical_order(w: torch.Tensor) -> None:
    """`nn.init.normal_(w)`, the same values whatever W's memory layout: a channels-last weight would
    take the draws in memory order, so it is drawn contiguous and copied in."""
    if w.is_contiguous():
        nn.init.normal_(w)
    else:
        w.copy_(nn.init.normal_(torch.empty(w.shape, dtype=w.dtype, device=w.device)))


@torch.no_grad()
def kaiming_normal_fan_in_init(net: nn.Module) -> None:
    """AZ-NAS's `kaiming_normal_fanin_init`: conv/linear weights Kaiming-normal (fan_in, ReLU gain),
    biases 0, affine BN scale 1 and shift 0."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            _zero_bias(m)
        else:
            _unit_norm(m)


class ReluInputs(TorchFunctionMode):
    """Calls `seen(input)` for every ReLU the forward applies to a 4-D tensor (the references hook
    `nn.ReLU` modules whose input is 4-D): `nn.ReLU` modules and F.relu / torch.relu alike, before
    the op, so an in-place ReLU is seen as its input (ReLU(t) > 0 exactly where t > 0)."""

    def __init__(self, seen: Callable[[torch.Tensor], None]) -> None:
        super().__init__()
        self.seen = seen

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if func in RELU_FUNCS and args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
            self.seen(args[0].detach())
        return func(*args, **(kwargs or {}))


def relu_codes(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(batch, neurons) booleans: which units of every 4-D ReLU are active for each image of X, in
    forward order (the references' `torch.sign` of the ReLU outputs, concatenated)."""
    parts: list[torch.Tensor] = []
    with torch.no_grad(), ReluInputs(lambda t: parts.append((t > 0).reshape(t.shape[0], -1))):
        net(x)
    if not parts:
        return torch.zeros(x.shape[0], 0, dtype=torch.bool, device=x.device)
    return torch.cat(parts, dim=1)


def feature_modules(net: nn.Module) -> list[nn.Module] | None:
    """The modules whose outputs are a network's stage features, in forward order: the stem and every
    cell (NB201's and DARTS's `stem` + `cells`, NB101's `stem` + `layers`), as AZ-NAS's
    `extract_cell_features` reads them; None where the network has no such parts."""
    stem = getattr(net, "stem", None)
    body = getattr(net, "cells", None)
    if body is None:
        body = getattr(net, "layers", None)
    if not isinstance(stem, nn.Module) or not isinstance(body, nn.ModuleList | nn.Sequential):
        return None
    return [stem, *body]
