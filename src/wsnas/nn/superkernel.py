"""OFA super-kernel: the convs of one kernel group share the weight of the largest kernel.

As in Once-for-All's elastic kernel: the group keeps one K x K weight; a smaller
kernel k is the centre k x k crop of the next larger kernel in the group, passed
through a learned kernel-transform matrix of size (k*k) x (k*k) that acts on the
flattened spatial taps and is shared by all (out, in) channel pairs
(w_k[o, i, :] = M_k @ crop(w)[o, i, :]). The matrices start as the identity, so
at initialisation a smaller kernel is exactly the centre crop. Sizes chain
downwards (7 -> 5 -> 3 -> 1 uses the 5x5 result to make the 3x3 one). For
NB101's {3, 1} group the 1x1 kernel is the centre tap times one learned scalar.
Channel maps (`wsnas.nn.dynamic`) commute with the transform; they are applied first.

Stride, dilation and groups (keyword-only) serve DARTS's depthwise-separable and
dilated convs: the transform acts on the spatial taps only, so it is the same
for a depthwise (groups = channels) weight, and 'same' padding is
dilation * (k // 2) for the kernel size that runs. Channel maps are meant for
groups=1 convs (a depthwise conv would need its groups cut with its channels).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from wsnas.nn.dynamic import ChannelMap, DynamicConv2d


def transform_key(k_from: int, k_to: int) -> str:
    return f"{k_from}to{k_to}"


class SuperKernelConv2d(DynamicConv2d):
    """A dynamic-channel conv whose weight serves every kernel size in `kernel_sizes`."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_sizes: Sequence[int] = (3, 1),
        bias: bool = False,
        *,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
    ) -> None:
        sizes = sorted({int(k) for k in kernel_sizes}, reverse=True)
        if not sizes or any(k < 1 or k % 2 == 0 for k in sizes):
            raise ValueError(f"kernel sizes must be odd and positive, got {list(kernel_sizes)}")
        # DynamicConv2d's constructor takes no dilation/groups and adds no state: build the Conv2d directly.
        padding = dilation * (sizes[0] // 2)
        nn.Conv2d.__init__(self, in_channels, out_channels, sizes[0], stride, padding, dilation, groups, bias)
        self.kernel_sizes = tuple(sizes)
        self.transforms = nn.ParameterDict(
            {
                transform_key(a, b): nn.Parameter(torch.eye(b * b))
                for a, b in zip(sizes, sizes[1:], strict=False)
            }
        )

    def kernel(self, w: torch.Tensor, kernel_size: int) -> torch.Tensor:
        """`w` (a K x K weight, channels already mapped) turned into the kernel_size kernel."""
        if kernel_size not in self.kernel_sizes:
            raise ValueError(f"kernel size {kernel_size} not in the group {list(self.kernel_sizes)}")
        for a, b in zip(self.kernel_sizes, self.kernel_sizes[1:], strict=False):
            if a == kernel_size:
                break
            start = (a - b) // 2
            crop = w[:, :, start : start + b, start : start + b]
            m = self.transforms[transform_key(a, b)]
            w = F.linear(crop.reshape(w.shape[0], w.shape[1], b * b), m).reshape(w.shape[0], w.shape[1], b, b)
        return w

    def weight_for(  # type: ignore[override]
        self,
        out_map: ChannelMap | None = None,
        in_map: ChannelMap | None = None,
        kernel_size: int | None = None,
    ) -> torch.Tensor:
        w = super().weight_for(out_map, in_map)
        return w if kernel_size is None else self.kernel(w, kernel_size)

    def forward(  # type: ignore[override]
        self,
        x: torch.Tensor,
        out_map: ChannelMap | None = None,
        in_map: ChannelMap | None = None,
        kernel_size: int | None = None,
    ) -> torch.Tensor:
        k = self.kernel_sizes[0] if kernel_size is None else kernel_size
        w = self.weight_for(out_map, in_map, k)
        d = self.dilation[0]
        return F.conv2d(x, w, self.bias_for(out_map), self.stride, d * (k // 2), d, self.groups)


__all__ = ["SuperKernelConv2d", "transform_key"]
