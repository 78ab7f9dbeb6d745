"""MeCo (Jiang et al., NeurIPS 2023): the minimum eigenvalue of the channel correlation of every
module's output, summed.

HamsterMimi/MeCo `correlation/NAS_Bench_201.py` `get_score` (lines 11-43), the script of the
NB201 numbers: a forward hook on every module (`net.named_modules()`, containers and the network
itself included); for each call, the output's first image reshaped to (channels, positions), its
`torch.corrcoef` with NaN/inf set to 0, the smallest real eigenvalue; the sum over calls, NaN/inf
results dropped. One real training image (`--batch_size 1`), the network in train mode as built.

The wsnas networks call `F.relu` where the reference's hold `nn.ReLU` modules, so each functional
ReLU outside an `nn.ReLU` module counts as one module call too. The sum runs over the scored
network's own module tree, which differs from the reference network's wrappers (docs/estimators.md).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from wsnas.estimators.proxies.common import RELU_FUNCS, check_names
from wsnas.estimators.zero_cost import Score, nan
from wsnas.nn.pool import conv_avg_pools

MECO = ("meco",)


def compute(net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str]) -> dict[str, Score]:
    """meco of NET (fresh, initialised, train mode) on the first image of X."""
    check_names(names, MECO, "MeCo")
    conv_avg_pools(net)  # the same pooling, faster on a CPU (wsnas.nn.pool)
    return {"meco": meco(net, x[:1])}


class _FunctionalRelus(TorchFunctionMode):
    """Reports the output of every functional ReLU called outside an `nn.ReLU` module."""

    def __init__(self, seen: Any, depth: list[int]) -> None:
        super().__init__()
        self.seen, self.depth = seen, depth

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if func in RELU_FUNCS and self.depth[0] == 0 and isinstance(out, torch.Tensor):
            self.seen(out)
        return out


def module_outputs(net: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The first image of every module call's output (and of every functional ReLU outside an
    `nn.ReLU` module), in call order, detached."""
    feats: list[torch.Tensor] = []
    relu_depth = [0]

    def keep(out: Any) -> None:
        if isinstance(out, torch.Tensor) and out.dim() >= 2:  # a 1-D output's image is a scalar
            feats.append(out[0].detach().clone())

    def hook(_m: nn.Module, _i: Any, out: Any) -> None:
        keep(out)

    def enter(_m: nn.Module, _i: Any) -> None:
        relu_depth[0] += 1

    def leave(_m: nn.Module, _i: Any, _o: Any) -> None:
        relu_depth[0] -= 1

    handles = []
    for m in net.modules():
        if isinstance(m, nn.ReLU):
            handles.append(m.register_forward_pre_hook(enter))
            handles.append(m.register_forward_hook(leave))
        handles.append(m.register_forward_hook(hook))
    try:
        with torch.no_grad(), _FunctionalRelus(keep, relu_depth):
            net(x)
    finally:
        for h in handles:
            h.remove()
    return feats


def min_corr_eigenvalues(feats: list[torch.Tensor]) -> torch.Tensor:
    """Per feature (C, ...) -> (C, N): the smallest eigenvalue of its channel correlation matrix with
    NaN/inf entries set to 0 (a constant channel's row and column); batched per shape, float64."""
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    mats = [f.reshape(f.shape[0], -1).to(torch.float64) for f in feats]
    for i, m in enumerate(mats):
        groups[tuple(m.shape)].append(i)
    out = torch.zeros(len(mats), dtype=torch.float64)
    for idx in groups.values():
        z = torch.stack([mats[i] for i in idx])  # (n, C, N)
        z = z - z.mean(dim=2, keepdim=True)
        cov = z @ z.transpose(1, 2)
        d = torch.sqrt(cov.diagonal(dim1=1, dim2=2))
        with torch.no_grad():
            corr = (cov / d[:, :, None] / d[:, None, :]).clamp(-1.0, 1.0)  # torch.corrcoef clips too
        corr = torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
        out[idx] = torch.linalg.eigvalsh(corr)[:, 0].cpu()
    return out


def meco(net: nn.Module, x1: torch.Tensor) -> Score:
    """Sum over module calls of the smallest eigenvalue of the output's channel correlation (module doc)."""
    net.train()
    feats = module_outputs(net, x1)
    if not feats:
        return nan("meco: the network produced no module output")
    vals = min_corr_eigenvalues(feats)
    vals = vals[torch.isfinite(vals)]
    return Score.checked(float(vals.sum()), "meco")
