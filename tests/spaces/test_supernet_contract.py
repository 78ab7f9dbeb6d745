"""The super-net contract (spaces.base.SuperNet) and the plan cache every super-net shares."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.spaces import get_space
from wsnas.spaces.base import SuperNet
from wsnas.spaces.plan_cache import PlanCache
from wsnas.trainers.evaluate import same_path_groups

TINY = {
    "nb201": (MappingConfig(), LowFidelityConfig(channels=4, cells_per_stage=1)),
    "nb201_mini": (MappingConfig(), LowFidelityConfig(channels=4, cells_per_stage=1)),
    "nb101": (MappingConfig(ops_on="nodes"), LowFidelityConfig(channels=8, cells_per_stage=1)),
    "darts_nds": (MappingConfig(ops_on="nodes"), LowFidelityConfig(channels=4, cells_per_stage=1)),
}


class Toy(SuperNet, nn.Module):
    """A super-net with the contract's defaults: logits = arch-indexed scale of the input mean."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(3))

    def forward(self, x: torch.Tensor, arch: Any) -> torch.Tensor:
        return x.mean((1, 2, 3))[:, None] * self.w


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_space_supernet_is_a_supernet_module(name: str) -> None:
    space = get_space(name)
    torch.manual_seed(0)  # the weights too: the outcome must not depend on earlier tests
    net = space.supernet(*TINY[name])
    assert isinstance(net, SuperNet) and isinstance(net, nn.Module)
    arch = space.sample(np.random.default_rng(0))
    net.eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(net(x, arch), net.extract_standalone(arch).eval()(x), rtol=1e-4, atol=1e-4)
    hash(net.path_key(arch))
    assert net.path_key(arch) == net.path_key(arch)


def test_defaults_never_merge_different_archs() -> None:
    net = Toy()
    assert net.path_key((1, 2)) == (1, 2)
    a, b = {"normal": 1}, {"normal": 1}  # unhashable: each its own key, even when equal
    assert net.path_key(a) != net.path_key(b)
    assert same_path_groups(net, [(1, 2), (2, 1), (1, 2), a, b]) == [0, 1, 0, 3, 4]
    with pytest.raises(NotImplementedError, match="Toy cannot extract a stand-alone network"):
        net.extract_standalone((1, 2))
    assert net(torch.ones(2, 3, 4, 4), (1, 2)).shape == (2, 3)


def test_forward_is_abstract() -> None:
    class NoForward(SuperNet, nn.Module):
        pass

    with pytest.raises(TypeError, match="abstract"):
        NoForward()


def test_config_and_the_cli_import_without_torch() -> None:
    """The spaces import their networks (torch); the config and `wsnas --help` do not."""
    code = "import sys, wsnas.config, wsnas.cli.main; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", ["nb201", "nb101", "darts_nds"])
def test_plan_cache_is_fresh_in_replicas_and_copies(name: str) -> None:
    space = get_space(name)
    net = space.supernet(*TINY[name])
    assert isinstance(net, PlanCache)
    arch = space.sample(np.random.default_rng(1))
    net.plans(arch)
    assert len(net._plans) > 0
    replica = net._replicate_for_data_parallel()
    assert len(replica._plans) == 0 and replica._plans is not net._plans
    assert len(net._plans) > 0
    net.clear_plans()
    assert len(net._plans) == 0
