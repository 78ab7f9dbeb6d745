"""A run's identity (wsnas.engine.identity): GT content, numerics and world size.

The trainer, the sweep and the report agree on it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from wsnas.cli.main import main
from wsnas.config import dump_config, load_config
from wsnas.core.errors import WsnasError
from wsnas.engine.identity import (
    IDENTITY_FILE,
    identity_diff,
    make_identity,
    numerics,
    planned_identity,
    read_identity,
)
from wsnas.groundtruth.table import Benchmark
from wsnas.report.analysis import group_settings
from wsnas.report.runs import RunRecord, load_runs
from wsnas.spaces import get_space
from wsnas.sweep import Sweep
from wsnas.sweep.reuse import check_reuse
from wsnas.sweep.spec import SweepSpec
from wsnas.trainers.supernet_trainer import train

TABLE = Path(str(get_space("nb201_mini").loader.default_source))
TINY = [
    "space.name=nb201_mini",
    "data.name=digits",
    "lowfi.channels=4",
    "lowfi.cells_per_stage=1",
    "protocol.epochs=1",
    "protocol.batch_size=64",
    "eval.pool_size=8",
    "eval.num_images=40",
    "eval.batch_size=40",
    "runtime.device=cpu",
    "runtime.threads=1",
    "runtime.progress=false",
]


@pytest.fixture
def other_gt(tmp_path) -> Path:
    """A copy of the shipped mini table with the same metric and other accuracies."""
    b = Benchmark.load(TABLE)
    path = tmp_path / "other.npz"
    Benchmark(b.index, b.arch, b.canonical, b.acc * 0.5, b.params, b.flops, b.meta).save(path)
    return path


def _cfg(tmp_path: Path, *extra: str):
    return load_config(
        None, [*TINY, f"bench.cache_dir={tmp_path / 'cache'}", f"out_dir={tmp_path / 'runs'}", *extra]
    )


def test_numerics_are_the_effective_ones() -> None:
    assert numerics("cpu", True) == numerics("cpu", False) == "fp32"  # amp is a no-op on CPU
    assert numerics("cuda", True) == "bf16" and numerics("cuda:1", False) == "tf32"


def test_two_ground_truths_with_one_metric_give_two_identities(tmp_path, other_gt) -> None:
    a = planned_identity(_cfg(tmp_path, f"bench.source={TABLE}"))
    b = planned_identity(_cfg(tmp_path, f"bench.source={other_gt}"))
    assert a["config"] == b["config"] and a["gt"]["metric"] == b["gt"]["metric"]
    assert a["hash"] != b["hash"]
    assert [d.split(":")[0] for d in identity_diff(a, b)] == ["gt.sha256"]


def test_a_moved_ground_truth_file_keeps_its_identity(tmp_path) -> None:
    moved = tmp_path / "elsewhere" / "mini.npz"
    moved.parent.mkdir()
    shutil.copy(TABLE, moved)
    a = planned_identity(_cfg(tmp_path, f"bench.source={TABLE}"))
    assert planned_identity(_cfg(tmp_path, f"bench.source={moved}")) == a


def test_numerics_and_world_size_are_in_the_identity(tmp_path) -> None:
    cfg = _cfg(tmp_path)
    one = planned_identity(cfg)
    assert identity_diff(one, planned_identity(cfg, world_size=8)) == ["world_size: stored 1, planned 8"]
    gt = one["gt"]
    assert make_identity(cfg.hash(), gt, "bf16", 1)["hash"] != one["hash"]


@pytest.mark.slow
def test_trainer_records_the_planned_identity(tmp_path) -> None:
    cfg = _cfg(tmp_path)
    summary = train(cfg)
    run = Path(summary["run_dir"])
    assert summary["identity"] == planned_identity(cfg) == json.loads((run / IDENTITY_FILE).read_text())
    assert summary["identity"]["numerics"] == "fp32" and summary["identity"]["world_size"] == 1
    final = summary["final"]
    assert 1 <= final["pool_distinct_scores"] <= 8 and 0 <= final["pool_shared_path"] <= 8
    assert "tie-consistent" in final["final_acc_definition"]


def _fake_run(root: Path, cfg, identity: dict | None, final_acc: float = 90.0) -> Path:
    """A finished run dir as the trainer leaves it (IDENTITY None: a legacy one)."""
    run = root / (cfg.name or "run")
    run.mkdir(parents=True)
    dump_config(cfg, run / "config.yaml")
    summary = {"status": "finished", "final": {"final_acc": final_acc}}
    if identity is not None:
        summary["identity"] = identity
        (run / IDENTITY_FILE).write_text(json.dumps(identity))
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def test_report_keeps_runs_of_different_ground_truth_apart(tmp_path, other_gt) -> None:
    root = tmp_path / "runs"
    for seed in (0, 1):
        for tag, src in (("shipped", TABLE), ("other", other_gt)):
            cfg = _cfg(tmp_path, f"seed={seed}", f"name={tag}-{seed}")
            _fake_run(root, cfg, planned_identity(_cfg(tmp_path, f"bench.source={src}")))
    legacy = _fake_run(root, _cfg(tmp_path, "name=legacy-0"), None)
    runs, skipped = load_runs([root])
    assert not skipped and len(runs) == 5
    notes: list[str] = []
    settings = group_settings(runs, notes)[("nb201_mini", "digits")]
    assert sorted(len(s.runs) for s in settings) == [1, 2, 2]
    assert len(notes) == 1 and "different identities" in notes[0] and "legacy" in notes[0]
    by_name = {r.path.name: r for r in runs}
    assert by_name["legacy-0"].legacy and by_name["legacy-0"].experiment["identity"] == "legacy"
    assert by_name["legacy-0"].setting == RunRecord(legacy, _cfg(tmp_path), {}).setting
    assert by_name["shipped-0"].setting == by_name["shipped-1"].setting != by_name["other-0"].setting


def _mini_sweep(tmp_path: Path) -> Sweep:
    spec = SweepSpec(
        base={},
        overrides=TINY[1:] + [f"bench.cache_dir={tmp_path / 'cache'}"],
        factors={"protocol.lr": [0.025, 0.1]},
        seeds=[0],
        mode="grid",
    )
    return Sweep(spec, None, tmp_path / "sweep", overrides=["space.name=nb201_mini"], log=lambda m: None)


def test_sweep_stops_before_reusing_a_run_of_another_identity(tmp_path, other_gt) -> None:
    sweep = _mini_sweep(tmp_path)
    runs = sweep.plan()
    wrong = planned_identity(
        runs[0].cfg.model_copy(
            update={"bench": runs[0].cfg.bench.model_copy(update={"source": str(other_gt)})}
        )
    )
    _fake_run(runs[0].run_dir.parent, runs[0].cfg.model_copy(update={"name": runs[0].name}), wrong)
    _fake_run(
        runs[1].run_dir.parent,
        runs[1].cfg.model_copy(update={"name": runs[1].name}),
        planned_identity(runs[1].cfg),
    )
    with pytest.raises(WsnasError, match=r"(?s)1 run\(s\).*gt\.sha256: stored .*--force") as e:
        sweep.execute(runs)
    assert runs[0].name in str(e.value) and runs[1].name not in str(e.value)
    check_reuse(runs, force=True, log=lambda m: None)
    assert not runs[0].run_dir.exists() and read_identity(runs[1].run_dir) == planned_identity(runs[1].cfg)
    check_reuse(runs)  # nothing left to object to


def test_cli_names_the_fields_and_force_and_reuses_legacy_runs(tmp_path, other_gt, capsys) -> None:
    sweep = _mini_sweep(tmp_path)
    first, second = sweep.plan()
    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps(sweep.spec.model_dump(mode="json")))
    _fake_run(first.run_dir.parent, first.cfg.model_copy(update={"name": first.name}), None)
    _fake_run(second.run_dir.parent, second.cfg.model_copy(update={"name": second.name}), None)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweep"), "space.name=nb201_mini"]) == 0
    assert "2 run(s) without a recorded identity" in capsys.readouterr().out  # nothing trained
    wrong = planned_identity(_cfg(tmp_path, f"bench.source={other_gt}"))
    (second.run_dir / IDENTITY_FILE).write_text(json.dumps({**wrong, "config": second.cfg.hash()}))
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweep"), "space.name=nb201_mini"]) != 0
    err = capsys.readouterr().err
    assert second.name in err and "gt.sha256: stored" in err and "--force" in err and "another --out" in err
