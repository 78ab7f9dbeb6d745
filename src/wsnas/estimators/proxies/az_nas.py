"""AZ-NAS (Lee and Ham, CVPR 2024): expressivity, progressivity, trainability and complexity of a
network at initialisation, each scored alone, and their rank aggregation over the scored pool.

cvlab-yonsei/AZ-NAS `NB201/ZeroShotProxy/compute_az_nas_score.py` `compute_nas_score` (lines
109-197): re-initialise (`kaiming_norm_fanin`, lines 7-15), train mode, one batch of Gaussian
images of the loader's shape (az_nas is not among the notebook's `real_input_metrics`), the stem's
and every cell's output (`custom/tss_model.py` `extract_cell_features`);
- expressivity: per feature, the entropy of the normalised eigenvalues of the channel covariance
  over all images and positions; summed (lines 133-149);
- progressivity: the smallest increase of that entropy from one feature to the next (line 148);
- trainability: per consecutive pair, backpropagate a Rademacher gradient from the later feature to
  the earlier one, (pixel-unshuffled where the resolution halves), and score -s - 1/(s + 1e-6) + 2,
  s the largest singular value of their mean outer product; -inf where the gradient passes
  unchanged (an identity cell); the mean (lines 152-190);
- complexity: the benchmark's FLOPs (`tss_general.ipynb` reads `api_flops`): here the multiply-adds
  of one image through the network's conv and linear layers, NB201's `flop` rule (wsnas.spaces.nb201.flops).
The reference maps a NaN component to -inf (lines 193-195); so does this module, with a reason.
`az_nas` itself is `az_nas_aggregate` of the four columns over the pool (`tss_general.ipynb`:
sum of log(rank / n)), computed where the pool is known (the run's summary).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wsnas.estimators.proxies.aggregate import AZ_NAS_COMPONENTS, az_nas_aggregate
from wsnas.estimators.proxies.common import (
    check_names,
    feature_modules,
    kaiming_normal_fan_in_init,
    nan_all,
)
from wsnas.estimators.zero_cost import Score
from wsnas.nn.pool import conv_avg_pools

_EPS_LOG = 1e-8
_EPS_SV = 1e-6


def compute(net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str]) -> dict[str, Score]:
    """The AZ-NAS components NAMES of NET (changed here: re-initialised) on Gaussian images of X's shape."""
    names = check_names(names, AZ_NAS_COMPONENTS, "AZ-NAS component")
    conv_avg_pools(net)  # the same pooling, faster on a CPU (wsnas.nn.pool)
    mods = feature_modules(net)
    if mods is None:
        return nan_all(names, "the network exposes no stem and cells to read features from")
    kaiming_normal_fan_in_init(net)
    net.train()
    z = torch.randn(x.shape, device=x.device, dtype=x.dtype)
    feats: list[torch.Tensor] = []
    macs = [0]
    handles = [m.register_forward_hook(lambda _m, _i, o: feats.append(o)) for m in mods]
    handles += [m.register_forward_hook(_count_macs(macs)) for m in net.modules() if _counted(m)]
    try:
        with torch.enable_grad():
            net(z)
    finally:
        for h in handles:
            h.remove()
    out: dict[str, Score] = {}
    want = set(names)
    if want & {"az_nas_expressivity", "az_nas_progressivity"}:
        ent = expressivities(feats)
        out["az_nas_expressivity"] = _or_worst(float(np.sum(ent)), "az_nas_expressivity", "expressivity")
        prog = float(np.min(ent[1:] - ent[:-1])) if len(ent) > 1 else math.nan
        out["az_nas_progressivity"] = _or_worst(prog, "az_nas_progressivity", "progressivity")
    if "az_nas_trainability" in want:
        out["az_nas_trainability"] = trainability(feats)
    if "az_nas_complexity" in want:
        out["az_nas_complexity"] = Score.checked(macs[0] / 1e6, "az_nas_complexity")
    return {n: out[n] for n in names}


def _or_worst(v: float, name: str, what: str) -> Score:
    """V, or -inf with a reason where it is NaN (the reference's `-np.inf` for a NaN component)."""
    if math.isnan(v):
        why = f"{what} is NaN (a feature with no variance); -inf as AZ-NAS scores it"
        return Score(-math.inf, f"{name}: {why}")
    return Score.checked(v, name)


def _counted(m: nn.Module) -> bool:
    return isinstance(m, nn.Conv2d | nn.Linear)


def _count_macs(total: list[int]) -> Any:
    """A forward hook adding one image's multiply-adds of a conv/linear layer (NB201's `flop` rule)."""

    def hook(m: nn.Module, _i: Any, out: torch.Tensor) -> None:
        if isinstance(m, nn.Conv2d):
            pos = out.shape[2] * out.shape[3]
            k_h, k_w = m.kernel_size
            total[0] += k_h * k_w * m.in_channels * m.out_channels // m.groups * pos
            total[0] += m.out_channels * pos if m.bias is not None else 0
        elif isinstance(m, nn.Linear):
            total[0] += m.in_features * m.out_features + (m.out_features if m.bias is not None else 0)

    return hook


def expressivities(feats: list[torch.Tensor]) -> np.ndarray:
    """Per feature (B, C, H, W): the entropy -sum p log(p + 1e-8) of p = the eigenvalues of the
    channel covariance over the B*H*W positions (mean removed, divided by B*H*W), normalised to sum 1."""
    out = []
    with torch.no_grad():
        for f in feats:
            b, c, h, w = f.shape
            m = f.detach().permute(0, 2, 3, 1).reshape(b * h * w, c)
            m = m - m.mean(dim=0, keepdim=True)
            sigma = m.t() @ m / m.shape[0]
            s = torch.linalg.eigvalsh(sigma)
            p = s / s.sum()
            out.append(float((-p * torch.log(p + _EPS_LOG)).sum()))
    return np.array(out, dtype=np.float64)


def trainability(feats: list[torch.Tensor]) -> Score:
    """Mean over consecutive feature pairs of -s - 1/(s + 1e-6) + 2 (module doc); -inf with a reason
    where a cell passes the gradient unchanged."""
    scores: list[float] = []
    for i in reversed(range(1, len(feats))):
        f_out, f_in = feats[i], feats[i - 1]
        g_out = (torch.bernoulli(torch.full_like(f_out, 0.5)) - 0.5) * 2
        g_in = None
        if f_out.requires_grad and f_in.requires_grad:
            (g_in,) = torch.autograd.grad(f_out, f_in, g_out, retain_graph=True, allow_unused=True)
        if g_in is None:  # the later feature does not depend on the earlier one: a zero gradient
            g_in = torch.zeros_like(f_in)
        if g_out.shape == g_in.shape and bool(torch.equal(g_in, g_out)):
            scores.append(-math.inf)
            continue
        with torch.no_grad():
            if g_out.shape[2:] != g_in.shape[2:]:
                g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
            bo, co, ho, wo = g_out.shape
            go = g_out.permute(0, 2, 3, 1).reshape(bo * ho * wo, co)
            gi = g_in.permute(0, 2, 3, 1).reshape(bo * ho * wo, -1)
            mat = gi.t() @ go / (bo * ho * wo)
            s = float(torch.linalg.svdvals(mat).max())
        scores.append(-s - 1.0 / (s + _EPS_SV) + 2.0)
    if not scores:
        return Score(math.nan, "az_nas_trainability: the network has a single feature")
    value = float(np.mean(scores))
    if value == -math.inf:
        n = sum(1 for s in scores if s == -math.inf)
        why = f"{n} cell(s) pass the gradient unchanged (identity); -inf as AZ-NAS scores it"
        return Score(-math.inf, f"az_nas_trainability: {why}")
    return Score.checked(value, "az_nas_trainability")


__all__ = ["AZ_NAS_COMPONENTS", "az_nas_aggregate", "compute", "expressivities", "trainability"]
