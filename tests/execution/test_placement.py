"""GPU placement of sweep runs (wsnas.execution.placement), tested without GPUs.

- which worker slot sees which GPU (CUDA_VISIBLE_DEVICES), as a pure function, and the
  pool size it implies; what the driver itself was given is respected;
- Ray's resource request (`num_gpus`), and a cluster without GPUs refusing it;
- GPU options where there are no GPUs, or that contradict each other, are errors (also
  from the command line, before the sweep writes anything);
- slow: a real spawned pool whose workers each report the slot they were given, and a real
  local Ray with logical GPUs that sets each task's CUDA_VISIBLE_DEVICES itself.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from wsnas.cli.main import main
from wsnas.core.errors import WsnasError
from wsnas.execution import executors as ex_mod
from wsnas.execution.executors import LocalExecutor, make_executor
from wsnas.execution.placement import (
    GpuRequest,
    check_run_device,
    gpu_slots,
    local_workers,
    ray_gpu_options,
    visible_gpu_ids,
)
from wsnas.sweep import Sweep, load_spec

ROOT = Path(__file__).resolve().parents[2]


# ---- pure placement --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("gpus", "k", "visible", "slots"),
    [
        (1, 1, ["0"], ["0"]),
        (1, 4, ["0"], ["0", "0", "0", "0"]),
        (2, 2, ["0", "1"], ["0", "1", "0", "1"]),
        (2, 1, ["0", "1", "2", "3"], ["0", "1"]),  # the first N of those visible
        (2, 3, ["5", "3"], ["5", "3", "5", "3", "5", "3"]),  # the driver's own ids, in its order
    ],
)
def test_each_worker_slot_sees_one_gpu(gpus, k, visible, slots):
    assert gpu_slots(gpus, k, visible) == slots


def test_visible_ids_pass_on_what_the_driver_was_given():
    assert visible_gpu_ids(None, 3) == ["0", "1", "2"]
    assert visible_gpu_ids(None, 0) == []
    assert visible_gpu_ids("3,5", 2) == ["3", "5"]
    assert visible_gpu_ids(" GPU-a1 , GPU-b2 ", 2) == ["GPU-a1", "GPU-b2"]
    assert visible_gpu_ids("", 0) == []  # CUDA_VISIBLE_DEVICES="" hides every GPU


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1, 1, []), "--gpus 1: this machine shows no GPU to wsnas"),
        ((3, 1, ["0", "1"]), r"--gpus 3: this machine shows 2 GPU\(s\) \(0, 1\)"),
        ((0, 1, ["0"]), "--gpus must be >= 1, got 0"),
        ((1, 0, ["0"]), "--runs-per-gpu must be >= 1, got 0"),
    ],
)
def test_impossible_placement_is_an_error(args, message):
    with pytest.raises(WsnasError, match=message):
        gpu_slots(*args)


def test_local_pool_size_follows_the_gpu_slots():
    assert local_workers(None, GpuRequest()) is None
    assert local_workers(3, GpuRequest()) == 3
    assert local_workers(None, GpuRequest(gpus=2)) == 2
    assert local_workers(None, GpuRequest(gpus=2, runs_per_gpu=4)) == 8
    assert local_workers(8, GpuRequest(gpus=2, runs_per_gpu=4)) == 8
    with pytest.raises(WsnasError, match=r"--workers 3 contradicts --gpus 2 --runs-per-gpu 4 \(8 workers"):
        local_workers(3, GpuRequest(gpus=2, runs_per_gpu=4))
    with pytest.raises(WsnasError, match="--runs-per-gpu 4 needs --gpus N"):
        local_workers(None, GpuRequest(runs_per_gpu=4))
    with pytest.raises(WsnasError, match="--gpus-per-run is for --executor ray"):
        local_workers(None, GpuRequest(gpus_per_run=0.25))


def test_ray_resource_request():
    assert ray_gpu_options(0.25, 1.0) == {"num_gpus": 0.25}
    assert ray_gpu_options(2, 8.0) == {"num_gpus": 2.0}
    with pytest.raises(WsnasError, match="the Ray cluster has no GPUs"):
        ray_gpu_options(0.25, 0)
    with pytest.raises(WsnasError, match="a fraction below 1 or a whole number"):
        ray_gpu_options(1.5, 4.0)
    with pytest.raises(WsnasError, match="more than the Ray cluster's 1 GPU"):
        ray_gpu_options(2, 1.0)
    with pytest.raises(WsnasError, match="must be > 0"):
        ray_gpu_options(0.0, 1.0)


def test_a_placed_run_must_follow_its_gpu():
    for device in ("auto", "cuda", "cuda:0"):
        check_run_device(device, "r")
    for device in ("cpu", "cuda:1"):
        with pytest.raises(WsnasError, match=f"run r: runtime.device='{device}' with GPU placement"):
            check_run_device(device, "r")


# ---- executors -------------------------------------------------------------------------------
def test_make_executor_places_on_the_gpus_cuda_shows(monkeypatch):
    monkeypatch.setattr(ex_mod, "cuda_device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    ex = make_executor("local", gpus=GpuRequest(gpus=2, runs_per_gpu=2), threads=1)
    assert isinstance(ex, LocalExecutor) and ex.workers == 4 and ex.gpu_slots == ["0", "1", "0", "1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "6,2")
    ex = make_executor("local", gpus=GpuRequest(gpus=1, runs_per_gpu=3), threads=1)
    assert ex.gpu_slots == ["6", "6", "6"]
    assert make_executor("local", workers=2, threads=1).gpu_slots is None  # no GPU options: as before


def test_gpu_options_without_gpus_are_errors(monkeypatch):
    monkeypatch.setattr(ex_mod, "cuda_device_count", lambda: 0)
    with pytest.raises(WsnasError, match="--gpus 1: this machine shows no GPU"):
        make_executor("local", gpus=GpuRequest(gpus=1))
    with pytest.raises(WsnasError, match="--gpus and --runs-per-gpu are for --executor local"):
        make_executor("ray", gpus=GpuRequest(gpus=1))


def test_a_cpu_run_is_refused_by_a_placed_pool():
    ex = LocalExecutor(threads=1, gpu_slots=["0"])
    task = {"name": "r", "run_dir": "d", "config": {"runtime": {"device": "cpu"}}}
    with pytest.raises(WsnasError, match="runtime.device='cpu' with GPU placement"):
        next(ex.run([task]))
    ex.close()


class _RecordingRay:
    """Enough of Ray to build a RayExecutor: records the task options, has `gpus` GPUs."""

    def __init__(self, gpus: float) -> None:
        self.gpus, self.options_seen, self.shut = gpus, {}, False

    def is_initialized(self) -> bool:
        return True

    def cluster_resources(self) -> dict:
        return {"CPU": 4, **({"GPU": self.gpus} if self.gpus else {})}

    def remote(self, fn):
        return self

    def options(self, **kw):
        self.options_seen = kw
        return self


def test_ray_executor_asks_for_fractional_gpus(monkeypatch):
    fake = _RecordingRay(gpus=1)
    monkeypatch.setattr(ex_mod, "import_ray", lambda: fake)
    ex = make_executor("ray", threads=1, gpus=GpuRequest(gpus_per_run=0.25))
    assert fake.options_seen["num_gpus"] == 0.25 and fake.options_seen["num_cpus"] == 1
    ex.close()
    make_executor("ray", threads=1)
    assert "num_gpus" not in fake.options_seen  # no GPU options: CPU tasks, as before
    monkeypatch.setattr(ex_mod, "import_ray", lambda: _RecordingRay(gpus=0))
    with pytest.raises(WsnasError, match="--gpus-per-run 0.25: the Ray cluster has no GPUs"):
        make_executor("ray", gpus=GpuRequest(gpus_per_run=0.25))


# ---- sweeps and the command line -------------------------------------------------------------
def _spec(tmp_path: Path, executor: dict | None = None) -> Path:
    spec = {
        "base": {
            "space": {"name": "nb201_mini"},
            "data": {"name": "digits"},
            "protocol": {"epochs": 1},
            "eval": {"pool_size": 20},
        },
        "factors": {"protocol.lr": [0.1, 0.05]},
        "seeds": [0],
        "executor": executor or {"name": "local", "workers": 1},
    }
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(spec))
    return f


def test_sweep_pool_size_from_gpu_options(tmp_path):
    spec, spec_dir = load_spec(_spec(tmp_path))
    sw = Sweep(spec, spec_dir, tmp_path / "o", gpus=GpuRequest(gpus=2, runs_per_gpu=3))
    assert sw.workers == 6  # the command line's GPU slots override the spec's workers: 1
    with pytest.raises(WsnasError, match="--workers 2 contradicts"):
        Sweep(spec, spec_dir, tmp_path / "o", workers=2, gpus=GpuRequest(gpus=2, runs_per_gpu=3))
    spec, spec_dir = load_spec(_spec(tmp_path, {"name": "local", "gpus": 1, "runs_per_gpu": 4}))
    sw = Sweep(spec, spec_dir, tmp_path / "o")
    assert sw.workers == 4 and sw.gpus == GpuRequest(gpus=1, runs_per_gpu=4)


def test_cli_gpu_options_without_gpus_write_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ex_mod, "cuda_device_count", lambda: 0)
    f, out = _spec(tmp_path), tmp_path / "o"
    assert main(["sweep", str(f), "--out", str(out), "--gpus", "1", "--runs-per-gpu", "4"]) == 2
    assert "--gpus 1: this machine shows no GPU to wsnas" in capsys.readouterr().err
    assert not out.exists()
    assert main(["sweep", str(f), "--out", str(out), "--gpus-per-run", "0.25"]) == 2
    assert "--gpus-per-run is for --executor ray" in capsys.readouterr().err
    assert main(["sweep", str(f), "--out", str(out), "--gpus", "0"]) == 2
    assert "--gpus must be >= 1, got 0" in capsys.readouterr().err
    assert main(["sweep", str(f), "--out", str(out), "--gpus-per-run", "0"]) == 2
    assert "--gpus-per-run must be > 0" in capsys.readouterr().err
    assert not out.exists()


# ---- real processes --------------------------------------------------------------------------
def _bad_task(i: int) -> dict:
    """Fails at once in the worker (an unknown config key), after recording where it ran."""
    return {"name": f"t{i}", "run_dir": f"/nonexistent/t{i}", "config": {"no_such_key": 1}, "threads": 1}


@pytest.mark.slow
def test_spawned_workers_each_keep_their_slot():
    slots = ["7", "9"]
    with LocalExecutor(threads=1, gpu_slots=slots) as ex:
        results = list(ex.run([_bad_task(i) for i in range(6)]))
    assert len(results) == 6 and all(r["status"] == "failed" for r in results)
    by_pid: dict[int, set[str]] = {}
    for r in results:
        by_pid.setdefault(r["pid"], set()).add(r["cuda_visible_devices"])
    assert all(len(s) == 1 for s in by_pid.values())  # a worker keeps its slot
    seen = [next(iter(s)) for s in by_pid.values()]
    assert set(seen) <= set(slots) and len(seen) == len(set(seen))  # two workers never share a slot


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_ray_schedules_fractional_gpu_tasks_on_logical_gpus():
    """A local Ray told it has one GPU (logical: Ray does not look) gives 0.5-GPU tasks GPU 0."""
    import ray

    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False)
    try:
        ex = make_executor("ray", threads=1, gpus=GpuRequest(gpus_per_run=0.5))
        results = list(ex.run([_bad_task(i) for i in range(3)]))
        ex.close()
    finally:
        ray.shutdown()
    assert len(results) == 3 and all(r["status"] == "failed" for r in results)
    assert {r["cuda_visible_devices"] for r in results} == {"0"}  # set by Ray from the request


def test_bench_build_takes_the_gpu_options_too(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ex_mod, "cuda_device_count", lambda: 0)
    spec = {
        "space": "nb201_mini",
        "overrides": ["data.name=digits", "proxy.epochs=1", "proxy.channels=4"],
        "archs": ["|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|"],
        "seeds": [0],
        "executor": {"name": "local", "workers": 1, "threads": 1},
    }
    f = tmp_path / "build.yaml"
    f.write_text(yaml.safe_dump(spec))
    out = tmp_path / "b"
    assert main(["bench", "build", str(f), "--out", str(out), "--gpus", "1", "--runs-per-gpu", "2"]) == 2
    assert "--gpus 1: this machine shows no GPU to wsnas" in capsys.readouterr().err
    assert not (out / "runs").exists()  # refused before any run started
    assert main(["bench", "build", str(f), "--out", str(out), "--workers", "3", "--gpus", "1"]) == 2
    assert "--workers 3 contradicts --gpus 1" in capsys.readouterr().err
