"""Samplers: distributions (chi-square) and the FairNAS coverage property."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy.stats import chisquare

from wsnas.config import SamplerConfig
from wsnas.core.errors import ConfigError
from wsnas.spaces import get_space
from wsnas.spaces.nb201.arch import canonical_id, unique_classes
from wsnas.spaces.samplers import build_sampler


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


def test_random_nas_one_uniform_path(space):
    s = build_sampler(space, SamplerConfig(name="random_nas"))
    rng = np.random.default_rng(0)
    paths = [s.step_paths(rng) for _ in range(3000)]
    assert all(len(p) == 1 for p in paths)
    # joint uniformity over (edge 0 op, edge 5 op): 25 cells
    counts = Counter((p[0][0], p[0][5]) for p in paths)
    assert chisquare([counts[(a, b)] for a in range(5) for b in range(5)]).pvalue > 1e-3


def test_random_a_uniform_over_unique(space):
    s = build_sampler(space, SamplerConfig(name="random_a"))
    rng = np.random.default_rng(0)
    ids = Counter(canonical_id(s.step_paths(rng)[0]) for _ in range(3000))
    # uniform over 6,466 cells: no cell is drawn much more than ~3000/6466 times
    assert max(ids.values()) <= 6
    # while Random-NAS draws the all-dead class about 3000*225/15625 = 43 times
    rn = build_sampler(space, SamplerConfig(name="random_nas"))
    dead = sum(canonical_id(rn.step_paths(rng)[0]) == "#+#+#" for _ in range(3000))
    assert dead > 20
    assert len(unique_classes()[0]) == 6466


def test_fairnas_coverage(space):
    s = build_sampler(space, SamplerConfig(name="fairnas"))
    rng = np.random.default_rng(0)
    firsts = Counter()
    for _ in range(500):
        paths = s.step_paths(rng)
        assert len(paths) == 5
        for edge in range(6):  # every edge sees every op exactly once per step
            assert sorted(p[edge] for p in paths) == [0, 1, 2, 3, 4]
        firsts[paths[0]] += 1
    # the permutations are independent per edge: path 0 is uniform over encodings per edge
    assert chisquare(np.bincount([a[2] for a in firsts.elements()], minlength=5)).pvalue > 1e-3


def test_fairnas_k(space):
    s = build_sampler(space, SamplerConfig(name="fairnas", fairnas_k=2))
    paths = s.step_paths(np.random.default_rng(0))
    assert len(paths) == 2
    for edge in range(6):
        assert paths[0][edge] != paths[1][edge]
    with pytest.raises(ConfigError, match="fairnas_k"):
        build_sampler(space, SamplerConfig(name="fairnas", fairnas_k=6))
