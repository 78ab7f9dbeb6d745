"""The run directory of a super-net or stand-alone run: everything it writes, each file atomic.

config.yaml      resolved config (what reproduces the run)
log.jsonl        one JSON line per epoch and per evaluation
evals/epoch_NNNN.csv   per-architecture super-net and GT accuracy
checkpoint.pt    last finished epoch: model, optimizer, scheduler, RNGs, history
summary.json     final metrics and status (finished | diverged)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from wsnas.atomic import atomic_write, write_text_atomic
from wsnas.config import AnyConfig, RunConfig, dump_config, load_config
from wsnas.errors import WsnasError
from wsnas.spaces.check import check_config


class RunDir:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    config = property(lambda self: self.path / "config.yaml")
    log = property(lambda self: self.path / "log.jsonl")
    checkpoint = property(lambda self: self.path / "checkpoint.pt")
    summary = property(lambda self: self.path / "summary.json")
    evals = property(lambda self: self.path / "evals")

    @classmethod
    def for_config(cls, cfg: RunConfig) -> RunDir:
        name = cfg.name or f"{cfg.space.name}-{cfg.sampler.name}-s{cfg.seed}-{cfg.hash()}"
        return cls(Path(cfg.out_dir) / name)

    def create(self, cfg: AnyConfig, resume_hint: str | None = None) -> None:
        """Start a new run; refuse to clobber one that has started."""
        if self.checkpoint.exists() or self.summary.exists():
            hint = resume_hint or f"wsnas train --resume {self.path}"
            raise WsnasError(
                f"run dir {self.path} already holds a run; resume it with "
                f"`{hint}` or choose another name/out_dir"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, self.config)
        self.log.unlink(missing_ok=True)

    def load_config(self, model: type[Any] = RunConfig) -> Any:
        """The run's resolved config as MODEL (RunConfig, or StandaloneConfig)."""
        if not self.config.exists():
            raise WsnasError(f"{self.path} is not a run dir: no config.yaml")
        return load_config(self.config, model=model)

    def resume_config(self, overrides: list[str], model: type[Any] = RunConfig) -> Any:
        """The run's config with OVERRIDES, refused if they would change its experiment (hash)."""
        saved = self.load_config(model)
        cfg = check_config(load_config(self.config, overrides, model=model), str(self.config))
        if cfg.hash() != saved.hash():
            raise WsnasError(
                f"overrides {overrides} change the experiment of {self.path}; on resume only "
                "runtime.*, logging.*, data.root, out_dir (and bench.source/cache_dir) may change"
            )
        return cfg

    def append_log(self, record: dict[str, Any]) -> None:
        with self.log.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def rewrite_log(self, records: list[dict[str, Any]]) -> None:
        """Make log.jsonl match the checkpoint's history exactly (used on resume)."""
        write_text_atomic(self.log, "".join(json.dumps(r) + "\n" for r in records))

    def write_json(self, path: Path, obj: Any) -> None:
        write_text_atomic(path, json.dumps(obj, indent=2) + "\n")

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        with atomic_write(self.checkpoint) as f:
            torch.save(state, f)

    def load_checkpoint(self) -> dict[str, Any] | None:
        if not self.checkpoint.exists():
            return None
        try:
            return torch.load(self.checkpoint, map_location="cpu", weights_only=False)
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is the same problem
            raise WsnasError(f"checkpoint {self.checkpoint} is unreadable: {e}") from None
