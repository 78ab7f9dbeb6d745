"""weight_l1: the sum of |W| over the conv and linear layers of a network at initialisation.

A zero-cost estimator: `wsnas estimate` builds each architecture's stand-alone network, initialised
from the run's per-architecture seed, and calls `weight_l1` once per architecture (the docstring of
wsnas.estimators.registry says what it is given). More and wider layers give a larger sum, so it is
a size baseline much like `params`: a worked example, not a proxy to publish.
"""

from __future__ import annotations

import torch
from torch import nn

from wsnas.estimators.registry import ESTIMATORS, Estimator, needs_standalone
from wsnas.estimators.zero_cost import Score


def weight_l1(net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str]) -> dict[str, Score]:
    """{'weight_l1': sum of |W|}; the minibatch X, Y is not needed, and NAMES is ['weight_l1']."""
    with torch.no_grad():
        total = sum(
            float(m.weight.abs().sum()) for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)
        )
    return {"weight_l1": Score.checked(total, "weight_l1")}  # NaN with a reason if not finite


ESTIMATORS.register("weight_l1")(
    Estimator(
        name="weight_l1",
        kind="zero_cost",
        summary="sum of |W| over conv/linear layers at init (example plugin)",
        refuses=needs_standalone,  # every space with a stand-alone network; the others refuse it
        compute=weight_l1,
    )
)
