"""Every BatchNorm of every network, super-net or stand-alone, is built here.

The flags come from the mapping's two BN factors (affine, track running stats);
momentum and eps are each space's (NB101 keeps the benchmark's eps and, in its
stand-alone nets, its momentum). With `track_running_stats=False` PyTorch keeps no
running buffers and normalises with the current batch's statistics in eval mode
too; that is the paper's tuned setting ("no running stats, batch stats at eval"):
a super-net's running averages mix many paths and describe none of them.

`bn_factory` gives plain BatchNorm2d layers; `dynamic_bn_factory` gives
`DynamicBatchNorm2d` layers, which a channel map can cut (NB101's vertex widths).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from torch import nn

from wsnas.nn.dynamic import DynamicBatchNorm2d

BN_EPS = 1e-5
"""PyTorch's default eps, the one every space uses."""

BNFactory = Callable[[int], nn.BatchNorm2d]
"""channels -> a fresh BatchNorm2d with fixed flags."""

DynamicBNFactory = Callable[[int], DynamicBatchNorm2d]
"""channels -> a fresh DynamicBatchNorm2d with fixed flags."""


def make_bn(
    num_features: int,
    affine: bool = True,
    track_running_stats: bool = False,
    momentum: float = 0.1,
    eps: float = BN_EPS,
) -> nn.BatchNorm2d:
    """One BatchNorm2d; without tracking it has no running_mean/var buffers at all."""
    return nn.BatchNorm2d(
        num_features, eps=eps, affine=affine, track_running_stats=track_running_stats, momentum=momentum
    )


def bn_factory(
    affine: bool = True, track_running_stats: bool = False, momentum: float = 0.1, eps: float = BN_EPS
) -> BNFactory:
    """A picklable callable `channels -> BatchNorm2d` with the given flags."""
    return partial(
        make_bn, affine=affine, track_running_stats=track_running_stats, momentum=momentum, eps=eps
    )


def make_dynamic_bn(
    num_features: int,
    affine: bool = True,
    track_running_stats: bool = False,
    momentum: float = 0.1,
    eps: float = BN_EPS,
    width_stats: Sequence[int] = (),
) -> DynamicBatchNorm2d:
    """One DynamicBatchNorm2d; `width_stats`: the widths that keep running statistics of their own."""
    return DynamicBatchNorm2d(
        num_features,
        eps=eps,
        momentum=momentum,
        affine=affine,
        track_running_stats=track_running_stats,
        width_stats=width_stats,
    )


def dynamic_bn_factory(
    affine: bool = True,
    track_running_stats: bool = False,
    momentum: float = 0.1,
    eps: float = BN_EPS,
    width_stats: Sequence[int] = (),
) -> DynamicBNFactory:
    """A picklable callable `channels -> DynamicBatchNorm2d` with the given flags."""
    return partial(
        make_dynamic_bn,
        affine=affine,
        track_running_stats=track_running_stats,
        momentum=momentum,
        eps=eps,
        width_stats=tuple(width_stats),
    )
