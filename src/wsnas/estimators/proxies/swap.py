"""SWAP (Peng et al., ICLR 2024): the number of distinct sample-wise activation patterns, and its
parameter-regularised variant.

pym1024/SWAP `src/metrics/swap.py`: forward hooks on every `nn.ReLU` whose input is 4-D keep the
outputs (`hook_in_forward`, lines 82-84); the outputs are concatenated per image and signed
(`collect_activations`), transposed to (neurons, images) and the distinct rows counted with
`torch.unique(dim=0)` (`calSWAP`, lines 31-40): how many different on/off patterns over the batch
the units show. `correlation.py` (lines 36-59) scores a network as the mean over 32 repeats of a
Gaussian re-initialisation (`network_weight_gaussian_init`) and one no-gradient forward of the
same 16 real training images, the network in train mode as built. The regularised score multiplies
by exp(-(params - mu)^2 / sigma) (`cal_regular_factor`, lines 6-11; params as `count_parameters`
of `src/utils/utilities.py` counts them, here in millions).

A pattern is packed into one integer per unit (bit k = image k active) as each ReLU runs, and the
integers seen are marked in a table of 2^16 entries: counting the marks equals counting the
distinct rows, without keeping the activations.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from wsnas.estimators.proxies.common import ReluInputs, check_names, gaussian_init
from wsnas.estimators.zero_cost import Score, nan
from wsnas.nn.pool import conv_avg_pools

SWAP = ("swap", "swap_reg")

SWAP_SAMPLES = 16
"""Images per pattern (SWAP `correlation.py`: `--input_samples` default 16)."""

SWAP_REPEATS = 32
"""Gaussian re-initialisations averaged (SWAP `correlation.py`: `--repeats` default 32)."""

SWAP_CHANNELS_LAST = True
"""Run the 32 forwards in the channels-last layout (faster; float rounding only: `swap`)."""

SWAP_MU = 1.5
SWAP_SIGMA = 1.5
"""mu and sigma of swap_reg's factor exp(-(P - mu)^2 / sigma), P the network's parameters in
millions. The released code takes both from its caller and ships no values; these centre the factor
at NB201's largest cell (1.53 M at C=16, N=5), so that on NB201 it rises with the parameter count
(docs/estimators.md: a wsnas choice, not the authors')."""


def compute(net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str]) -> dict[str, Score]:
    """swap / swap_reg of NET (changed here: re-initialised 32 times) on the first 16 images of X."""
    names = check_names(names, SWAP, "SWAP")
    conv_avg_pools(net)  # the same pooling, faster on a CPU (wsnas.nn.pool)
    xs = x[:SWAP_SAMPLES]
    params_m = sum(p.numel() for n, p in net.named_parameters() if "auxiliary" not in n) / 1e6
    value = swap(net, xs)
    out: dict[str, Score] = {}
    for n in names:
        if math.isnan(value.value):
            out[n] = nan(f"{n}: {value.reason.split(': ', 1)[-1]}")
        elif n == "swap":
            out[n] = value
        else:
            out[n] = Score.checked(value.value * regular_factor(params_m), n)
    return out


def regular_factor(params_m: float, mu: float = SWAP_MU, sigma: float = SWAP_SIGMA) -> float:
    """exp(-(P - mu)^2 / sigma), P in millions of parameters."""
    return math.exp(-((params_m - mu) ** 2) / sigma)


def pack_patterns(active: torch.Tensor) -> torch.Tensor:
    """Per unit of the (images, ...) booleans ACTIVE, its on/off pattern over the images as one
    integer (bit k set where image k is active), exact in float32 for up to 24 images."""
    n_img = active.shape[0]
    if n_img > 24:
        raise ValueError(f"swap: {n_img} images do not pack exactly into one float32 per unit")
    bits = 2.0 ** torch.arange(n_img, dtype=torch.float32, device=active.device)
    return (bits @ active.reshape(n_img, -1).to(torch.float32)).to(torch.int64)


def distinct_patterns(net: nn.Module, xs: torch.Tensor) -> int:
    """How many distinct on/off patterns over the images XS the units of NET's 4-D ReLUs show
    (the distinct rows of the reference's (neurons, images) sign matrix); 0 if it applies none."""
    seen = torch.zeros(2 ** xs.shape[0], dtype=torch.bool, device=xs.device)
    any_relu = [False]

    def mark(t: torch.Tensor) -> None:
        seen[pack_patterns(t > 0)] = True
        any_relu[0] = True

    with torch.no_grad(), ReluInputs(mark):
        net(xs)
    return int(seen.sum()) if any_relu[0] else 0


def swap(net: nn.Module, xs: torch.Tensor, repeats: int = SWAP_REPEATS) -> Score:
    """Mean over REPEATS Gaussian re-initialisations of the distinct activation patterns of XS.

    The forwards run in the channels-last memory layout (`SWAP_CHANNELS_LAST`; the same draws, the
    weights drawn in their logical order), about 1.3x faster on a CPU; the convolutions round
    differently, which moves a unit whose input is within float rounding of 0 to the other side: at
    most a count or two of tens of thousands per initialisation (a relative change near 1e-5 of the
    mean, docs/estimators.md)."""
    net.train()
    last = SWAP_CHANNELS_LAST and xs.dim() == 4
    if last:
        net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # (torch accepts it)
        xs = xs.contiguous(memory_format=torch.channels_last)
    try:
        counts = []
        for _ in range(repeats):
            gaussian_init(net)
            count = distinct_patterns(net, xs)
            if count == 0:
                return nan("swap: the forward applies no ReLU to a 4-D tensor (no activation pattern)")
            counts.append(count)
    finally:
        if last:  # the layout it was given (the runner shares the network with the next family)
            net.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    return Score.checked(sum(counts) / len(counts), "swap")
