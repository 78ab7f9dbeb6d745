"""The second round of zero-cost proxies (docs/estimators.md), one module per method family, and
their entries in the estimator registry.

Each family module exposes `compute(net, x, y, names) -> dict[str, Score]`, which computes every
requested name of its family from one shared pass where it can, on a freshly built, initialised
network in train mode given to that call alone (it may change it), a real minibatch X (normalised
images, NCHW) and labels Y; Gaussian inputs, extra batches and re-initialisations come from torch's
current RNG state. `az_nas` and `te_nas` rank their components over the scored pool
(`aggregate.az_nas_aggregate`, `aggregate.te_nas_aggregate`, NumPy only).

Importing this package registers the estimators without importing torch: each family's `compute`
is a wrapper that imports the family module on its first call (the registry's light commands).
"""

from __future__ import annotations

from typing import Any

from wsnas.estimators.proxies.aggregate import (
    AZ_NAS_COMPONENTS,
    TE_NAS_COMPONENTS,
    az_nas_aggregate,
    te_nas_aggregate,
)
from wsnas.estimators.registry import ESTIMATORS, Compute, Estimator, needs_standalone


def _suite_zero(net: Any, x: Any, y: Any, names: list[str]) -> Any:
    """epe_nas, l2_norm, plain, zen (`proxies.suite_zero`)."""
    from wsnas.estimators.proxies import suite_zero  # torch: only where a network is scored

    return suite_zero.compute(net, x, y, names)


def _zico(net: Any, x: Any, y: Any, names: list[str]) -> Any:
    """zico (`proxies.zico`)."""
    from wsnas.estimators.proxies import zico

    return zico.compute(net, x, y, names)


def _meco(net: Any, x: Any, y: Any, names: list[str]) -> Any:
    """meco (`proxies.meco`)."""
    from wsnas.estimators.proxies import meco

    return meco.compute(net, x, y, names)


def _swap(net: Any, x: Any, y: Any, names: list[str]) -> Any:
    """swap, swap_reg (`proxies.swap`)."""
    from wsnas.estimators.proxies import swap

    return swap.compute(net, x, y, names)


def _az_nas(net: Any, x: Any, y: Any, names: list[str]) -> Any:
    """The AZ-NAS components (`proxies.az_nas`)."""
    from wsnas.estimators.proxies import az_nas

    return az_nas.compute(net, x, y, names)


def _te_nas(net: Any, x: Any, y: Any, names: list[str]) -> Any:
    """The TE-NAS components (`proxies.te_nas`)."""
    from wsnas.estimators.proxies import te_nas

    return te_nas.compute(net, x, y, names)


def _latency(net: Any, x: Any, y: Any, names: list[str]) -> Any:
    """latency_b1, latency (`proxies.latency`)."""
    from wsnas.estimators.proxies import latency

    return latency.compute(net, x, y, names)


SUMMARIES: dict[str, tuple[Compute, str]] = {
    "epe_nas": (_suite_zero, "sum over classes of |sum log(|corr|+k)|, input Jacobians (Lopes et al.)"),
    "l2_norm": (_suite_zero, "sum over conv/linear layers of ||W||_2 at init (NAS-Bench-Suite-Zero)"),
    "plain": (_suite_zero, "sum of dL/dW * W, signed (Abdelfattah et al.; NAS-Bench-Suite-Zero)"),
    "zen": (_suite_zero, "log E|f(z)-f(z+0.01z')| + BN scaling, Gaussian init and inputs (Lin et al.)"),
    "zico": (_zico, "sum over layers of log sum mean|g|/std(g), g over two batches (Li et al.)"),
    "meco": (_meco, "sum over module outputs of min eig of the channel correlation (Jiang et al.)"),
    "swap": (_swap, "distinct ReLU patterns over 16 images, mean of 32 Gaussian inits (Peng et al.)"),
    "swap_reg": (_swap, "swap * exp(-(params_M - mu)^2 / sigma), mu = sigma = 1.5 (Peng et al.)"),
    "az_nas_expressivity": (_az_nas, "sum over cell features of the covariance eigen-entropy (Lee, Ham)"),
    "az_nas_progressivity": (_az_nas, "min increase of the eigen-entropy from cell to cell (Lee, Ham)"),
    "az_nas_trainability": (_az_nas, "mean over cells of -s-1/s+2, s top singular value of dJ (Lee, Ham)"),
    "az_nas_complexity": (_az_nas, "multiply-adds (M) of one image, conv and linear (AZ-NAS's FLOPs)"),
    "te_nas_ntk": (_te_nas, "-cond(NTK) on 16 images, train-mode BN (Chen et al.)"),
    "te_nas_lr": (_te_nas, "distinct ReLU patterns of 3x1000 3x3 crops, cell at width 1 (Chen et al.)"),
    "latency_b1": (_latency, "median forward seconds of one image on the run's device (eval mode)"),
    "latency": (_latency, "median forward seconds of the run's minibatch on the run's device"),
}
"""Per-network estimator -> (its family's compute, the one-line summary `--help` shows)."""

for _name, (_compute, _summary) in SUMMARIES.items():
    ESTIMATORS.register(_name)(Estimator(_name, "zero_cost", _summary, needs_standalone, _compute))

ESTIMATORS.register("az_nas")(
    Estimator(
        "az_nas",
        "pool",
        "sum of log(rank/n) of the four az_nas_* components over the pool (Lee, Ham)",
        needs_standalone,
        components=AZ_NAS_COMPONENTS,
        aggregate=az_nas_aggregate,
    )
)
ESTIMATORS.register("te_nas")(
    Estimator(
        "te_nas",
        "pool",
        "rank(te_nas_ntk) + rank(te_nas_lr) over the pool (Chen et al.)",
        needs_standalone,
        components=TE_NAS_COMPONENTS,
        aggregate=te_nas_aggregate,
    )
)

__all__ = ["AZ_NAS_COMPONENTS", "SUMMARIES", "TE_NAS_COMPONENTS"]
