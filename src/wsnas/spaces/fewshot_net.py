"""The few-shot super-net: K sub-super-nets behind one `SuperNet` (see `wsnas.spaces.fewshot`)."""

from __future__ import annotations

import copy
from collections.abc import Hashable
from typing import Any

from torch import nn

from wsnas.spaces.base import SuperNet
from wsnas.spaces.fewshot import Owners


class FewShotSuperNet(SuperNet, nn.Module):
    """K copies of a trained one-shot super-net; each architecture runs on the copy that owns it."""

    def __init__(self, oneshot: nn.Module, owners: Owners) -> None:
        super().__init__()
        self.owners = owners
        self.subnets = nn.ModuleList(copy.deepcopy(oneshot) for _ in range(len(owners)))

    def forward(self, x: Any, arch: Any) -> Any:
        return self.subnets[self.owners.owner(arch)](x, arch)

    def path_key(self, arch: Any) -> Hashable:
        k = self.owners.owner(arch)
        sub = self.subnets[k]
        return (k, sub.path_key(arch) if isinstance(sub, SuperNet) else arch)

    def sub_params(self, k: int) -> list[nn.Parameter]:
        return [p for p in self.subnets[k].parameters() if p.requires_grad]
