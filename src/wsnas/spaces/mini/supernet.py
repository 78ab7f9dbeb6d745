"""The nb201_mini super-net: NB201's, run on the embedded cell."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import torch
from torch import nn

from wsnas.spaces.base import SuperNet
from wsnas.spaces.mini.cell import embed
from wsnas.spaces.nb201.supernet import NB201SuperNet


class MiniSuperNet(SuperNet, nn.Module):
    """NB201's super-net run on embedded mini cells; `forward(x, arch)` takes mini encodings."""

    def __init__(self, inner: NB201SuperNet) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor, arch: Any) -> torch.Tensor:
        return self.inner(x, embed(arch))

    def path_key(self, arch: Any) -> Hashable:
        return self.inner.path_key(embed(arch))

    def extract_standalone(self, arch: Any) -> nn.Module:
        return self.inner.extract_standalone(embed(arch))
