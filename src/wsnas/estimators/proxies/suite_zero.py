"""The four proxies NAS-Bench-Suite-Zero added to Abdelfattah et al.'s: epe_nas, l2_norm, plain, zen.

Definitions follow NASLib's `naslib/predictors/utils/pruners/measures/` (`epe_nas.py`, `l2_norm.py`,
`plain.py`, `zen.py`; docs/estimators.md names the lines). One pass serves what can share it:
l2_norm reads the weights as initialised; plain and epe_nas share one train-mode forward on the
minibatch (a loss backward for plain, an input backward of the summed outputs for epe_nas; NASLib
runs a copy and a forward per measure on the same data and weights, so the values are the same);
zen then re-initialises the weights (Gaussian) and runs on Gaussian inputs, so it comes last.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from wsnas.estimators.proxies.common import check_names, gaussian_init, logits_of, weights
from wsnas.estimators.zero_cost import Score, nan
from wsnas.nn.pool import conv_avg_pools

SUITE_ZERO = ("epe_nas", "l2_norm", "plain", "zen")

EPE_K = 1e-5
"""The offset inside EPE-NAS's log|corr| (NASLib `epe_nas.py`: k = 1e-5)."""

ZEN_MIXUP_GAMMA = 1e-2
"""Zen-NAS's perturbation scale (NASLib `zen.py`: mixup_gamma=1e-2, repeat=1)."""


def compute(net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str]) -> dict[str, Score]:
    """The Suite-Zero proxies NAMES of NET (fresh, initialised, train mode; changed here: zen
    re-initialises it) on the minibatch (X, Y)."""
    names = check_names(names, SUITE_ZERO, "NAS-Bench-Suite-Zero")
    conv_avg_pools(net)  # the same pooling, faster on a CPU (wsnas.nn.pool)
    out: dict[str, Score] = {}
    if "l2_norm" in names:
        out["l2_norm"] = l2_norm(net)
    shared = [n for n in names if n in ("plain", "epe_nas")]
    if shared and "zen" in names:  # NASLib scores a fresh copy per measure; zen reads BN buffers
        fresh = {k: v.clone() for k, v in net.state_dict().items()}
    if shared:
        out.update(_plain_epe(net, x, y, shared))
    if "zen" in names:
        if shared:  # zen reads BN running variances: undo the updates of the shared forward
            net.load_state_dict(fresh)
        out["zen"] = zen(net, x)
    return {n: out[n] for n in names}


def l2_norm(net: nn.Module) -> Score:
    """Sum over conv/linear layers of ||W||_2 (NASLib `l2_norm.py`: `l.weight.norm()`, summed)."""
    ws = weights(net)
    if not ws:
        return nan("l2_norm: the network has no conv or linear layer")
    with torch.no_grad():
        return Score.checked(sum(float(w.norm()) for w in ws), "l2_norm")


def _plain_epe(net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str]) -> dict[str, Score]:
    """One train-mode forward; plain = sum of dL/dW * W (signed), epe_nas from the input Jacobian."""
    net.train()
    ws = weights(net)
    xin = x.detach().clone().requires_grad_("epe_nas" in names)
    logits = logits_of(net(xin))
    res: dict[str, Score] = {}
    if "plain" in names:
        if not ws or not logits.requires_grad:
            res["plain"] = nan("plain: the network has no trainable parameter on any path")
        else:
            grads = torch.autograd.grad(
                F.cross_entropy(logits, y), ws, retain_graph="epe_nas" in names, allow_unused=True
            )
            pairs = zip(grads, ws, strict=True)
            total = sum(float((g * w.detach()).sum()) for g, w in pairs if g is not None)
            res["plain"] = Score.checked(total, "plain")
    if "epe_nas" in names:
        jac = None
        if logits.requires_grad:
            (jac,) = torch.autograd.grad(logits.sum(), xin, allow_unused=True)
        if jac is None:
            res["epe_nas"] = nan("epe_nas: the output does not depend on the input (no path through a cell)")
        else:
            res["epe_nas"] = epe_nas_from_jacobian(jac.reshape(jac.shape[0], -1), y, logits.shape[-1])
    return res


def epe_nas_from_jacobian(jac: torch.Tensor, y: torch.Tensor, n_classes: int) -> Score:
    """EPE-NAS of the images' input Jacobians JAC (one row per image) with labels Y: per class c,
    s_c = sum of log(|corr| + k) over the class's Jacobian correlation matrix; the score is
    sum_c |s_c| (up to 100 classes), else sum over class pairs of |s_c - s_c'| / classes seen, each
    s_c first divided by the class's image count (NASLib `epe_nas.py` `eval_score_perclass`)."""
    j = jac.detach().to(torch.float64).cpu().numpy()
    labels = y.detach().cpu().numpy()
    if labels.ndim == 2:  # one-hot targets (NASLib's TNB101 branch)
        labels = labels.argmax(axis=1)
    flat = np.ptp(j, axis=1) == 0
    if flat.any():
        return nan(
            f"epe_nas: the input Jacobian of {int(flat.sum())} image(s) is constant "
            "(the output does not depend on the input)"
        )
    per_class: dict[int, float] = {}
    for c in dict.fromkeys(labels.tolist()):  # classes in order of first appearance, as the reference
        rows = j[labels == c]
        if len(rows) == 1:  # np.corrcoef of one vector is 1.0: the reference's s = log(1 + k)
            s = math.log(1.0 + EPE_K)
            if n_classes > 100:  # len() of the reference's 0-d corrcoef raises: the class is skipped
                continue
        else:
            corr = np.corrcoef(rows)
            s = float(np.sum(np.log(np.abs(corr) + EPE_K)))
            if n_classes > 100:
                s /= len(corr)
        per_class[c] = s
    v = np.array(list(per_class.values()))
    if n_classes <= 100:
        score = float(np.abs(v).sum())
    else:
        score = float(np.abs(v[:, None] - v[None, :]).sum()) / max(len(v), 1)
    return Score.checked(score, "epe_nas")


class _PoolInput(TorchFunctionMode):
    """Keeps the input of the last global average pool the forward applies: `adaptive_avg_pool2d`
    (NB201's and DARTS's `nn.AdaptiveAvgPool2d`) or a mean over the two spatial dims (NB101)."""

    def __init__(self) -> None:
        super().__init__()
        self.last: torch.Tensor | None = None

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if args and isinstance(args[0], torch.Tensor) and args[0].dim() == 4:
            if func is F.adaptive_avg_pool2d:
                self.last = args[0]
            elif func in (torch.mean, torch.Tensor.mean):
                dims = args[1] if len(args) > 1 else kwargs.get("dim")
                if isinstance(dims, tuple | list) and sorted(d % 4 for d in dims) == [2, 3]:
                    self.last = args[0]
        return func(*args, **kwargs)


def pre_gap(net: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """NET's features just before its global average pool for input X (NASLib's
    `forward_before_global_avg_pool` hooks the input of `nn.AdaptiveAvgPool2d`); None if it has none."""
    mode = _PoolInput()
    with mode:
        net(x)
    return mode.last


def zen(net: nn.Module, x: torch.Tensor) -> Score:
    """log E_batch sum |f(z) - f(z + g z')| + sum over BN2d layers of log sqrt(mean running_var):
    f the pre-pooling features of NET re-initialised N(0, 1) (BN scale 1, shift 0), z, z' Gaussian
    images of X's shape, g = 1e-2, train mode, no gradient; the running variances are read after the
    two forwards updated them (NASLib `zen.py`, as Zen-NAS's `compute_zen_score.py`)."""
    gaussian_init(net)
    net.train()
    with torch.no_grad():
        z = torch.randn(x.shape, device=x.device, dtype=x.dtype)
        z2 = torch.randn(x.shape, device=x.device, dtype=x.dtype)
        out = pre_gap(net, z)
        if out is None:
            return nan("zen: the network applies no global average pool (no pre-pooling features)")
        out_mix = pre_gap(net, z + ZEN_MIXUP_GAMMA * z2)
        assert out_mix is not None
        score = torch.abs(out - out_mix).sum(dim=(1, 2, 3)).mean()
        if not float(score) > 0:
            return nan("zen: the pre-pooling features do not change with the input (log 0)")
        log_bn = sum(
            (
                float(torch.log(torch.sqrt(torch.mean(m.running_var))))
                for m in net.modules()
                if isinstance(m, nn.BatchNorm2d) and m.running_var is not None
            ),
            0.0,
        )
        return Score.checked(math.log(float(score)) + log_bn, "zen")


__all__ = ["SUITE_ZERO", "compute", "epe_nas_from_jacobian", "l2_norm", "pre_gap", "zen"]
