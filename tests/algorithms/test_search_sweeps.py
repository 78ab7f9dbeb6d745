"""The shipped search sweeps plan what their comments say, and every run they plan passes the
config check (an algorithm next to Random-NAS on one protocol)."""

from __future__ import annotations

from collections import Counter

from wsnas.sweep import Sweep, load_spec


def test_mini_search_plans_7_settings_x_3_seeds(tmp_path):
    spec, spec_dir = load_spec("mini-search")
    runs = Sweep(spec, spec_dir, tmp_path / "s", [], log=lambda m: None).plan()
    assert len(runs) == 21
    algos = Counter(r.cfg.algorithm.name for r in runs)
    assert algos == {"none": 6, "darts_v1": 3, "darts_v2": 3, "gdas": 3, "setn": 3, "drnas": 3}
    assert {r.cfg.data.valid_size for r in runs} == {400}  # the same weight-training images for every row
    assert sorted({r.cfg.sampler.name for r in runs if r.cfg.algorithm.name == "none"}) == [
        "fairnas",
        "random_nas",
    ]
