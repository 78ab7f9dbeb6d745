"""The Table 5 sweeps plan the runs the paper's protocol implies: Random-NAS with the default and the
tuned protocol, each Table 5 algorithm the space can host with the tuned protocol and with its
reference's settings, 3 seeds each, one architecture split per space; every planned config passes
the algorithm check."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from wsnas.config import RunConfig
from wsnas.spaces.algorithms import check_algorithm
from wsnas.spaces.check import space_of
from wsnas.sweep import Sweep, load_spec

SEEDS = (0, 1, 2)


def _plan(name: str, tmp_path: Any) -> list[Any]:
    spec, spec_dir = load_spec(name)
    return Sweep(spec, spec_dir, tmp_path / name, [], log=lambda m: None).plan()


def _row(cfg: RunConfig) -> tuple[str, float, int, int, bool, bool]:
    """What tells the rows apart: the method and its super-net protocol."""
    p, m = cfg.protocol, cfg.mapping
    return (cfg.algorithm.name, p.lr, p.epochs, p.batch_size, m.bn_affine, m.bn_track_running_stats)


def _check(runs: list[Any]) -> None:
    for r in runs:
        check_algorithm(space_of(r.cfg), r.cfg)  # raises for a config the space cannot host
    rows = Counter(_row(r.cfg) for r in runs)
    assert set(rows.values()) == {len(SEEDS)}  # every row 3 seeds
    for row in rows:
        assert sorted(r.seed for r in runs if _row(r.cfg) == row) == list(SEEDS)
    assert len({r.cfg.data.valid_size for r in runs}) == 1  # one architecture split per space


def test_table5_nb201_plans_8_rows_x_3_seeds(tmp_path):
    runs = _plan("table5-nb201", tmp_path)
    _check(runs)
    assert len(runs) == 24
    rows = Counter(_row(r.cfg) for r in runs)
    assert rows == {
        ("none", 0.025, 400, 256, True, False): 3,  # Random-NAS, tuned (the base)
        ("none", 0.1, 200, 256, True, True): 3,  # Random-NAS, default (stand-alone) settings
        ("enas", 0.025, 400, 256, True, False): 3,  # the tuned protocol
        ("darts_v2", 0.025, 400, 256, True, False): 3,
        ("gdas", 0.025, 400, 256, True, False): 3,
        ("enas", 0.05, 310, 128, False, True): 3,  # xautodl ENAS.config + ENAS.sh
        ("darts_v2", 0.025, 50, 64, False, True): 3,  # DARTS.config
        ("gdas", 0.025, 240, 64, False, True): 3,  # GDAS.config
    }
    assert {r.cfg.data.valid_size for r in runs} == {25000}
    ref = {r.cfg.algorithm.name: r.cfg.protocol for r in runs if not r.cfg.mapping.bn_affine}
    assert (ref["darts_v2"].lr_min, ref["darts_v2"].weight_decay) == (0.001, 0.0005)
    assert (ref["gdas"].lr_min, ref["gdas"].weight_decay) == (0.001, 0.0005)
    assert (ref["enas"].lr_min, ref["enas"].weight_decay) == (0.0005, 0.00025)
    tuned = [r.cfg for r in runs if r.cfg.protocol.epochs == 400]
    assert {(c.protocol.lr_min, c.protocol.weight_decay, c.protocol.momentum) for c in tuned} == {
        (0.0, 5e-4, 0.9)
    }
    # what an algorithm adds keeps its reference defaults in both of its rows
    for r in runs:
        given = {k: v for k, v in r.cfg.algorithm.model_dump().items() if k not in ("name", "arch_split")}
        assert set(given.values()) == {None}


def test_table5_nb101_plans_8_rows_x_3_seeds(tmp_path):
    """Random-NAS twice; DARTS-V2 (eval-nas's relaxed NB101 cell), ENAS and NAO (eval-nas's node-based
    NB101 grammar) on the tuned protocol and with eval-nas's super-net settings."""
    runs = _plan("table5-nb101", tmp_path)
    _check(runs)
    assert len(runs) == 24
    assert Counter(_row(r.cfg) for r in runs) == {
        ("none", 0.025, 400, 256, True, False): 3,  # Random-NAS, tuned (the base)
        ("none", 0.2, 108, 256, True, True): 3,  # Random-NAS, default (stand-alone) settings
        ("darts_v2", 0.025, 400, 256, True, False): 3,  # the tuned protocol
        ("enas", 0.025, 400, 256, True, False): 3,
        ("nao", 0.025, 400, 256, True, False): 3,
        ("darts_v2", 0.025, 150, 64, True, False): 3,  # eval-nas darts_policy/configs.py, reproduce-darts.sh
        ("enas", 0.05, 150, 160, True, False): 3,  # eval-nas enas_policy/configs.py
        ("nao", 0.025, 200, 64, True, False): 3,  # eval-nas nao_policy/configs.py
    }
    ref = {r.cfg.algorithm.name: r.cfg.protocol for r in runs if r.cfg.protocol.lr_min > 0}
    assert (ref["darts_v2"].lr_min, ref["darts_v2"].weight_decay) == (0.001, 0.0003)
    assert (ref["enas"].lr_min, ref["enas"].weight_decay) == (0.0005, 0.00025)
    assert (ref["nao"].lr_min, ref["nao"].weight_decay) == (0.001, 0.0003)
    for r in runs:  # the controllers keep their defaults in both rows
        given = {k: v for k, v in r.cfg.algorithm.model_dump().items() if k not in ("name", "arch_split")}
        assert set(given.values()) == {None}


def test_table5_darts_nds_plans_6_rows_x_3_seeds(tmp_path):
    """Random-NAS twice; DARTS-V2 (DARTS's search cell) and ENAS (its micro-space grammar) on the tuned
    protocol and with their references' own micro-search settings."""
    runs = _plan("table5-darts_nds", tmp_path)
    _check(runs)
    assert len(runs) == 18
    assert Counter(_row(r.cfg) for r in runs) == {
        ("none", 0.025, 400, 256, False, False): 3,  # Random-NAS, tuned (the base): BN affine off
        ("none", 0.1, 100, 256, True, True): 3,  # Random-NAS, default (stand-alone) settings
        ("darts_v2", 0.025, 400, 256, False, False): 3,  # the tuned protocol
        ("enas", 0.025, 400, 256, False, False): 3,
        ("darts_v2", 0.025, 50, 64, False, True): 3,  # quark0/darts cnn/train_search.py
        ("enas", 0.05, 150, 160, False, False): 3,  # melodyguan/enas cifar10_micro_search.sh
    }
    ref = {r.cfg.algorithm.name: r.cfg.protocol for r in runs if r.cfg.protocol.lr_min > 0}
    assert (ref["darts_v2"].lr_min, ref["darts_v2"].weight_decay) == (0.001, 0.0003)
    assert (ref["enas"].lr_min, ref["enas"].weight_decay) == (0.0005, 0.0001)
    ops_on = {(r.cfg.algorithm.name, r.cfg.mapping.ops_on) for r in runs}
    assert ops_on == {("none", "nodes"), ("enas", "nodes"), ("darts_v2", "edges")}  # a mixed op needs edges


@pytest.mark.parametrize(
    ("name", "algos"),
    [
        ("table5-nb101", {"none", "darts_v2", "enas", "nao"}),
        ("table5-darts_nds", {"none", "darts_v2", "enas"}),
    ],
)
def test_the_table5_specs_hold_every_table5_algorithm_of_their_space(tmp_path, name, algos):
    """The paper's Table 5 rows per space: NB101 ENAS, DARTS-V2, NAO; DARTS-NDS ENAS, DARTS-V2 (each
    next to Random-NAS); every planned config passes the algorithm check (`_check`)."""
    runs = _plan(name, tmp_path)
    _check(runs)
    assert {r.cfg.algorithm.name for r in runs} == algos


def test_mini_table5_plans_10_rows_x_3_seeds(tmp_path):
    runs = _plan("mini-table5", tmp_path)
    _check(runs)
    assert len(runs) == 30
    algos = Counter(r.cfg.algorithm.name for r in runs)
    assert algos == {"none": 6, "enas": 6, "darts_v2": 6, "gdas": 6, "nao": 6}
    assert {r.cfg.space.name for r in runs} == {"nb201_mini"}
    assert {r.cfg.data.valid_size for r in runs} == {400}
    assert {r.cfg.protocol.epochs for r in runs} == {6}  # CPU-sized: one budget for every row
    for algo in ("enas", "darts_v2", "gdas", "nao"):
        mine = [r.cfg for r in runs if r.cfg.algorithm.name == algo]
        assert len({(c.protocol.model_dump_json(), c.mapping.model_dump_json()) for c in mine}) == 2
        # the algorithm's own settings are the same in its tuned and its reference row
        assert len({c.algorithm.model_dump_json() for c in mine}) == 1
    ref = {
        r.cfg.algorithm.name: r.cfg
        for r in runs
        if r.cfg.algorithm.name != "none" and r.cfg.protocol.lr_min > 0
    }
    assert (ref["enas"].protocol.lr, ref["enas"].protocol.batch_size) == (0.05, 128)
    assert not ref["darts_v2"].mapping.bn_affine and ref["darts_v2"].mapping.bn_track_running_stats
    assert (ref["nao"].protocol.weight_decay, ref["nao"].protocol.batch_size) == (0.0003, 128)
