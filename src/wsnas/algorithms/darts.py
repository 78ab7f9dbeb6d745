"""DARTS (Liu et al., ICLR 2019) as xautodl runs it on NB201 (`exps/NAS-Bench-201-algos/DARTS-V1.py`,
`DARTS-V2.py`): every edge a softmax-weighted mixed op; each step first the architecture on a batch
of the architecture split, then the weights on a training batch with the same mixed ops.

V2's architecture gradient is the one-step unrolled one: with w' = w - lr (momentum * buffer +
dL_train/dw + wd * w) (the weight optimiser's own step, as the reference computes it),
  grad = dL_val(w', a)/da - lr * [dL_train(w+, a)/da - dL_train(w-, a)/da] / (2 R),
w+- = w +- R v, v = dL_val(w', a)/dw', R = 0.01 / ||v||. The passes at w' and w+- run on copies of
the BatchNorm buffers (the reference's unrolled model is a deep copy), so they leave the
super-net's running statistics as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from wsnas.algorithms.base import Algorithm, Batch, _mixed

FD_R = 0.01
"""The finite-difference step of the Hessian-vector product, relative to ||v|| (the reference's r)."""


class DartsV1(Algorithm):
    """First-order DARTS: the architecture gradient of the validation loss at the current weights."""

    arch_first: ClassVar[bool] = True


class DartsV2(DartsV1):
    """Second-order DARTS: the unrolled architecture gradient (module docstring)."""

    def arch_step(
        self, model: nn.Module, arch_batch: Batch, train_batch: Batch, w_optimizer: torch.optim.Optimizer
    ) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        grad, loss = unrolled_grad(self, model, arch_batch, train_batch, w_optimizer)
        self.alphas.grad = grad
        self.optimizer.step()
        return loss


def _call_mixed(
    model: nn.Module,
    params: Mapping[str, torch.Tensor],
    buffers: Mapping[str, torch.Tensor],
    x: torch.Tensor,
    weights: Any,
    active: Any,
) -> torch.Tensor:
    """`model.forward_mixed` with PARAMS and BUFFERS in place of the module's own."""

    class _Mixed(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, xx: torch.Tensor) -> torch.Tensor:
            return _mixed(self.inner)(xx, weights, active)

    wrapper = _Mixed(model)
    state = {f"inner.{k}": v for k, v in {**params, **buffers}.items()}
    return functional_call(wrapper, state, (x,))


def unrolled_grad(
    algo: Algorithm,
    model: nn.Module,
    arch_batch: Batch,
    train_batch: Batch,
    w_optimizer: torch.optim.Optimizer,
) -> tuple[torch.Tensor, float]:
    """DARTS-V2's architecture gradient and the unrolled validation loss (module docstring)."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    params = dict(model.named_parameters())
    theta = [params[n] for n in names]
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    group = w_optimizer.param_groups[0]
    lr, wd, momentum = float(group["lr"]), float(group["weight_decay"]), float(group.get("momentum", 0.0))
    # w' = w - lr * (momentum * buffer + dL_train/dw + wd * w)
    weights, active = algo.mixing()
    x, y = train_batch
    detached = [w.detach() if w is not None else None for w in weights]
    loss = F.cross_entropy(_call_mixed(model, params, buffers, x, detached, active), y)
    dtheta = torch.autograd.grad(loss, theta, allow_unused=True)
    unrolled = {}
    with torch.no_grad():
        for n, p, g in zip(names, theta, dtheta, strict=True):
            g = torch.zeros_like(p) if g is None else g
            buf = w_optimizer.state.get(p, {}).get("momentum_buffer")
            step = g + wd * p
            if buf is not None:
                step = step + momentum * buf
            unrolled[n] = (p - lr * step).detach().requires_grad_(True)
    # dL_val(w', a)/da and v = dL_val(w', a)/dw'
    weights, active = algo.mixing()
    xa, ya = arch_batch
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    val_loss = F.cross_entropy(_call_mixed(model, unrolled, buffers, xa, weights, active), ya)
    grads = torch.autograd.grad(val_loss, [algo.alphas, *unrolled.values()], allow_unused=True)
    dalpha = grads[0] if grads[0] is not None else torch.zeros_like(algo.alphas)
    vector = [
        torch.zeros_like(p) if g is None else g for g, p in zip(grads[1:], unrolled.values(), strict=True)
    ]
    implicit = hessian_vector(algo, model, names, theta, vector, train_batch)
    return (dalpha - lr * implicit).detach(), float(val_loss.detach())


def hessian_vector(
    algo: Algorithm,
    model: nn.Module,
    names: list[str],
    theta: Sequence[torch.Tensor],
    vector: list[torch.Tensor],
    batch: Batch,
) -> torch.Tensor:
    """[dL_train(w+, a)/da - dL_train(w-, a)/da] / (2R), w+- = w +- R v, R = FD_R / ||v||."""
    norm = torch.cat([v.reshape(-1) for v in vector]).norm()
    r = FD_R / norm
    x, y = batch
    out = []
    for sign in (1.0, -1.0):
        shifted = {n: (p.detach() + sign * r * v) for n, p, v in zip(names, theta, vector, strict=True)}
        buffers = {n: b.clone() for n, b in model.named_buffers()}
        weights, active = algo.mixing()
        loss = F.cross_entropy(_call_mixed(model, shifted, buffers, x, weights, active), y)
        (g,) = torch.autograd.grad(loss, [algo.alphas])
        out.append(g)
    return (out[0] - out[1]) / (2 * r)
