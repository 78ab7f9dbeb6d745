"""`wsnas bench build`: stand-alone runs -> a ground-truth table every command can use."""

import csv
import json

import numpy as np
import pytest
import yaml

from cpu_goldens import count_of
from wsnas.cli.main import main
from wsnas.core.errors import BenchmarkError, ConfigError
from wsnas.groundtruth import open_benchmark
from wsnas.groundtruth.table import Benchmark
from wsnas.spaces import get_space
from wsnas.sweep.build import Build, load_build_spec

pytest.importorskip("sklearn")

ARCHS = [
    "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|",
    "|none~0|+|none~0|skip_connect~1|",
    "|avg_pool_3x3~0|+|skip_connect~0|skip_connect~1|",
]


def _spec(tmp_path, archs=ARCHS, **extra):
    spec = {
        "space": "nb201_mini",
        "overrides": ["data.name=digits", "proxy.epochs=1", "proxy.channels=4", "runtime.progress=false"],
        "archs": archs,
        "seeds": [0, 1],
        "executor": {"name": "local", "workers": 1, "threads": 1},
        **extra,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_build_writes_table_results_and_cache(tmp_path, capsys, cpu_golden):
    spec = _spec(tmp_path)
    cache = tmp_path / "cache"
    assert (
        main(["bench", "build", str(spec), "--out", str(tmp_path / "b"), "--cache-dir", str(cache), "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == 3 and out["metric"] == "standalone/digits-test" and out["schedule"] == "1"
    table = Benchmark.load(tmp_path / "b" / "table.npz")
    with (tmp_path / "b" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6
    for i, arch in enumerate(ARCHS):
        accs = [float(r["eval_acc"]) for r in rows if r["arch"] == arch]
        assert table.acc_of(arch) == pytest.approx(np.mean(accs), abs=1e-4)
        assert table.index[i] == i
    # golden: seeded CPU run, threads=1 (per-seed test accuracy, as written)
    cpu_golden.expect("eval_acc", [r["eval_acc"] for r in rows])
    # the zero cell cannot learn: it always predicts one class, on any CPU
    assert table.acc_of(ARCHS[1]) == pytest.approx(100 * 54 / 599, abs=1e-9)
    meta = table.meta
    assert meta["seeds"] == [0, 1] and meta["built"] and meta["config"]["proxy"]["epochs"] == 1
    assert meta["command"].startswith("wsnas bench build") and meta["wall_seconds"] > 0
    # the cache answers like an imported official table
    bench = open_benchmark(
        get_space("nb201_mini"), metric="standalone/digits-test", schedule="1", cache_dir=cache
    )
    assert bench.size == 3 and bench.source == str((tmp_path / "b" / "table.npz").resolve())
    assert bench.rank(ARCHS[1]) == 2
    cpu_golden.verify()


@pytest.mark.slow  # two builds
def test_killed_build_resumes_only_missing_runs(tmp_path, capsys):
    spec, d = load_build_spec(_spec(tmp_path, archs=ARCHS[:2]))
    logs = []
    build = Build(spec, d, tmp_path / "b", cache_dir=str(tmp_path / "c"), log=logs.append)
    first = build.run()
    (tmp_path / "b" / "runs" / "00001-s1" / "summary.json").unlink()  # as if killed in its last epoch
    logs.clear()
    again = Build(spec, d, tmp_path / "b", cache_dir=str(tmp_path / "c"), log=logs.append).run()
    assert "3 done, 1 to run" in logs[0] and len(logs) == 2
    assert np.array_equal(first.bench.acc, again.bench.acc)


def test_build_table_drives_super_net_training(tmp_path, cpu_golden):
    spec, d = load_build_spec(_spec(tmp_path))
    res = Build(spec, d, tmp_path / "b", cache_dir=str(tmp_path / "c"), log=lambda m: None).run()
    from wsnas.config import load_config
    from wsnas.trainers.supernet_trainer import train

    cfg = load_config(
        None,
        [
            "space.name=nb201_mini",
            "data.name=digits",
            f"bench.source={res.table}",
            "bench.schedule=1",
            f"bench.cache_dir={tmp_path / 'c2'}",
            "lowfi.channels=4",
            "lowfi.cells_per_stage=1",
            "protocol.epochs=1",
            "protocol.batch_size=64",
            "eval.top_k=1",
            "runtime.threads=1",
            "runtime.progress=false",
            f"out_dir={tmp_path / 'runs'}",
        ],
    )
    summary = train(cfg)
    assert summary["status"] == "finished" and summary["final"]["pool_size"] == 3
    final = summary["final"]
    # golden: seeded CPU run, threads=1 (pool images right of the 3 x 599, final_acc, P>R's rank, rank
    # correlations over the 3 cells)
    cpu_golden.expect("pool_correct", count_of(final["supernet_acc_mean"], 3 * 599))
    cpu_golden.expect("final_acc_pbr_rank", [final["final_acc"], final["pbr_rank"]])
    cpu_golden.expect("kdt_skdt_spearman", [final["kdt"], final["skdt"], final["spearman"]])
    cpu_golden.verify()


def test_import_of_a_built_table_checks_what_it_holds(tmp_path, capsys):
    spec, d = load_build_spec(_spec(tmp_path, archs=ARCHS[:1]))
    res = Build(spec, d, tmp_path / "b", cache_dir=str(tmp_path / "c"), log=lambda m: None).run()
    assert main(["bench", "import", "nb201_mini", str(res.table), "--cache-dir", str(tmp_path / "c3")]) == 0
    assert "standalone/digits-test" in capsys.readouterr().out
    assert main(["bench", "import", "nb201", str(res.table), "--cache-dir", str(tmp_path / "c3")]) == 2
    assert "holds space 'nb201_mini'" in capsys.readouterr().err
    with pytest.raises(BenchmarkError, match="schedule '1'"):
        open_benchmark(get_space("nb201_mini"), source=res.table, schedule="40", cache_dir=tmp_path / "c4")


def test_bad_specs_are_explained(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'seed'"):
        load_build_spec(_spec(tmp_path, seed=[0]))
    spec, d = load_build_spec(_spec(tmp_path, archs=[ARCHS[0], ARCHS[0]]))
    with pytest.raises(ConfigError, match="twice"):
        Build(spec, d, tmp_path / "b")
    spec, d = load_build_spec(_spec(tmp_path, archs="all", space="nb101"))
    with pytest.raises(ConfigError, match="list the archs to train, or draw some"):
        Build(spec, d, tmp_path / "b")
    (tmp_path / "archs.txt").write_text("# two cells\n|none~0|+|none~0|none~1|\n\n|x~0|\n")
    spec, d = load_build_spec(_spec(tmp_path, archs_file="archs.txt"))
    with pytest.raises(ConfigError, match="archs.txt line 4: .*expected 2 nodes"):
        Build(spec, d, tmp_path / "b")


def test_arch_file_and_sampled_subsets(tmp_path):
    (tmp_path / "archs.txt").write_text("# two cells\n|none~0|+|none~0|none~1|\n\n" + ARCHS[0] + "\n")
    spec, d = load_build_spec(_spec(tmp_path, archs_file="archs.txt"))
    assert Build(spec, d, tmp_path / "b").archs == ["|none~0|+|none~0|none~1|", ARCHS[0]]
    spec, d = load_build_spec(_spec(tmp_path, archs="unique", sample=10, sample_seed=3))
    picked = Build(spec, d, tmp_path / "b").archs
    assert len(picked) == 10 == len({get_space("nb201_mini").canonical(a) for a in picked})
    assert picked == Build(spec, d, tmp_path / "b").archs  # seeded
    # a space that does not enumerate its cells: Random-A draws, distinct unique cells
    spec, d = load_build_spec(_spec(tmp_path, space="darts_nds", archs="all", sample=5))
    darts = Build(spec, d, tmp_path / "b").archs
    assert len(darts) == 5 and len({get_space("darts_nds").canonical(a) for a in darts}) == 5


def test_unique_mode_trains_one_encoding_per_cell(tmp_path):
    spec, d = load_build_spec(_spec(tmp_path, archs="unique"))
    build = Build(spec, d, tmp_path / "b")
    assert len(build.archs) == 60 and len(build.tasks()) == 120


@pytest.mark.slow  # starts Ray
def test_build_on_ray(tmp_path, capsys):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'wsnas[ray]'")
    spec = _spec(tmp_path, archs=ARCHS[:1])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        args = [
            "bench",
            "build",
            str(spec),
            "--out",
            str(tmp_path / "b"),
            "--executor",
            "ray",
            "--cache-dir",
            str(tmp_path / "c"),
            "--json",
        ]
        assert main(args) == 0
    finally:
        ray.shutdown()
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == 1 and out["seeds"] == [0, 1]
    assert all((tmp_path / "b" / "runs" / f"00000-s{s}" / "summary.json").is_file() for s in (0, 1))
