"""Zero-cost proxies of one network at initialisation, computed together from one minibatch.

Definitions follow the authors' released code (docs/estimators.md names the files and lines):
Abdelfattah et al.'s six (SamsungLabs/zero-cost-nas `foresight/pruners/measures/`, as NASLib
copies them) and Mellor et al.'s `nwot` (BayesWatch/nas-without-training, NASLib's `nwot.py`).
What differs from running their code measure by measure is only how the work is shared: one
forward pass in train mode (BN on batch statistics) feeds grad_norm, snip, fisher, grasp,
jacob_cov and nwot (their code deep-copies the net and repeats the forward per measure, on the
same data and weights, so the numbers are the same); synflow then runs on the same net with BN
bypassed, |weights| and float64, on one all-ones image. Average pools run as depthwise
convolutions (`wsnas.nn.pool`) and BatchNorm gets a closed-form second derivative
(`wsnas.nn.bn_grad2`): the same functions, equal to float rounding, much faster on a CPU.

A score that is not a finite number (a singular kernel, a constant Jacobian row, an overflow)
is NaN with a reason; nothing here raises for a network's shape.
"""

from __future__ import annotations

import contextlib
import math
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from wsnas.nn.bn_grad2 import short_bn_grad2
from wsnas.nn.pool import conv_avg_pools

ZERO_COST = ("grad_norm", "snip", "grasp", "fisher", "synflow", "jacob_cov", "nwot")
"""The zero-cost proxies this module computes (the registry adds vote, baselines, bench:E)."""

JACOB_COV_K = 1e-5
"""The eigenvalue offset of jacob_cov (zero-cost-nas `jacob_cov.py`: k = 1e-5)."""

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@dataclass(frozen=True)
class Score:
    """One estimator's value for one network; `reason` says why `value` is NaN (empty otherwise)."""

    value: float
    reason: str = ""

    @staticmethod
    def checked(value: float, what: str) -> Score:
        """VALUE, or NaN with a reason when it is not finite."""
        v = float(value)
        if math.isfinite(v):
            return Score(v)
        return Score(float("nan"), f"{what} is {v} (not finite)")


def nan(reason: str) -> Score:
    return Score(float("nan"), reason)


def prunable(net: nn.Module) -> list[nn.Module]:
    """The layers whose weights the measures score: every Conv2d and Linear, in module order."""
    return [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def _logits(out: torch.Tensor | tuple | list) -> torch.Tensor:
    """A network's logits (nets with an auxiliary head return (logits, aux) in train mode)."""
    return out[0] if isinstance(out, tuple | list) else out


def zero_cost_scores(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    names: Iterable[str],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
) -> dict[str, Score]:
    """The proxies NAMES of NET on the minibatch (X, Y). NET is changed (synflow makes its weights
    |w| in float64): build a fresh one per call."""
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in ZERO_COST]
    if unknown:
        raise ValueError(f"not zero-cost proxies: {unknown}; known: {', '.join(ZERO_COST)}")
    conv_avg_pools(net)  # the same pooling, 8x faster on the CPU (wsnas.nn.pool)
    short_bn_grad2(net)  # the same BatchNorm, a shorter second derivative for grasp (wsnas.nn.bn_grad2)
    out: dict[str, Score] = {}
    shared = [n for n in names if n != "synflow"]
    if shared:
        out.update(_shared_pass(net, x, y, set(shared), loss_fn))
    if "synflow" in names:
        out["synflow"] = synflow(net, x.shape[1:])
    return {n: out[n] for n in names}


def _shared_pass(
    net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: set[str], loss_fn: Callable
) -> dict[str, Score]:
    """One train-mode forward; the backward passes each measure needs (module doc)."""
    net.train()
    layers = prunable(net)
    weights: list[torch.Tensor] = [cast(torch.Tensor, m.weight) for m in layers]
    acts: list[tuple[int, torch.Tensor]] = []
    hooks = []
    want_fisher = "fisher" in names
    if want_fisher:
        for i, m in enumerate(layers):
            hooks.append(m.register_forward_hook(lambda _m, _i, o, i=i: acts.append((i, o))))
    kernel = torch.zeros(x.shape[0], x.shape[0], dtype=torch.float64, device=x.device)
    if "nwot" in names:

        def codes(t: torch.Tensor) -> None:
            # c c^T + (1-c)(1-c)^T = D - s_i - s_j + 2 c c^T (s: active units per image); the kernel
            # accumulates in float64
            c = t.detach().reshape(t.shape[0], -1) > 0
            cc = code_gram(c)
            s = cc.diagonal()
            kernel.add_(2.0 * cc - s[:, None] - s[None, :] + c.shape[1])

    xin = x.detach().clone().requires_grad_("jacob_cov" in names)
    try:
        needs_graph = bool(names - {"nwot"})  # nwot alone is forward only
        with (
            _ReluCodes(codes) if "nwot" in names else contextlib.nullcontext(),
            torch.set_grad_enabled(needs_graph),
        ):
            logits = _logits(net(xin))
    finally:
        for h in hooks:
            h.remove()
    res: dict[str, Score] = {}
    if "nwot" in names:
        res["nwot"] = nwot_from_kernel(kernel)
    if "jacob_cov" in names:
        jac = None
        if logits.requires_grad:
            (jac,) = torch.autograd.grad(logits.sum(), xin, retain_graph=True, allow_unused=True)
        if jac is None:
            res["jacob_cov"] = nan(
                "jacob_cov: the output does not depend on the input (no path through the cells)"
            )
        else:
            res["jacob_cov"] = jacob_cov_from_jacobian(jac.reshape(jac.shape[0], -1))
    grad_measures = names & {"grad_norm", "snip", "fisher", "grasp"}
    if not grad_measures:
        return res
    if not weights or not logits.requires_grad:
        return {
            **res,
            **{n: nan(f"{n}: the network has no trainable parameter on any path") for n in grad_measures},
        }
    loss = loss_fn(logits, y)
    act_tensors = [a for _, a in acts if a.requires_grad]
    act_layer = [i for i, a in acts if a.requires_grad]
    grads = torch.autograd.grad(
        loss, [*weights, *act_tensors], create_graph="grasp" in names, allow_unused=True
    )
    g_w = [
        g if g is not None else torch.zeros_like(w)
        for g, w in zip(grads[: len(weights)], weights, strict=True)
    ]
    with torch.no_grad():
        if "grad_norm" in names:  # per layer ||dL/dW||_2, summed over layers
            res["grad_norm"] = Score.checked(sum((float(g.detach().norm()) for g in g_w), 0.0), "grad_norm")
        if "snip" in names:  # |W * dL/dW|, the mask gradient at mask = 1, summed
            res["snip"] = Score.checked(
                sum((float((w * g.detach()).abs().sum()) for w, g in zip(weights, g_w, strict=True)), 0.0),
                "snip",
            )
        if want_fisher:
            res["fisher"] = _fisher(layers, act_layer, act_tensors, grads[len(weights) :])
    if "grasp" in names:
        z = sum(
            (g.detach() * g_f).sum()
            for g, g_f in zip(g_w, grads[: len(weights)], strict=True)
            if g_f is not None
        )
        if isinstance(z, torch.Tensor) and z.requires_grad:
            hg = torch.autograd.grad(z, weights, allow_unused=True)
            value = sum(
                (float((-w.detach() * h).sum()) for w, h in zip(weights, hg, strict=True) if h is not None),
                0.0,
            )
        else:
            value = 0.0
        res["grasp"] = Score.checked(value, "grasp")
    return res


def _fisher(layers: list[nn.Module], act_layer: list[int], acts: list[torch.Tensor], grads: tuple) -> Score:
    """Per channel 0.5 * mean over the batch of (sum over positions of act * dL/dact)^2, accumulated
    over a layer's calls; each channel's value counted once per weight of that channel (the
    reference broadcasts it over weight.shape[1:] before summing), summed over layers."""
    per_layer: dict[int, torch.Tensor] = {}
    for i, a, g in zip(act_layer, acts, grads, strict=True):
        if g is None:
            continue
        prod = a.detach() * g.detach()
        g_nk = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
        del_k = g_nk.pow(2).mean(0).mul(0.5)
        per_layer[i] = per_layer[i] + del_k if i in per_layer else del_k
    total = 0.0
    for i, del_k in per_layer.items():
        total += float(del_k.abs().sum()) * math.prod(cast(torch.Tensor, layers[i].weight).shape[1:])
    return Score.checked(total, "fisher")


_RELU = frozenset({F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_})


class _ReluCodes(TorchFunctionMode):
    """Calls `codes(input)` for every ReLU the forward applies: `nn.ReLU` modules and the functional
    F.relu / torch.relu alike (the wsnas networks mostly call F.relu inside their blocks; the
    reference hooks `nn.ReLU` modules, which its networks use for every ReLU). The codes are read
    before the op, so an in-place ReLU is seen as its input."""

    def __init__(self, codes: Callable[[torch.Tensor], None]) -> None:
        super().__init__()
        self.codes = codes

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if func in _RELU and args and isinstance(args[0], torch.Tensor):
            self.codes(args[0])
        return func(*args, **(kwargs or {}))


def code_gram(c: torch.Tensor) -> torch.Tensor:
    """c c^T of boolean codes (B x D), exactly, as float64. On a CPU an int8 matmul with int32 sums
    (oneDNN's VNNI/AMX kernels; ~40% faster than float32 here); elsewhere, or where the int8 kernel
    refuses the shape, float32, exact while the sums stay below 2^24."""
    if c.device.type == "cpu":
        try:
            ci = c.view(torch.int8)  # bool and int8 share one byte: 0/1, no copy
            return torch._int_mm(ci, ci.t()).to(torch.float64)
        except RuntimeError:
            pass
    cf = c.to(torch.float32)
    return (cf @ cf.t()).to(torch.float64)


def nwot_from_kernel(kernel: torch.Tensor) -> Score:
    """log|det K| of the binary-code kernel; NaN when K is singular (every code pair undistinguished)."""
    sign, logdet = np.linalg.slogdet(kernel.cpu().numpy())
    if sign == 0 or not math.isfinite(float(logdet)):
        return nan("nwot: the binary-code kernel is singular (two images share all ReLU codes)")
    return Score(float(logdet))


def jacob_cov_from_jacobian(jac: torch.Tensor) -> Score:
    """-sum(log(v + k) + 1/(v + k)) over the eigenvalues v of the images' Jacobian correlation matrix."""
    j = jac.detach().to(torch.float64).cpu().numpy()
    if j.shape[0] < 2:
        return nan("jacob_cov: needs a minibatch of at least 2 images")
    flat = np.ptp(j, axis=1) == 0
    if flat.any():
        return nan(
            f"jacob_cov: the input Jacobian of {int(flat.sum())} image(s) is constant "
            "(the output does not depend on the input)"
        )
    corr = np.corrcoef(j)
    v = np.linalg.eigvalsh(corr)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = -np.sum(np.log(v + JACOB_COV_K) + 1.0 / (v + JACOB_COV_K))
    return Score.checked(value, "jacob_cov")


def _identity(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return x


def synflow(net: nn.Module, input_shape: torch.Size | tuple[int, ...]) -> Score:
    """sum |w * dR/dw| over conv/linear weights, R = sum of the outputs of the net with BN bypassed
    (the BN layers of its `bn_false_drops()` where it names them), every parameter and buffer replaced
    by its absolute value, in float64, on one all-ones image."""
    own = getattr(net, "bn_false_drops", None)  # a network with its own copy without BN (nb201.zc_reference)
    for m in own() if callable(own) else [m for m in net.modules() if isinstance(m, _BN)]:
        m.forward = types.MethodType(_identity, m)  # type: ignore[method-assign]  # the reference's copy with bn=False
    net.double()
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.abs_()
    net.zero_grad(set_to_none=True)
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    ones = torch.ones((1, *input_shape), dtype=torch.float64, device=device)
    out = _logits(net(ones))
    if not prunable(net) or not out.requires_grad:
        return nan("synflow: the network has no trainable parameter on any path")
    out.sum().backward()
    total = 0.0
    for m in prunable(net):
        w = cast(torch.Tensor, m.weight)
        if w.grad is not None:
            total += float((w.detach() * w.grad).abs().sum())
    return Score.checked(total, "synflow")
