"""BatchNorm built from the mapping's two BN factors (affine, track running stats).

With `track_running_stats=False` PyTorch keeps no running buffers and normalises
with the current batch's statistics in eval mode too; that is the paper's tuned
setting ("no running stats, batch stats at eval"): a super-net's running averages
mix many paths and describe none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

BNFactory = Callable[[int], nn.BatchNorm2d]
"""channels -> a fresh BatchNorm2d with fixed flags."""


def make_bn(
    num_features: int,
    affine: bool = True,
    track_running_stats: bool = False,
    momentum: float = 0.1,
) -> nn.BatchNorm2d:
    """One BatchNorm2d; without tracking it has no running_mean/var buffers at all."""
    return nn.BatchNorm2d(
        num_features, affine=affine, track_running_stats=track_running_stats, momentum=momentum
    )


def bn_factory(affine: bool = True, track_running_stats: bool = False, momentum: float = 0.1) -> BNFactory:
    """A picklable callable `channels -> BatchNorm2d` with the given flags."""
    return partial(make_bn, affine=affine, track_running_stats=track_running_stats, momentum=momentum)
