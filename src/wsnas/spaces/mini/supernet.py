"""The nb201_mini super-net: NB201's, run on the embedded cell."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import torch
from torch import nn

from wsnas.spaces.base import SuperNet
from wsnas.spaces.mini.cell import TAIL, embed
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

    def forward_mixed(
        self, x: torch.Tensor, weights: Sequence[torch.Tensor | None], active: Sequence[Sequence[int]]
    ) -> torch.Tensor:
        """NB201's mixed forward on the embedded cell: the three mini edges mixed, the embedding's
        fixed edges (none, none, skip into node 3) run as they are."""
        fixed = [(op,) for op in TAIL]
        return self.inner.forward_mixed(x, [*weights, None, None, None], [*active, *fixed])
