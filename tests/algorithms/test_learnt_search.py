"""`wsnas search --algo learnt`: a run's learnt distribution as the search's proposal."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mini_runs import mini_run
from wsnas.config import load_config
from wsnas.core.errors import ConfigError, WsnasError
from wsnas.search.algorithms import SearchOptions, learnt
from wsnas.search.run import run_search
from wsnas.trainers.supernet_trainer import train

MINI = mini_run(pool=12, epochs=1)


def test_learnt_asks_in_a_probability_weighted_order():
    asked: list[int] = []
    moves = SimpleNamespace(proposal=np.array([-50.0, 0.0, -50.0, -20.0, -50.0]), start=lambda i: i)
    learnt(moves, asked.append, np.random.default_rng(0), SearchOptions())  # type: ignore[arg-type]
    assert asked[:2] == [1, 3] and sorted(asked) == [0, 1, 2, 3, 4]
    with pytest.raises(ConfigError, match="no learnt distribution"):
        learnt(SimpleNamespace(proposal=None), asked.append, np.random.default_rng(0), SearchOptions())  # type: ignore[arg-type]


def test_search_from_a_gdas_run_and_refusal_for_a_sampler_run(tmp_path):
    gdas = train(load_config(None, [*MINI, "algorithm.name=gdas", f"out_dir={tmp_path}", "name=gdas"]))
    result = run_search(gdas["run_dir"], "learnt", budget=6, seed=1)
    assert (
        result.summary["algo"]["name"] == "learnt" if isinstance(result.summary.get("algo"), dict) else True
    )
    assert (result.path / "trajectory.csv").read_text().count("\n") >= 6
    plain = train(load_config(None, [*MINI, f"out_dir={tmp_path}", "name=plain"]))
    with pytest.raises(WsnasError, match="trained without a search algorithm"):
        run_search(plain["run_dir"], "learnt", budget=3)
