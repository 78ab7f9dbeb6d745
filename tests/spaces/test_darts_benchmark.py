"""DARTS-NDS ground truth: the NDS JSON reader, macro-setting selection, errors, cache and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nds_records import model
from wsnas.cli.main import main
from wsnas.core.errors import BenchmarkError
from wsnas.groundtruth import import_benchmark, open_benchmark
from wsnas.spaces import get_space
from wsnas.spaces.darts.benchmark import macro_key, normalize_metric, read_darts_nds
from wsnas.spaces.darts.genotype import canonical_id, format_genotype, parse_genotype
from wsnas.spaces.darts.space import DartsSpace

DARTS_V2 = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
    "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
    "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


def geno(seed: int) -> dict:
    """A random genotype in the NDS JSON form."""
    return DartsSpace().sample(np.random.default_rng(seed)).to_json()


V2 = parse_genotype(DARTS_V2).to_json()
G1, G2, G3 = geno(1), geno(2), geno(3)


def write(path: Path, data) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


@pytest.fixture
def flist(tmp_path) -> Path:
    """List form, one setting (w16d8): G1 twice (repeats), V2, G2."""
    return write(
        tmp_path / "DARTS_fix-w-d.json",
        [
            model(G1, 10.0, seed=1, params=400_000, flops=60_000_000),
            model(V2, 6.0, seed=2, params=3_300_000),
            model(G1, 12.0, seed=3, params=400_000, flops=60_000_000),
            model(G2, 20.0, seed=4),
        ],
    )


@pytest.fixture
def fmixed(tmp_path) -> Path:
    """top/mid form, two macro settings; G1 is trained at both."""
    return write(
        tmp_path / "DARTS.json",
        {
            "top": [model(G1, 8.0, 32, 20), model(V2, 5.0, 32, 20), model(G1, 11.0, 16, 8)],
            "mid": [model(G2, 15.0, 16, 8), model(G3, 9.0, 32, 20), model(G1, 13.0, 16, 8)],
        },
    )


def test_list_form_repeats_averaged(flist):
    b = read_darts_nds(flist, "test", "all")
    archs = [format_genotype(parse_genotype(g)) for g in (G1, V2, G2)]
    assert b.arch.tolist() == archs and b.index.tolist() == [0, 1, 3]
    assert b.acc.tolist() == pytest.approx([89.0, 94.0, 80.0])
    assert b.params.tolist() == pytest.approx([0.4, 3.3, 0.5]) and b.flops[0] == pytest.approx(60.0)
    assert b.canonical.tolist() == [canonical_id(a) for a in archs]
    m = b.meta
    assert m["layout"] == "list" and m["n_models"] == 4 and m["repeat_counts"] == {"1": 2, "2": 1}
    assert (m["macro"], m["width"], m["depth"]) == ("w16d8", 16, 8) and m["macro_settings"] == {"w16d8": 4}
    assert b.acc_of(DARTS_V2) == pytest.approx(94.0)
    # any spelling of a genotype finds its row (the table re-formats with the space's codec,
    # which `open_benchmark` binds; a table read directly is bound by hand)
    b.bind(get_space("darts_nds"))
    assert b.acc_of(DARTS_V2.replace("[2, 3, 4, 5]", "range(2, 6)")) == pytest.approx(94.0)
    assert b.acc_of(json.dumps(V2)) == pytest.approx(94.0)
    assert b.query(canonical_id(DARTS_V2))["arch"] == DARTS_V2
    # metric train: 100 - final train error
    t = read_darts_nds(flist, "train_ep_top1", "all")
    assert t.acc.tolist() == pytest.approx([95.0, 95.0, 95.0])


def test_extra_genotype_keys_ignored(tmp_path):
    b = read_darts_nds(write(tmp_path / "d.json", [model({**V2, "note": "x"}, 6.0)]), "test", "all")
    assert b.arch.tolist() == [DARTS_V2]


def test_pair_swapped_genotypes_are_rows_sharing_a_canonical_id(tmp_path):
    swapped = json.loads(json.dumps(V2))
    swapped["normal"][0], swapped["normal"][1] = swapped["normal"][1], swapped["normal"][0]
    b = read_darts_nds(write(tmp_path / "d.json", [model(V2, 6.0), model(swapped, 7.0)]), "test", "all")
    assert b.size == 2 and len(b.ids()) == 1 and b.query(canonical_id(DARTS_V2))["count"] == 2


def test_top_mid_form_and_macro_selection(fmixed):
    with pytest.raises(BenchmarkError) as e:
        read_darts_nds(fmixed, "test", "all")
    msg = str(e.value)
    assert "DARTS.json" in msg and format_genotype(parse_genotype(G1)) in msg and "2 settings" in msg
    assert "model top[0]" in msg and "model top[2]" in msg and "w16d8" in msg and "w32d20" in msg
    b = read_darts_nds(fmixed, "test", "w16d8")
    assert b.arch.tolist() == [format_genotype(parse_genotype(g)) for g in (G1, G2)]
    assert b.index.tolist() == [2, 3]  # top before mid, counted across both
    assert b.acc.tolist() == pytest.approx([88.0, 85.0])  # G1's two w16d8 repeats: 100 - (11 + 13) / 2
    assert b.meta["layout"] == "top+mid" and b.meta["macro"] == "w16d8" and b.meta["n_kept"] == 3
    assert b.meta["macro_settings_in_file"] == {"w16d8": 3, "w32d20": 3}
    c = read_darts_nds(fmixed, "test", "w32d20")
    assert c.acc_of(DARTS_V2) == pytest.approx(95.0) and c.size == 3 and c.meta["width"] == 32
    with pytest.raises(BenchmarkError, match=r"no models at width/depth w8d8.*w16d8 \(3\)"):
        read_darts_nds(fmixed, "test", "w8d8")
    with pytest.raises(BenchmarkError, match="'w<width>d<depth>' such as 'w16d8'"):
        read_darts_nds(fmixed, "test", "16x8")


def test_mixed_sizes_with_unique_genotypes(tmp_path):
    """DARTS.json style: each genotype at its own width/depth; 'all' keeps them, per-row sizes in meta."""
    f = write(
        tmp_path / "DARTS.json", [model(G1, 8.0, 32, 20), model(G2, 9.0, 16, 8), model(G3, 7.0, 24, 12)]
    )
    b = read_darts_nds(f, "test", "all")
    assert b.size == 3 and b.meta["macro"] == "mixed"
    assert b.meta["row_width"] == [32, 16, 24] and b.meta["row_depth"] == [20, 8, 12]
    assert macro_key(24, 12) == "w24d12"


def test_training_settings_other_than_macro_split_rows(tmp_path):
    """Same genotype, same size, other lr: not repeats; the error says so."""
    f = write(tmp_path / "DARTS_lr-wd.json", [model(G1, 8.0, lr=0.1), model(G1, 9.0, lr=0.2)])
    with pytest.raises(BenchmarkError, match="lr=0.1.*lr=0.2"):
        read_darts_nds(f, "test", "w16d8")


def test_nonfinite_final_error_skipped(tmp_path):
    f = write(tmp_path / "d.json", [model(G1, float("nan")), model(G2, 10.0)])
    said = r"d.json.*1 of the 2 models .* non-finite final test_ep_top1.*model 0"
    with pytest.warns(UserWarning, match=said):
        b = read_darts_nds(f, "test", "all")
    assert b.size == 1 and b.meta["n_skipped_nonfinite"] == 1 and b.meta["skipped"] == ["model 0"]


def test_bench_import_and_info_count_the_nonfinite_rows(tmp_path, capsys):
    """Dropped rows are said, not only recorded in the cache (issue 28): a warning naming the file
    and `missing` in `bench import` / `bench info`."""
    f = write(tmp_path / "d.json", [model(G1, float("nan")), model(G3, float("inf")), model(G2, 10.0)])
    cache = str(tmp_path / "cache")
    assert main(["bench", "import", "darts_nds", str(f), "--cache-dir", cache, "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["missing"] == 2
    assert err.startswith("wsnas: warning: ") and f"{f}: 2 of the 3 models" in err
    assert main(["bench", "info", "darts_nds", "--cache-dir", cache, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["missing"] == 2
    with pytest.raises(BenchmarkError, match="no model has a finite final test_ep_top1"):
        read_darts_nds(write(tmp_path / "e.json", [model(G1, float("inf"))]), "test", "all")


def _bad(**changes) -> list:
    m = model(G2, 10.0)
    for k, v in changes.items():
        if k.startswith("net_"):
            m["net"][k[4:]] = v
        elif v is None:
            del m[k]
        else:
            m[k] = v
    return [model(G1, 10.0), m]


def _drop_net(key: str) -> list:
    m = model(G2, 10.0)
    del m["net"][key]
    return [model(G1, 10.0), m]


@pytest.mark.parametrize(
    "data, needle",
    [
        ('[{"net": ', "not valid JSON"),
        ("", "not valid JSON"),
        ("[]", "no models (empty list)"),
        ('{"top": [], "mid": []}', "no models (empty top+mid)"),
        ('{"models": []}', "without 'top'/'mid' lists (keys: models)"),
        ('{"top": {}}', "'top' is a dict, not a list"),
        ('"DARTS"', "holds a JSON str"),
        ([model(G1, 10.0), 5], "model 1: expected a JSON object, got int"),
        (_bad(net=None), "model 1: missing key 'net'"),
        (_drop_net("genotype"), "model 1 net: missing key 'genotype'"),
        (_drop_net("width"), "model 1 net: missing key 'width'"),
        (_bad(test_ep_top1=None), "model 1: missing key 'test_ep_top1'"),
        (_bad(params=None), "model 1: missing key 'params'"),
        (_bad(test_ep_top1=[]), "test_ep_top1 must be a non-empty list"),
        (_bad(test_ep_top1=[1.0, "x"]), "final test_ep_top1 'x' is not a number"),
        (_bad(test_ep_top1=[120.0]), "not a top-1 error in [0, 100]"),
        (_bad(net_width="16"), "net.width '16' is not a positive integer"),
        (_bad(net_genotype=[1, 2]), "net.genotype is a list"),
        (_bad(net_genotype={**G2, "normal": G2["normal"][:6]}), "model 1: net.genotype: normal cell has 6"),
        (
            _bad(net_genotype={**G2, "reduce": [["sep_conv_3x3", 0]] * 7 + [["sep_cnv_5x5", 1]]}),
            "model 1: net.genotype: reduce cell pair 7 (node 3) has unknown op 'sep_cnv_5x5'",
        ),
        (_bad(optim=3), "optim is a int"),
    ],
)
def test_errors_name_file_and_model(tmp_path, data, needle):
    f = write(tmp_path / "DARTS_bad.json", data)
    with pytest.raises(BenchmarkError) as e:
        read_darts_nds(f, "test", "all")
    assert str(f) in str(e.value) and needle in str(e.value), str(e.value)


def test_error_names_mid_model(tmp_path):
    bad = model(G2, 10.0)
    del bad["flops"]
    f = write(tmp_path / "d.json", {"top": [model(G1, 10.0)], "mid": [model(G3, 10.0), bad]})
    with pytest.raises(BenchmarkError, match=r"model mid\[1\]: missing key 'flops'"):
        read_darts_nds(f, "test", "all")


def test_source_and_metric_errors(tmp_path):
    with pytest.raises(BenchmarkError, match="is a folder"):
        read_darts_nds(tmp_path, "test", "all")
    with pytest.raises(BenchmarkError, match="no such file"):
        read_darts_nds(tmp_path / "nope.json", "test", "all")
    with pytest.raises(BenchmarkError, match="did you mean 'test'"):
        normalize_metric("tset")
    assert normalize_metric("cifar10/test_ep_top1") == "test" and normalize_metric("Train") == "train"


def test_loader_registered():
    loader = get_space("darts_nds").loader
    assert (loader.default_metric, loader.default_schedule) == ("test", "all")


def test_cache_round_trip(tmp_path, flist):
    cache = tmp_path / "cache"
    bench, path = import_benchmark(get_space("darts_nds"), flist, cache_dir=cache)
    assert path == cache / "darts_nds" / "test__all.npz" and bench.space == "darts_nds"
    again = open_benchmark(get_space("darts_nds"), cache_dir=cache)
    assert again.arch.tolist() == bench.arch.tolist() and again.meta["macro"] == "w16d8"
    assert again.acc_of(DARTS_V2) == pytest.approx(94.0)
    # a changed source is re-imported (with as many genotypes: a smaller one is refused)
    write(flist, [model(G1, 10.0, seed=1), model(V2, 4.0, seed=2), model(G2, 20.0, seed=4)])
    again = open_benchmark(get_space("darts_nds"), source=flist, cache_dir=cache)
    assert again.acc_of(DARTS_V2) == pytest.approx(96.0)


def test_cli_import_and_info(tmp_path, fmixed, capsys):
    cache = str(tmp_path / "cache")
    assert main(["bench", "import", "darts_nds", str(fmixed), "--cache-dir", cache, "--json"]) == 2
    assert "pick one with schedule" in capsys.readouterr().err
    argv = ["bench", "import", "darts_nds", str(fmixed), "--schedule", "w32d20", "--cache-dir", cache]
    assert main([*argv, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["rows"] == 3 and rec["metric"] == "test" and rec["schedule"] == "w32d20"
    assert rec["best_arch"] == DARTS_V2 and rec["best_acc"] == 95.0
    assert rec["cache"].endswith("darts_nds/test__w32d20.npz")
    assert main(["bench", "info", "darts_nds", "--schedule", "w32d20", "--cache-dir", cache, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["size"] == 3 and info["source_status"] == "valid" and info["source"] == str(fmixed.resolve())
    assert main(["bench", "info", "darts_nds", "--cache-dir", cache]) == 2
    assert "wsnas bench import darts_nds SOURCE --metric test --schedule all" in capsys.readouterr().err
    assert main([*argv[:-2], "--metric", "tset", "--cache-dir", cache]) == 2
    assert "did you mean 'test'" in capsys.readouterr().err
