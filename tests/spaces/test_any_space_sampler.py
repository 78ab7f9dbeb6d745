"""A sampler that runs on any space (`Sampler.any_space`, as plugins declare) is accepted by every
space's config check and shown as supported in Table 1's listing."""

from __future__ import annotations

import pytest

from wsnas.config import load_config
from wsnas.spaces import get_space
from wsnas.spaces.check import check_config
from wsnas.spaces.samplers import SAMPLERS, RandomNAS
from wsnas.spaces.table1 import space_support


class Anywhere(RandomNAS):
    """Random-NAS under another name, declared for every space."""

    any_space = True


@pytest.fixture
def anywhere(monkeypatch):
    monkeypatch.setitem(SAMPLERS._items, "anywhere", Anywhere)  # as an entry-point plugin registers it
    return "anywhere"


def test_any_space_sampler_is_accepted_and_listed(anywhere):
    cfg = load_config(None, ["space.name=darts_nds", f"sampler.name={anywhere}"])
    assert check_config(cfg).sampler.name == anywhere
    support = space_support(get_space("darts_nds"), "sampler.name")
    assert support is not None and support.values is None  # every registered sampler runs there
