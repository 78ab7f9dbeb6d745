"""Train-mode BatchNorm2d with a short second derivative: the same function, GraSP's cost cut.

GraSP differentiates the loss gradient once more. PyTorch's BatchNorm forward and first backward
are single fused kernels, but its double backward (`batchnorm_double_backward`) is a chain of some
thirty full-tensor operations: on the CPU, 12 ms per call on NB201's 64 x 16 x 32 x 32, about 0.4 s
of an architecture's 1.9 s. Here the forward and first backward call the same ATen kernels
(identical values), and the second derivative is written out in closed form (about fifteen
full-tensor operations). With x_hat = (x - mean) * r, r = 1 / sqrt(var + eps), M = N * H * W per channel,
P(v) = v - mean(v) - x_hat * mean(v * x_hat), and the first backward

    g_x = gamma * r * P(g_y),   g_gamma = sum(g_y * x_hat),   g_beta = sum(g_y),

the cotangents (a, b, c) of (g_x, g_gamma, g_beta) give

    d/d g_y   = gamma * r * P(a) + b * x_hat + c
    d/d gamma = r * sum(a * P(g_y))
    d/d x     = -(gamma r^2 / M) (A - S m) x_hat - gamma r^2 m P(a) + r (b - gamma r S / M) P(g_y)

with A = sum(a g_y) - sum(a) mean(g_y), S = sum(a x_hat), m = mean(g_y x_hat) (P is
self-adjoint, and d x_hat = r P(dx), d r = -r^2 mean(x_hat dx)). `tests/nn/test_bn_grad2.py`
checks every term against PyTorch's own double backward in float64.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable


def _c(t: torch.Tensor) -> torch.Tensor:
    """A per-channel vector as (1, C, 1, 1)."""
    return t.view(1, -1, 1, 1)


def _sum(t: torch.Tensor) -> torch.Tensor:
    return t.sum(dim=(0, 2, 3))


class _Backward(torch.autograd.Function):
    """(g_y, x, gamma) -> (g_x, g_gamma, g_beta): ATen's BatchNorm backward, with the closed-form
    derivative above as its own backward."""

    @staticmethod
    def forward(
        ctx: Any,
        gy: torch.Tensor,
        x: torch.Tensor,
        gamma: torch.Tensor,
        mean: torch.Tensor,
        invstd: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        gx, gg, gb = torch.ops.aten.native_batch_norm_backward(
            gy, x, gamma, None, None, mean, invstd, True, 0.0, [True, True, True]
        )
        ctx.save_for_backward(gy, x, gamma, mean, invstd)
        ctx.set_materialize_grads(False)  # unused outputs (GraSP uses g_x only) cost nothing
        return gx, gg, gb

    @staticmethod
    @once_differentiable  # a third derivative would miss mean's and invstd's dependence on x
    def backward(
        ctx: Any, a: torch.Tensor | None, b: torch.Tensor | None, c: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, ...]:
        """The module doc's formulas, expanded so that each output is a few fused passes:
        P(v) = v - mean(v) - x_hat * mean(v x_hat) is folded into per-channel coefficients."""
        if a is None and b is None and c is None:
            return None, None, None, None, None
        gy, x, gamma, mean, invstd = ctx.saved_tensors
        n = x.numel() // x.shape[1]
        r, g = _c(invstd), _c(gamma)
        xh = (x - _c(mean)) * r
        mg = _c(_sum(gy)) / n
        cg = _c(_sum(gy * xh)) / n
        bb = _c(b) if b is not None else torch.zeros_like(r)
        cc = _c(c) if c is not None else torch.zeros_like(r)
        gr = g * r
        if a is None:  # only g_gamma / g_beta were used: d_x = r b P(g_y), d_g_y = b x_hat + c
            k3 = r * bb
            d_x = gy * k3
            d_x.addcmul_(xh, -k3 * cg).sub_(k3 * mg)
            d_gy = (xh * bb).add_(cc)
            return d_gy, d_x, None, None, None
        ma = _c(_sum(a)) / n
        ca = _c(_sum(a * xh)) / n
        big_a = _c(_sum(a * gy)) - n * ma * mg  # sum(a g_y) - sum(a) mean(g_y)
        s = n * ca  # sum(a x_hat)
        d_gamma = (r * (big_a - cg * s)).reshape(-1)  # r * sum(a P(g_y))
        k1 = -(gr * r / n) * (big_a - s * cg)
        k2 = -gr * r * cg
        k3 = r * (bb - gr * ca)
        d_x = a * k2  # k1 x_hat + k2 P(a) + k3 P(g_y), expanded
        d_x.addcmul_(gy, k3).addcmul_(xh, k1 - k2 * ca - k3 * cg).sub_(k2 * ma + k3 * mg)
        d_gy = a * gr  # g r P(a) + b x_hat + c, expanded
        d_gy.addcmul_(xh, bb - gr * ca).add_(cc - gr * ma)
        return d_gy, d_x, d_gamma, None, None


class _Forward(torch.autograd.Function):
    """Train-mode BatchNorm2d forward (ATen's kernel, running statistics updated as usual)."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        gamma: torch.Tensor,
        beta: torch.Tensor,
        running_mean: torch.Tensor | None,
        running_var: torch.Tensor | None,
        momentum: float,
        eps: float,
    ) -> torch.Tensor:
        y, mean, invstd = torch.native_batch_norm(
            x, gamma, beta, running_mean, running_var, True, momentum, eps
        )
        ctx.save_for_backward(x, gamma, mean, invstd)
        return y

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, gamma, mean, invstd = ctx.saved_tensors
        gx, gg, gb = _Backward.apply(gy, x, gamma, mean, invstd)
        return gx, gg, gb, None, None, None, None


class BatchNorm2dGrad2(nn.BatchNorm2d):
    """nn.BatchNorm2d whose train-mode, affine forward goes through `_Forward` (module doc); any
    other mode is the parent's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # momentum None (a cumulative average of the running statistics) is the parent's too
        if not (self.training and self.affine and self.momentum is not None and x.dim() == 4):
            return super().forward(x)
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        rm = self.running_mean if self.track_running_stats else None
        rv = self.running_var if self.track_running_stats else None
        return _Forward.apply(x, self.weight, self.bias, rm, rv, self.momentum, self.eps)


def short_bn_grad2(net: nn.Module) -> int:
    """Make every plain `nn.BatchNorm2d` of NET a `BatchNorm2dGrad2` in place (same parameters,
    buffers and state dict); how many."""
    n = 0
    for m in net.modules():
        if type(m) is nn.BatchNorm2d and m.affine and m.momentum is not None:
            m.__class__ = BatchNorm2dGrad2
            n += 1
    return n
