"""Which GPU each sweep run trains on, so K runs can share one GPU.

One super-net at the paper's size leaves most of a large GPU idle, so a study packs
several runs per device. Two mechanisms, one per executor:

- local: `--gpus N --runs-per-gpu K` starts N x K worker processes; worker slot i sees
  only GPU i mod N (CUDA_VISIBLE_DEVICES, set before CUDA starts in that process), so
  a run's `runtime.device: auto` (or `cuda`) lands on its slot's GPU;
- ray: `--gpus-per-run F` asks Ray for F GPUs per task (`num_gpus`; F < 1 packs 1/F runs
  per GPU) and Ray sets CUDA_VISIBLE_DEVICES for each task itself.

Asking for GPUs where there are none is an error, never a silent CPU sweep. The
functions here are pure (they take the GPU count and the environment as arguments),
so the placement is tested on machines without GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

from wsnas.core.errors import WsnasError

VISIBLE_VAR = "CUDA_VISIBLE_DEVICES"
GPU_DEVICES = ("auto", "cuda", "cuda:0")
"""Run devices that follow the GPU a worker sees (each worker sees exactly one, as cuda:0)."""


@dataclass(frozen=True)
class GpuRequest:
    """The GPU options of a sweep or build (command line over spec), before any check."""

    gpus: int | None = None
    """local: GPUs to use (the first N this process sees)."""
    runs_per_gpu: int | None = None
    """local: worker processes per GPU (default 1)."""
    gpus_per_run: float | None = None
    """ray: GPUs each run asks Ray for (0.25: four runs per GPU)."""

    @property
    def any(self) -> bool:
        return self.gpus is not None or self.runs_per_gpu is not None or self.gpus_per_run is not None


def visible_gpu_ids(visible: str | None, device_count: int) -> list[str]:
    """The GPU ids this process may hand to its workers.

    `visible` is this process's CUDA_VISIBLE_DEVICES (None: unset, every GPU) and
    `device_count` what CUDA reports (torch.cuda.device_count()). With the variable set,
    its own entries (indices or UUIDs) are passed on, so a worker sees a subset of what
    the driver was given and never a GPU the driver was not.
    """
    if visible is None:
        return [str(i) for i in range(device_count)]
    ids = [s.strip() for s in visible.split(",") if s.strip()]
    return ids[:device_count]


def gpu_slots(gpus: int, runs_per_gpu: int, visible: list[str]) -> list[str]:
    """CUDA_VISIBLE_DEVICES of each local worker slot: slot i sees visible[i mod gpus].

    Interleaved (0, 1, 0, 1 for 2 GPUs x 2), so the first runs spread over the GPUs.
    """
    if gpus < 1:
        raise WsnasError(f"--gpus must be >= 1, got {gpus}")
    if runs_per_gpu < 1:
        raise WsnasError(f"--runs-per-gpu must be >= 1, got {runs_per_gpu}")
    if gpus > len(visible):
        seen = f"{len(visible)} GPU(s) ({', '.join(visible)})" if visible else "no GPU"
        raise WsnasError(
            f"--gpus {gpus}: this machine shows {seen} to wsnas "
            f"(torch.cuda.device_count(), {VISIBLE_VAR}); run without --gpus to train on the CPU"
        )
    return [visible[i % gpus] for i in range(gpus * runs_per_gpu)]


def local_workers(workers: int | None, req: GpuRequest) -> int | None:
    """The local pool's size: --workers, or GPUs x runs per GPU (the two must agree)."""
    if req.gpus_per_run is not None:
        raise WsnasError(
            "--gpus-per-run is for --executor ray; the local executor takes --gpus N --runs-per-gpu K"
        )
    if req.runs_per_gpu is not None and req.gpus is None:
        raise WsnasError(f"--runs-per-gpu {req.runs_per_gpu} needs --gpus N (how many GPUs to fill)")
    if req.gpus is None:
        return workers
    slots = req.gpus * (req.runs_per_gpu or 1)
    if workers is not None and workers != slots:
        raise WsnasError(
            f"--workers {workers} contradicts --gpus {req.gpus} --runs-per-gpu "
            f"{req.runs_per_gpu or 1} ({slots} workers, one per GPU slot); "
            "give one or the other"
        )
    return slots


def ray_gpu_options(gpus_per_run: float, cluster_gpus: float) -> dict[str, float]:
    """Ray's resource request for one run: `num_gpus`, checked against what Ray can give.

    Ray takes a fraction below 1 or a whole number of GPUs per task.
    """
    if not gpus_per_run > 0:
        raise WsnasError(f"--gpus-per-run must be > 0, got {gpus_per_run}")
    if gpus_per_run > 1 and gpus_per_run != int(gpus_per_run):
        raise WsnasError(
            f"--gpus-per-run {gpus_per_run}: Ray gives a task a fraction below 1 or a whole number of GPUs"
        )
    if cluster_gpus <= 0:
        raise WsnasError(
            f"--gpus-per-run {gpus_per_run}: the Ray cluster has no GPUs "
            "(ray.cluster_resources() lists none); run without --gpus-per-run to train on CPUs"
        )
    if gpus_per_run > cluster_gpus:
        raise WsnasError(
            f"--gpus-per-run {gpus_per_run}: more than the Ray cluster's {cluster_gpus:g} "
            "GPU(s); no run could ever be scheduled"
        )
    return {"num_gpus": float(gpus_per_run)}


def check_run_device(device: str, name: str) -> None:
    """A run placed on a GPU must follow its worker's GPU; `cpu` or `cuda:1` would not."""
    if device not in GPU_DEVICES:
        raise WsnasError(
            f"run {name}: runtime.device={device!r} with GPU placement (--gpus / --gpus-per-run): "
            f"each run sees only its own GPU, as cuda:0; use runtime.device=auto (or drop the GPU options)"
        )
