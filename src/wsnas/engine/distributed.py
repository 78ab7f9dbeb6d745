"""Multi-process (DDP-style) training of one super-net, launched by `torchrun`.

Every rank holds the whole super-net, draws the SAME path(s) each step (the sampler
RNG is seeded identically everywhere and advanced identically), builds the same full
global batch from the DeviceLoader (same (seed, epoch) generator) and keeps only its
contiguous 1/world_size slice. After backward the gradients of the sampled paths are
averaged with one flat `all_reduce` per dtype instead of wrapping the model in
DistributedDataParallel: DDP would need `find_unused_parameters=True` (a graph walk
per step) because each step trains a different sub-graph, and for FairNAS (K paths,
K backwards) it would reduce once per path. Since all ranks run the same paths, the
set of parameters that own a gradient is identical on every rank, so the manual
reduce is exact and needs no padding with zeros.

Differences from one device, by design: batch norm normalises with per-shard batch
statistics (as in DDP without SyncBatchNorm; the running stats are averaged over the
ranks at the end of every epoch so all ranks hold the same state), and per-sample
random masks (drop-path) are drawn per shard from identically seeded RNGs.
SyncBatchNorm is deliberately not offered (it would need a config field and changes
the protocol). Only rank 0 writes the run dir and evaluates; the others wait in the
broadcast of its eval record. A non-finite loss is detected per rank at the same sync
points (averaged NaN gradients spread it to every rank within one step); if rank > 0
sees it first, torchrun ends the job without a `diverged` summary.
With WORLD_SIZE unset or 1 everything here is a no-op.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from wsnas.config import AnyConfig
from wsnas.core.errors import ConfigError, WsnasError
from wsnas.engine.rundir import RunDir


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in the job; world_size 1 means no process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes the run dir and evaluates."""
        return self.rank == 0


def env_from_environ() -> DistEnv:
    """The torchrun variables RANK/WORLD_SIZE/LOCAL_RANK (absent: a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return DistEnv()
    rank = int(os.environ["RANK"])
    return DistEnv(rank=rank, world_size=world, local_rank=int(os.environ.get("LOCAL_RANK", rank)))


def init(device: torch.device) -> tuple[DistEnv, torch.device]:
    """Join the process group torchrun set up; returns the env and this rank's device.

    On CUDA each rank takes cuda:LOCAL_RANK and talks nccl; on CPU it talks gloo.
    """
    env = env_from_environ()
    if not env.enabled:
        return env, device
    if device.type == "cuda":
        device = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return env, device


def shutdown(env: DistEnv) -> None:
    if env.enabled and dist.is_initialized():
        dist.destroy_process_group()


class ReadOnlyRunDir(RunDir):
    """The run dir as ranks > 0 see it: they read (resume) but never write."""

    def create(self, cfg: AnyConfig, resume_hint: str | None = None) -> None:
        pass

    def append_log(self, record: dict[str, Any]) -> None:
        pass

    def rewrite_log(self, records: list[dict[str, Any]]) -> None:
        pass

    def write_json(self, path: Any, obj: Any) -> None:
        pass

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        pass


def check_batch(batch_size: int, env: DistEnv) -> None:
    """Equal shards make the mean of the per-rank mean losses the global mean loss."""
    if env.enabled and batch_size % env.world_size:
        raise ConfigError(
            f"key 'protocol.batch_size': {batch_size} does not split evenly over "
            f"{env.world_size} processes; use a multiple of the world size"
        )


def shard(t: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """This rank's contiguous slice of a global batch (the slices partition it)."""
    if not env.enabled:
        return t
    n = t.shape[0] // env.world_size
    return t[env.rank * n : (env.rank + 1) * n]


class ShardedLoader:
    """Wraps a DeviceLoader: same global batches on every rank, each yields its shard."""

    def __init__(self, loader: Any, env: DistEnv) -> None:
        self.loader, self.env = loader, env

    def __len__(self) -> int:
        return len(self.loader)

    def set_epoch(self, epoch: int) -> None:
        self.loader.set_epoch(epoch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.loader:
            yield shard(x, self.env), shard(y, self.env)


def average_gradients(params: Iterable[torch.Tensor], env: DistEnv) -> None:
    """Average the existing .grad over ranks: one flat all_reduce per dtype (exact)."""
    if not env.enabled:
        return
    groups: dict[torch.dtype, list[torch.Tensor]] = {}
    for p in params:
        if p.grad is not None:
            groups.setdefault(p.grad.dtype, []).append(p.grad)
    for grads in groups.values():
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat.div_(env.world_size)
        for g, v in zip(grads, flat.split([g.numel() for g in grads]), strict=True):
            g.copy_(v.view_as(g))


def average_buffers(module: torch.nn.Module, env: DistEnv) -> None:
    """Average float buffers (BN running stats) so every rank holds the same state."""
    if not env.enabled:
        return
    bufs = [b for b in module.buffers() if b.is_floating_point()]
    if bufs:
        flat = torch.cat([b.detach().reshape(-1).float() for b in bufs])
        dist.all_reduce(flat)
        flat.div_(env.world_size)
        for b, v in zip(bufs, flat.split([b.numel() for b in bufs]), strict=True):
            b.copy_(v.view_as(b))


def broadcast_object(obj: Any, env: DistEnv) -> Any:
    """Rank 0's `obj` on every rank (doubles as a barrier)."""
    if not env.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_gather_object(obj: Any, env: DistEnv) -> list[Any]:
    if not env.enabled:
        return [obj]
    out: list[Any] = [None] * env.world_size
    dist.all_gather_object(out, obj)
    return out


def all_mean(values: list[float], env: DistEnv) -> list[float]:
    """Element-wise mean over ranks of a few host scalars (epoch metrics)."""
    if not env.enabled:
        return values
    rows = all_gather_object(values, env)
    return [sum(r[i] for r in rows) / len(rows) for i in range(len(values))]


def state_digest(module: torch.nn.Module, extra: Any = None) -> str:
    """A hash of parameters, buffers and `extra` (e.g. the sampler RNG state)."""
    h = hashlib.blake2b(digest_size=16)
    for t in module.state_dict().values():
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    h.update(repr(extra).encode())
    return h.hexdigest()


def assert_in_sync(module: torch.nn.Module, extra: Any, env: DistEnv) -> None:
    """Fail loudly if any rank's weights or sampler state drifted from rank 0's."""
    if not env.enabled:
        return
    digests = all_gather_object(state_digest(module, extra), env)
    if len(set(digests)) != 1:
        raise WsnasError(f"distributed ranks diverged: state digests {digests}")
