"""Run config: defaults, YAML + overrides, `_base_` files, and the error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wsnas.cli.main import main
from wsnas.config import ADDED_FIELDS, RunConfig, StandaloneConfig, dump_config, experiment_hash, load_config
from wsnas.core.errors import ConfigError
from wsnas.spaces.check import check_config

CONFIGS = Path(__file__).resolve().parents[2] / "src" / "wsnas" / "configs"


def test_paper_defaults():
    c = RunConfig()
    assert (c.protocol.lr, c.protocol.epochs, c.protocol.batch_size) == (0.025, 400, 256)
    assert c.protocol.momentum == 0.9 and c.protocol.grad_clip == 5.0
    assert c.mapping.bn_track_running_stats is False and c.mapping.bn_affine is True
    assert c.sampler.name == "random_nas" and c.eval.pool_size == 200
    assert c.eval.sparse_threshold == 0.1 and c.eval.top_k == 3
    assert c.bench.metric is None and c.data.eval_split == "test"  # the space's default


def test_yaml_and_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("protocol:\n  lr: 0.1\n  epochs: 10\nsampler:\n  name: fairnas\n")
    c = load_config(f, ["protocol.epochs=20", "mapping.wsbn=true", "eval.epochs=[5,10]"])
    assert c.protocol.lr == 0.1 and c.protocol.epochs == 20
    assert c.sampler.name == "fairnas" and c.mapping.wsbn is True and c.eval.epochs == [5, 10]


def test_base_file(tmp_path):
    (tmp_path / "base.yaml").write_text("protocol:\n  lr: 0.2\n  epochs: 7\n")
    (tmp_path / "child.yaml").write_text("_base_: base.yaml\nprotocol:\n  epochs: 3\n")
    c = load_config(tmp_path / "child.yaml")
    assert (c.protocol.lr, c.protocol.epochs) == (0.2, 3)


def test_base_names_a_shipped_config_unless_a_file_of_that_name_is_next_to_it(tmp_path):
    """Issue 35: `_base_: nb201-quick` read a file of that name and failed without saying `_base_`."""
    (tmp_path / "child.yaml").write_text("_base_: nb201-quick\nprotocol:\n  lr: 0.05\n")
    c = load_config(tmp_path / "child.yaml")
    assert c == load_config("nb201-quick", ["protocol.lr=0.05"])
    (tmp_path / "nb201-quick").write_text("seed: 7\n")  # a file next to it wins
    assert load_config(tmp_path / "child.yaml") == load_config(None, ["seed=7", "protocol.lr=0.05"])
    (tmp_path / "child.yaml").write_text("_base_: nb201-quik\n")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "child.yaml")
    assert "_base_ 'nb201-quik'" in str(e.value) and "did you mean 'nb201-quick'" in str(e.value)


def test_dump_round_trip(tmp_path):
    c = load_config(None, ["protocol.lr=0.05", "seed=3"])
    dump_config(c, tmp_path / "run" / "config.yaml")
    again = load_config(tmp_path / "run" / "config.yaml")
    assert again == c and again.hash() == c.hash()
    assert not list((tmp_path / "run").glob("*.tmp"))


def test_hash_ignores_paths_only():
    a = load_config(None, ["out_dir=/a", "data.root=/x", "bench.source=/g/nb201.csv"])
    b = load_config(None, ["out_dir=/b", "data.root=/y", "bench.source=/h/nb201.csv"])
    assert a.hash() == b.hash()
    assert a.hash() != load_config(None, ["seed=1"]).hash()


def test_a_value_whose_meaning_changed_never_shares_a_hash_with_its_old_meaning(monkeypatch):
    import wsnas.config.identity_policy as config

    shuffle = load_config(None, ["space.name=nb101", "mapping.dynamic_channels=shuffle"]).to_dict()
    fixed = load_config(None, ["space.name=nb101"]).to_dict()
    new_shuffle, new_fixed = config.experiment_hash(shuffle), config.experiment_hash(fixed)
    monkeypatch.setattr(config, "MEANING_VERSIONS", {})  # the hash as it was before the change
    assert config.experiment_hash(shuffle) != new_shuffle  # an old shuffle run is not resumed as new
    assert config.experiment_hash(fixed) == new_fixed  # every other config keeps its hash (and dir name)


def test_added_field_at_its_default_keeps_the_hash_a_config_had_before_it() -> None:
    d = load_config(None, []).to_dict()
    assert d["mapping"]["dropout_path_at"] == ADDED_FIELDS["mapping.dropout_path_at"]
    before = {**d, "mapping": {k: v for k, v in d["mapping"].items() if k != "dropout_path_at"}}
    assert experiment_hash(d) == experiment_hash(before)  # old run dirs keep their names
    cell = load_config(None, ["mapping.dropout_path=0.2", "mapping.dropout_path_at=cell"]).to_dict()
    edges = load_config(None, ["mapping.dropout_path=0.2"]).to_dict()
    assert experiment_hash(cell) != experiment_hash(edges)  # a new value is a new run
    assert experiment_hash(d) != experiment_hash(edges)


@pytest.mark.parametrize(
    ("override", "needles"),
    [
        ("protocol.learning_rat=1", ["unknown key 'protocol.learning_rat'", "lr, lr_min"]),
        ("protocl.lr=1", ["unknown key 'protocl'", "did you mean 'protocol'"]),
        (
            "sampler.name=random",
            ["'sampler.name'", "'random'", "fairnas, random_a, random_nas", "did you mean"],
        ),
        ("mapping.ops_on=node", ["'mapping.ops_on'", "edges, nodes", "did you mean 'nodes'"]),
        ("protocol.lr=-1", ["'protocol.lr'", "-1", "greater than 0"]),
        ("data.train_portion=1.5", ["'data.train_portion'", "1.5", "less than or equal to 1"]),
        ("protocol.epochs=abc", ["'protocol.epochs'", "'abc'", "integer"]),
        ("space.name=nb20", ["'space.name'", "'nb20'", "did you mean 'nb201'"]),
        ("mapping.wsbn", ["expected key.sub=value"]),
    ],
)
def test_errors_name_key_value_and_allowed(override, needles):
    with pytest.raises(ConfigError) as e:
        check_config(load_config(None, [override]))
    for needle in needles:
        assert needle in str(e.value)


def test_an_unknown_key_from_an_override_is_reported_as_the_overrides_not_the_files(tmp_path):
    """Issue 35: `nb201-quick protocol.epoch=3` blamed the shipped file for the override's typo."""
    with pytest.raises(ConfigError) as e:
        load_config("nb201-quick", ["protocol.epoch=3"])
    assert str(e.value).startswith("override 'protocol.epoch=3': unknown key 'protocol.epoch'")
    assert "nb201-quick.yaml" not in str(e.value)
    (tmp_path / "bad.yaml").write_text("protocol:\n  lrr: 3\n")  # one wrong key from each
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "bad.yaml", ["seed=1", "protocol.epoch=3", "eval.epochs=[5,x]"])
    parts = str(e.value).split("; ")
    assert parts[0].startswith(f"{tmp_path / 'bad.yaml'}: unknown key 'protocol.lrr'")
    assert any(p.startswith("override 'protocol.epoch=3': unknown key 'protocol.epoch'") for p in parts)
    assert any(p.startswith("override 'eval.epochs=[5,x]': key 'eval.epochs.1'") for p in parts)


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        (
            ["mapping.wsbn=true"],
            [
                "mapping.wsbn=true has no effect on nb201 with mapping.ops_on=edges",
                "every edge already has its own BN",
                "use mapping.ops_on=nodes",
            ],
        ),
        (["mapping.dynamic_channels=shuffle"], ["mapping.dynamic_channels=shuffle has no effect on nb201"]),
        (
            ["space.name=darts_nds", "mapping.dynamic_channels=interpolate"],
            ["mapping.dynamic_channels=interpolate has no effect on darts_nds"],
        ),
        (
            ["space.name=nb201_mini", "mapping.ops_on=nodes"],
            ["mapping.ops_on=nodes has no effect on nb201_mini"],
        ),
        (["space.name=nb101"], ["mapping.ops_on=edges is not supported by nb101 (use nodes)"]),
        (
            ["space.name=darts_nds", "mapping.wsbn=true", "mapping.ops_on=edges"],
            ["mapping.wsbn=true has no effect on darts_nds with mapping.ops_on=edges"],
        ),
        (["sampler.fairnas_k=2"], ["key 'sampler.fairnas_k'", "sampler.name=fairnas"]),
        (
            ["data.name=imagenet"],
            ["key 'data.name'", "known data sets: cifar10, cifar100, imagenet16_120, digits"],
        ),
    ],
)
def test_factors_a_space_ignores_are_errors(overrides, needles):
    with pytest.raises(ConfigError) as e:
        check_config(load_config(None, overrides), "cfg.yaml")
    assert str(e.value).startswith("cfg.yaml: ")
    for needle in needles:
        assert needle in str(e.value)


def test_supported_factors_pass():
    for overrides in (
        ["mapping.wsbn=true", "mapping.ops_on=nodes"],
        ["space.name=nb101", "mapping.ops_on=nodes", "mapping.dynamic_channels=shuffle", "mapping.wsbn=true"],
        ["space.name=darts_nds", "mapping.super_kernel=true", "mapping.wsbn=true", "mapping.ops_on=nodes"],
        ["sampler.name=fairnas", "sampler.fairnas_k=2"],
    ):
        check_config(load_config(None, overrides))


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("protocol: [1,\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(bad)


def test_shipped_configs_are_valid():
    files = sorted(CONFIGS.glob("*.yaml"))
    assert files, "configs/ holds the per-space protocols"
    for f in files:
        load_config(f)


def test_cli_config_show(capsys):
    assert main(["config", "show", "protocol.lr=0.3"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["protocol"]["lr"] == 0.3
    assert main(["config", "show", "protocol.lr=x"]) == 2
    assert "protocol.lr" in capsys.readouterr().err


def test_shipped_presets_are_valid():
    from importlib import resources

    from wsnas.config import StandaloneConfig
    from wsnas.sweep.build import load_build_spec

    presets = resources.files("wsnas.presets")
    load_config(str(presets / "demo.yaml"))
    load_config(str(presets / "mini-standalone.yaml"), model=StandaloneConfig)
    spec, _ = load_build_spec(str(presets / "mini-build.yaml"))
    assert spec.space == "nb201_mini" and spec.seeds == [0, 1, 2]


def test_cross_field_checks_eval_epochs_and_lr_floor():
    """Issue 27: checks that passed silently: eval epochs beyond the run, from 0, a floor above the lr."""
    with pytest.warns(UserWarning, match=r"eval.epochs 15, 20 beyond protocol.epochs=12: never evaluated"):
        load_config(None, ["protocol.epochs=12", "eval.epochs=[5,15,20]"])
    with pytest.raises(ConfigError, match=r"key 'eval.epochs': got 0; epochs count from 1"):
        load_config(None, ["eval.epochs=[0,3]"])
    with pytest.raises(ConfigError, match=r"key 'protocol.lr_min': got 0.5; above protocol.lr \(0.025\)"):
        load_config(None, ["protocol.lr_min=0.5"])
    with pytest.warns(UserWarning, match=r"proxy.eval_epochs 9 beyond proxy.epochs=4"):
        load_config(None, ["proxy.epochs=4", "proxy.eval_epochs=[2,9]"], model=StandaloneConfig)
    with pytest.raises(ConfigError, match=r"key 'proxy.lr_min'"):
        load_config(None, ["proxy.lr=0.1", "proxy.lr_min=0.2"], model=StandaloneConfig)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_config(None, ["protocol.epochs=12", "eval.epochs=[5,12]"])  # in range: silent


def test_many_unknown_keys_in_a_config_name_a_few_and_the_count(tmp_path):
    """Issue 35: the allowed keys were repeated once per unknown key (megabytes for a generated file)."""
    f = tmp_path / "big.yaml"
    f.write_text("protocol:\n" + "".join(f"  k{i}: {i}\n" for i in range(5000)) + "seed: [1, 2]\n")
    with pytest.raises(ConfigError) as e:
        load_config(f)
    msg = str(e.value)
    assert len(msg) < 700, msg[:700]
    assert "5,000 unknown keys at protocol: 'protocol.k0', 'protocol.k1'" in msg and "and 4,995 more" in msg
    assert msg.count("allowed keys at protocol") == 1 and "key 'seed': got [1, 2]" in msg
