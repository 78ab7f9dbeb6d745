"""The public API (`import wsnas`): light to import, every name documented, configs by name with
list or dict overrides, training returns the run dir read back (`RunResult`), the GT registry."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

import wsnas
from wsnas.cli.main import main
from wsnas.config import load_config as config_load
from wsnas.config.shipped import shipped_path

pytest.importorskip("sklearn")

MINI = {
    "space.name": "nb201_mini",
    "data.name": "digits",
    "lowfi.channels": 4,
    "lowfi.cells_per_stage": 1,
    "protocol.batch_size": 64,
    "protocol.epochs": 2,
    "eval.epochs": [1],
    "eval.pool_size": 12,
    "eval.batch_size": 128,
    "runtime.device": "cpu",
    "runtime.threads": 1,
}
"""A run of a few seconds on one thread: 2 epochs, evaluated after both."""


def test_import_wsnas_and_help_import_no_torch():
    code = (
        "import sys, wsnas\n"
        "assert 'torch' not in sys.modules, 'import wsnas imported torch'\n"
        "from wsnas.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'wsnas --help imported torch'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_every_public_name_resolves_and_has_a_docstring():
    names = [n for n in wsnas.__all__ if n != "__version__"]
    assert names == list(wsnas._EXPORTS)  # one list: what is exported is where it is looked up
    assert len(set(names)) == len(names)
    for name in names:
        obj = getattr(wsnas, name)
        doc = obj.__doc__ if not inspect.isclass(obj) else vars(obj).get("__doc__")
        assert doc and doc.strip(), f"wsnas.{name} has no docstring"
        assert not doc.startswith(f"{name}("), f"wsnas.{name}: only the dataclass's generated docstring"
        assert name in dir(wsnas)
    for cls in (wsnas.RunResult, wsnas.Evaluation):  # and every public method and property of the result
        for attr, member in vars(cls).items():
            if attr.startswith("_") or not callable(getattr(member, "__get__", None)):
                continue
            doc = getattr(member, "__doc__", None)
            assert doc and doc.strip(), f"wsnas.{cls.__name__}.{attr} has no docstring"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        wsnas.nope  # noqa: B018


def test_load_config_takes_a_shipped_name_and_list_or_dict_overrides():
    as_list = wsnas.load_config("demo", ["protocol.epochs=3", "eval.epochs=[1,2]", "name=a b"])
    flat = wsnas.load_config("demo", {"protocol.epochs": 3, "eval.epochs": [1, 2], "name": "a b"})
    nested = wsnas.load_config("demo", {"protocol": {"epochs": 3}, "eval": {"epochs": [1, 2]}, "name": "a b"})
    assert as_list == flat == nested
    assert as_list.protocol.epochs == 3 and as_list.eval.epochs == [1, 2] and as_list.name == "a b"
    # the CLI's config of the same name and overrides: the same experiment
    cli = config_load(shipped_path("demo"), ["protocol.epochs=3", "eval.epochs=[1,2]", "name=a b"])
    assert cli.hash() == as_list.hash()
    assert wsnas.load_config(None, {"runtime.progress": False}).runtime.progress is False
    with pytest.raises(wsnas.ConfigError, match="protocol.epoch"):
        wsnas.load_config("demo", {"protocol.epoch": 3})
    with pytest.raises(wsnas.ConfigError, match="known spaces"):
        wsnas.load_config(None, {"space.name": "nb2O1"})  # registry names are checked at load time
    with pytest.raises(TypeError, match="key=value"):
        wsnas.load_config("demo", "protocol.epochs=3")  # type: ignore[arg-type]
    sa = wsnas.load_config(None, {"space.name": "nb201_mini", "arch": "x"}, standalone=True)
    assert isinstance(sa, wsnas.StandaloneConfig)


def test_spaces_benchmarks_and_arch_info_match_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    assert {"nb201", "nb101", "darts_nds", "nb201_mini"} <= set(wsnas.list_spaces())
    space = wsnas.get_space("nb201_mini")
    bench = wsnas.open_benchmark("nb201_mini")
    assert isinstance(bench, wsnas.Benchmark) and bench.size == space.num_archs == 125
    arch = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|"
    info = wsnas.arch_info("nb201_mini", arch)
    assert info["gt_acc"] == bench.query(arch)["acc"] and info["gt_rank"] == bench.rank(arch)
    assert main(["arch", "info", "nb201_mini", arch, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == info
    assert wsnas.arch_info(space, space.parse(arch), bench=bench) == info
    cfg = wsnas.load_config("demo")
    assert wsnas.open_benchmark("nb201_mini", config=cfg).metric == bench.metric


def test_metrics_are_the_core_ones():
    from wsnas.core import metrics

    assert wsnas.sparse_kendall_tau is metrics.sparse_kendall_tau
    assert wsnas.kendall_tau([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert wsnas.sparse_kendall_tau([1, 2, 3], [90.01, 90.02, 95.0]) == pytest.approx(
        wsnas.kendall_tau([1, 2, 3], [900, 900, 950])
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny super-net run through the API (progress off), and what it printed."""
    root = tmp_path_factory.mktemp("api")
    mp = pytest.MonkeyPatch()
    mp.setenv("WSNAS_CACHE", str(root / "cache"))
    cfg = wsnas.load_config(None, {**MINI, "out_dir": str(root / "runs"), "name": "r"})
    assert cfg.runtime.progress is True  # the default; the call turns it off
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        result = wsnas.train(cfg, progress=False)
    yield cfg, result, err.getvalue()
    mp.undo()


def test_train_returns_the_run_as_a_result(trained):
    cfg, run, err = trained
    assert err == ""  # progress=False: no start line, no bars
    assert isinstance(run, wsnas.RunResult)
    assert run.path == Path(cfg.out_dir) / "r" and run.name == "r" and run.kind == "supernet"
    assert run.status == "finished" and run.finished
    assert run.cfg.hash() == cfg.hash() == run.config_hash == run.identity["config"]
    assert run.cfg.runtime.progress is False  # written as it ran; progress is not in the hash
    summary = json.loads((run.path / "summary.json").read_text())
    assert run.summary == summary and run.final == summary["final"]
    assert [e["epoch"] for e in run.epochs] == [1, 2] and "train_loss" in run.epochs[0]
    assert [e.epoch for e in run.evaluations] == [1, 2]
    last = run.evaluations[-1]
    assert last.metrics["skdt"] == run.final["skdt"]
    assert len(last.archs) == 12 and run.archs == last.archs
    row = last.archs[0]
    assert set(row) == {"arch", "canonical", "index", "supernet_acc", "gt_acc", "gt_rank"}
    assert isinstance(row["index"], int) and isinstance(row["supernet_acc"], float)
    # s-KdT recomputed from the per-architecture rows (4 decimals in the CSV) is the logged one
    accs, gt = [a["supernet_acc"] for a in last.archs], [a["gt_acc"] for a in last.archs]
    assert wsnas.sparse_kendall_tau(accs, gt, cfg.eval.sparse_threshold) == pytest.approx(run.final["skdt"])
    assert run.top_archs == summary["top_archs"]["archs"]


def test_open_run_reads_the_same_result_from_disk(trained):
    _, run, _ = trained
    again = wsnas.open_run(run.path)
    assert again == run
    assert again.evaluations == run.evaluations and again.archs == run.archs
    assert wsnas.train(resume=run.path) == run  # finished: returned as it is, nothing trained


def test_result_frames_need_pandas(trained):
    pd = pytest.importorskip("pandas")
    _, run, _ = trained
    df = run.to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df["epoch"]) == [1, 2]
    assert list(df["skdt"]) == [e.metrics["skdt"] for e in run.evaluations]
    archs = run.archs_to_pandas()
    assert len(archs) == 24 and list(archs.columns[:2]) == ["epoch", "arch"]
    assert run.evaluations[0].to_pandas()["supernet_acc"].tolist() == [
        a["supernet_acc"] for a in run.evaluations[0].archs
    ]


def test_a_cut_and_a_running_run_read_back(trained, tmp_path):
    import shutil

    from wsnas.core.dirlock import DirLock

    _, run, _ = trained
    cut = tmp_path / "cut"
    shutil.copytree(run.path, cut)
    (cut / "summary.json").unlink()
    lines = (cut / "log.jsonl").read_text().splitlines()
    (cut / "log.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:10])  # epoch 1 + a torn line
    res = wsnas.open_run(cut)
    assert res.status == "cut" and res.summary is None and not res.finished
    assert [e["epoch"] for e in res.epochs] == [1] and [e.epoch for e in res.evaluations] == [1]
    assert res.final == run.evaluations[0].metrics  # the last evaluation's, until the summary exists
    assert res.config_hash == run.config_hash  # from identity.json
    lock = DirLock(cut)
    lock.acquire()
    try:
        assert wsnas.open_run(cut).status == "running"
    finally:
        lock.release()
    with pytest.raises(wsnas.WsnasError, match="not a run dir"):
        wsnas.open_run(tmp_path)


@pytest.mark.slow  # a few seconds of CPU, but 30 s of wall time on a loaded 2-core machine
def test_train_standalone_returns_a_standalone_result(tmp_path, monkeypatch):
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))
    arch = "|nor_conv_3x3~0|+|skip_connect~0|none~1|"
    over = {"arch": arch, "proxy": {"epochs": 1, "channels": 4}, "runtime.threads": 1}
    cfg = wsnas.load_config(
        "mini-standalone", {**over, "out_dir": str(tmp_path), "name": "sa"}, standalone=True
    )
    run = wsnas.train_standalone(cfg, progress=False)
    assert run.kind == "standalone" and run.status == "finished" and run.path == tmp_path / "sa"
    assert run.final["eval_acc"] == run.evaluations[-1].metrics["eval_acc"] and run.archs == []
    assert run.cfg.arch == arch and run == wsnas.open_run(tmp_path / "sa")
    assert wsnas.train_standalone(resume=run.path) == run


def test_estimate_from_python_equals_the_command(tmp_path, capsys):
    """`wsnas.estimate` is `wsnas estimate`: the same run dir contents and summary metrics."""
    common = {"runtime.progress": False, "runtime.threads": 1, "runtime.device": "cpu"}
    cfg = wsnas.load_config("demo", {**common, "out_dir": str(tmp_path), "name": "py"})
    got = wsnas.estimate(cfg, ["params", "synflow"], archs=12)
    assert got["status"] == "finished" and set(got["estimators"]) == {"params", "synflow"}
    argv = ["estimate", "demo", "--estimators", "params,synflow", "--archs", "12", "--json", "-q"]
    argv += [f"{k}={v}" for k, v in {**common, "out_dir": str(tmp_path), "name": "cli"}.items()]
    assert main(argv) == 0
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    for name in ("params", "synflow"):
        assert got["estimators"][name]["skdt"] == cli["estimators"][name]["skdt"]
    py_rows = (tmp_path / "py" / "scores.csv").read_text().splitlines()
    cli_rows = (tmp_path / "cli" / "scores.csv").read_text().splitlines()
    assert [r.split(",")[:5] for r in py_rows] == [r.split(",")[:5] for r in cli_rows]
