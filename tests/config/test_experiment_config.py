"""RunConfig and StandaloneConfig share their common fields (`ExperimentConfig`, issue 23) without
changing what they write or hash: to_dict keeps each config's own key order (config.yaml), and the
hashes of the shipped configs are the ones they had before the fields moved."""

from __future__ import annotations

import pytest

from wsnas.config import ExperimentConfig, RunConfig, StandaloneConfig, load_config
from wsnas.config.shipped import shipped_path

COMMON = ["space", "data", "runtime", "logging", "seed", "out_dir", "name"]

SHIPPED_HASHES = {  # (model, hash) of each shipped config, computed before ExperimentConfig existed
    "darts_nds": (RunConfig, "c32ba2c8a520"),
    "darts_nds-quick": (RunConfig, "618ac7c4a6f8"),
    "demo": (RunConfig, "d10b0cb2e08a"),
    "mini-standalone": (StandaloneConfig, "7e185614bc28"),
    "nb101": (RunConfig, "a6e294bc687e"),
    "nb101-quick": (RunConfig, "ab9e3994f643"),
    "nb201": (RunConfig, "91a407e24f9e"),
    "nb201-cifar100": (RunConfig, "65f48ed1975b"),
    "nb201-imagenet16": (RunConfig, "bf115539ffa8"),
    "nb201-quick": (RunConfig, "e270b341bda1"),
}


def test_common_fields_are_declared_once():
    assert list(ExperimentConfig.model_fields) == COMMON
    for model in (RunConfig, StandaloneConfig):
        assert issubclass(model, ExperimentConfig)
        assert all(model.model_fields[k] is not None for k in COMMON)
        assert not any(k in vars(model).get("__annotations__", {}) for k in COMMON)


def test_to_dict_keeps_each_configs_own_order():
    assert list(RunConfig().to_dict()) == [
        "space",
        "bench",
        "data",
        "mapping",
        "lowfi",
        "protocol",
        "sampler",
        "algorithm",
        "eval",
        "landmark",
        "fewshot",
        "runtime",
        "logging",
        "seed",
        "out_dir",
        "name",
    ]
    assert list(StandaloneConfig().to_dict()) == [
        "space",
        "arch",
        "data",
        "proxy",
        "runtime",
        "logging",
        "seed",
        "out_dir",
        "name",
    ]


def test_hashes_are_unchanged():
    assert RunConfig().hash() == "fcdc89f7c0dc"
    assert StandaloneConfig().hash() == "cd01a1a3746c"
    assert StandaloneConfig(arch="x", seed=3).hash() == "e59c42538ed3"


@pytest.mark.parametrize("name", sorted(SHIPPED_HASHES))
def test_shipped_config_hashes_are_unchanged(name):
    model, digest = SHIPPED_HASHES[name]
    assert load_config(shipped_path(name), model=model).hash() == digest
