"""OFA super-kernel: the convs of one kernel group share the weight of the largest kernel.

A smaller kernel is the centre crop of the next larger one through a learned
transform of its spatial taps (identity at start); stride, dilation and groups
serve DARTS's depthwise and dilated convs. The exact rule: `docs/factors.md`,
OFA super-kernel.
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

    def weight_for(
        self,
        out_map: ChannelMap | None = None,
        in_map: ChannelMap | None = None,
        kernel_size: int | None = None,
    ) -> torch.Tensor:
        w = super().weight_for(out_map, in_map)
        return w if kernel_size is None else self.kernel(w, kernel_size)

    def forward(
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
