"""The ReLU-Conv-BN block the NB201 and DARTS networks share."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from wsnas.nn.bn import BNFactory, bn_factory


class ReLUConvBN(nn.Module):
    """ReLU -> Conv2d (bias-free, 'same' padding) -> BN made by `bn` (default: `bn_factory()`).

    NB201's `nor_conv_kxk` and residual-block convs; DARTS's 1x1 cell preprocessing.

    `with_bn=False` leaves the BN out: that form is the shared part of a conv under WSBN, where every edge
    that uses it brings its own BN.
    """

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int = 1,
        stride: int = 1,
        bn: BNFactory | None = None,
        with_bn: bool = True,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False)
        self.bn: nn.Module | None = (bn or bn_factory())(C_out) if with_bn else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(F.relu(x))
        return y if self.bn is None else self.bn(y)
