"""The estimator registry refuses what the runner could not score, and names a plugin's package and
version so that they enter an estimate run's identity."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from wsnas.estimators.registry import ESTIMATORS, Estimator, provenance


def _compute(net, x, y, names):
    return {}


def test_unknown_kinds_and_a_second_vote_are_refused():
    with pytest.raises(ValueError, match="kind 'proxy' is not one of"):
        Estimator("mine", "proxy", "what")
    with pytest.raises(ValueError, match="built-in vote's alone"):
        Estimator("my_vote", "vote", "what")
    with pytest.raises(ValueError, match="needs a compute function"):
        Estimator("mine", "zero_cost", "what")


def test_provenance_names_a_plugins_distribution_and_none_for_wsnas():
    def foreign(net, x, y, names):
        return {}

    foreign.__module__ = "pytest"  # as if a package named pytest had registered it
    assert provenance(Estimator("f", "zero_cost", "s", compute=foreign)) == f"pytest=={version('pytest')}"
    assert provenance(ESTIMATORS.get("synflow")) is None
    orphan = Estimator("o", "zero_cost", "s", compute=_compute)
    _compute.__module__ = "no_such_top_level_module_xyz"
    assert provenance(orphan) == "no_such_top_level_module_xyz (no installed distribution)"
