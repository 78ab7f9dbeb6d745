"""NB201's kernel group under the OFA super-kernel: nor_conv_3x3 and nor_conv_1x1 as one op.

With `mapping.super_kernel`, an op set keeps one ReLU -> 3x3 conv -> BN for both
conv ops: the 1x1 kernel is the centre tap of the 3x3 weight through a learned
1x1 transform, identity at start (`nn/superkernel.py`). The group shares its BN,
as the authors' OFA op for NASBench-101 does (one `DynamicBatchNorm2d` after the
kernel-transform conv) and as OFA does; under WSBN the per-edge BNs replace it.
`docs/factors.md`, OFA super-kernel, says which source each choice follows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wsnas.nn.bn import BNFactory
from wsnas.nn.superkernel import SuperKernelConv2d

GROUP = "nor_conv_group"
"""Op-set key of the merged conv ops under `mapping.super_kernel`."""
GROUP_KERNELS = (3, 1)


class KernelGroup(nn.Module):
    """ReLU -> super-kernel conv (3x3, 1x1) -> BN (None: the BN lives per edge, WSBN)."""

    def __init__(self, C: int, bn: BNFactory, with_bn: bool = True) -> None:
        super().__init__()
        self.conv = SuperKernelConv2d(C, C, GROUP_KERNELS)
        self.bn: nn.Module | None = bn(C) if with_bn else None

    def forward(self, x: torch.Tensor, kernel_size: int) -> torch.Tensor:
        y = self.conv(F.relu(x), kernel_size=kernel_size)
        return y if self.bn is None else self.bn(y)


class KernelConv:
    """The group's conv at one kernel size, as a plain callable (a plan step; holds no weights)."""

    __slots__ = ("conv", "kernel_size")

    def __init__(self, conv: SuperKernelConv2d, kernel_size: int) -> None:
        self.conv, self.kernel_size = conv, kernel_size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x, kernel_size=self.kernel_size)

    def weight(self) -> torch.Tensor:
        """The kernel this size runs with (what a stand-alone conv would hold)."""
        return self.conv.weight_for(kernel_size=self.kernel_size)


class KernelPath:
    """One op of the group: `KernelGroup` at a fixed kernel size, as a plain callable."""

    __slots__ = ("group", "kernel_size")

    def __init__(self, group: KernelGroup, kernel_size: int) -> None:
        self.group, self.kernel_size = group, kernel_size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.group(x, self.kernel_size)

    @property
    def conv(self) -> KernelConv:
        return KernelConv(self.group.conv, self.kernel_size)

    @property
    def bn(self) -> nn.Module | None:
        return self.group.bn


__all__ = ["GROUP", "GROUP_KERNELS", "KernelConv", "KernelGroup", "KernelPath"]
