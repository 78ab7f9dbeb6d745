"""The run directory of a super-net or stand-alone run: everything it writes, each file atomic.

config.yaml      resolved config (what reproduces the run)
log.jsonl        one JSON line per epoch and per evaluation
evals/epoch_NNNN.csv   per-architecture super-net and GT accuracy
checkpoint.pt    last finished epoch: model, optimizer, scheduler, RNGs, history
summary.json     final metrics and status (finished | diverged)
search/          searches of the super-net (`wsnas search`, wsnas.search)
.wsnas.lock      the writer's pid; an exclusive flock on it while a process writes (wsnas.core.dirlock)

A run's name is one folder name under out_dir. An existing folder is written into
only if it is empty or a run dir: it holds `.wsnas.lock` (every run dir since locks
exist) or, for older ones, a config.yaml next to nothing but run files.
Checkpoints hold only tensors and plain containers and load with `weights_only=True`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from wsnas.config import AnyConfig, RunConfig, dump_config, load_config
from wsnas.core.atomic import atomic_write, write_text_atomic
from wsnas.core.dirlock import LOCK_NAME, DirLock, holder
from wsnas.core.errors import ConfigError, WsnasError
from wsnas.engine.identity import IDENTITY_FILE
from wsnas.spaces.check import check_config

RUN_FILES = frozenset(
    {
        "config.yaml",
        "log.jsonl",
        "checkpoint.pt",
        "summary.json",
        "evals",
        "tb",
        "search",
        LOCK_NAME,
        IDENTITY_FILE,
    }
)
"""What a run dir holds (besides temp files of atomic writes)."""

LEGACY_GLOBALS: list[Any] = [np.empty(0).__reduce__()[0], np.ndarray, np.dtype, type(np.dtype(np.uint32))]
"""What checkpoints written before the plain RNG format need: numpy's global RNG state
(a uint32 array) and nothing else; each rebuilds an array, none calls user code."""


def check_run_name(name: str | None) -> None:
    """A run name (key 'name') is one folder name: not empty, '.', '..', nor holding a separator."""
    if name is None:
        return
    if name.strip() in ("", ".", "..") or re.search(r"[/\\\0]", name):
        raise ConfigError(
            f"key 'name': got {name!r}; a run name is one folder name under out_dir "
            "(not empty, '.' or '..', no '/' or '\\')"
        )


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
        check_run_name(cfg.name)
        name = cfg.name or f"{cfg.space.name}-{cfg.sampler.name}-s{cfg.seed}-{cfg.hash()}"
        return cls(Path(cfg.out_dir) / name)

    def is_run_dir(self) -> bool:
        """Whether the folder is one wsnas made (see the module docstring)."""
        if (self.path / LOCK_NAME).exists():
            return True
        try:
            names = {p.name for p in self.path.iterdir()}
        except OSError:
            return False
        if "config.yaml" not in names or not all(n in RUN_FILES or _is_temp(n) for n in names):
            return False
        return _looks_written_by_wsnas(self.config)

    def check_ours(self) -> None:
        """Refuse a path that is not a folder, or a folder with files that wsnas did not write."""
        if self.path.exists() and not self.path.is_dir():
            raise WsnasError(f"run dir {self.path} exists and is not a folder; choose another name/out_dir")
        if self.path.is_dir() and any(self.path.iterdir()) and not self.is_run_dir():
            raise WsnasError(
                f"{self.path} exists and is not a wsnas run dir; it is left alone: "
                "choose another name/out_dir"
            )

    def check_new(self, resume_hint: str | None = None) -> None:
        """Refuse to start a run here if one has started, or if the folder is not ours."""
        self.check_ours()
        if self.checkpoint.exists() or self.summary.exists():
            hint = resume_hint or f"wsnas train --resume {self.path}"
            raise WsnasError(
                f"run dir {self.path} already holds a run; resume it with "
                f"`{hint}` or choose another name/out_dir"
            )

    def create(self, cfg: AnyConfig, resume_hint: str | None = None) -> None:
        """Start a new run (write config.yaml); refuse to clobber one that has started.

        What an earlier attempt left before its first checkpoint (it failed or was stopped
        in epoch 1) is removed: its log, identity.json (which would refuse this attempt's
        ground truth or numerics), evaluations and TensorBoard events.
        """
        self.check_new(resume_hint)
        self.path.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, self.config)
        self.log.unlink(missing_ok=True)
        (self.path / IDENTITY_FILE).unlink(missing_ok=True)
        for folder in (self.evals, self.path / "tb"):
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def writing(self, new: bool, resume_hint: str | None = None) -> Iterator[RunDir]:
        """Hold the run dir's lock while the block writes it; refuse a second writer.

        `new`: a run about to start (refused as `create` would; the folder is made here).
        Otherwise a resume: the folder must be a run dir. Temp files a killed writer left
        are removed under the lock. If the block fails before config.yaml exists (a new
        run whose start-up failed), the lock file and the folders made here are removed.
        """
        made: list[Path] = []
        if new:
            self.check_ours()
            made = [p for p in (self.path, *self.path.parents) if not p.exists()]
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise WsnasError(f"cannot create run dir {self.path}: {e.strerror or e}") from None
        elif not self.path.is_dir() or not self.is_run_dir() or not self.config.exists():
            raise self.not_a_run_dir()
        lock = DirLock(self.path, "run dir")
        try:
            lock.acquire()
            if new:
                self.check_new(resume_hint)  # under the lock: a live writer is named above, not here
            self.remove_temp_files()
            yield self
        except BaseException:
            if new and not self.config.exists():
                lock.release(remove=True)  # a no-op unless this process held it
                for p in made:  # innermost first; only what is still empty
                    try:
                        p.rmdir()
                    except OSError:
                        break
            raise
        finally:
            lock.release()

    def remove_temp_files(self) -> list[Path]:
        """Delete what atomic writes of a killed writer left (call only under the lock)."""
        stale = [p for d in (self.path, self.evals) if d.is_dir() for p in d.iterdir() if _is_temp(p.name)]
        for p in stale:
            p.unlink(missing_ok=True)
        return stale

    def never_started(self) -> bool:
        """The folder holds only what a start-up killed before its config leaves: the lock file
        (and temp files of atomic writes). Rerunning the command that made it starts the run."""
        try:
            names = [p.name for p in self.path.iterdir()]
        except OSError:
            return False
        return LOCK_NAME in names and all(n == LOCK_NAME or _is_temp(n) for n in names)

    def not_a_run_dir(self) -> WsnasError:
        """The error for a folder that holds no run (yet), saying why and what to do."""
        if self.never_started():
            pid = holder(self.path)
            if pid is not None:
                return WsnasError(
                    f"{self.path} is starting (pid {pid} holds it and has not written its config yet); "
                    "wait for it, or follow it with `wsnas show` once it has"
                )
            return WsnasError(
                f"{self.path}: the run never started (it was stopped before it wrote config.yaml; only "
                f"{LOCK_NAME} is there), so there is nothing to resume; rerun the same `wsnas train` "
                "(or `wsnas standalone train`) command that made it to start it"
            )
        return WsnasError(f"{self.path} is not a run dir: no config.yaml written by wsnas")

    def load_config(self, model: type[Any] = RunConfig) -> Any:
        """The run's resolved config as MODEL (RunConfig, or StandaloneConfig)."""
        if not self.config.exists():
            raise self.not_a_run_dir()
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
        """The last checkpoint, unpickled with `weights_only=True` (tensors, plain containers)."""
        if not self.checkpoint.exists():
            return None
        try:
            with torch.serialization.safe_globals(LEGACY_GLOBALS):
                return torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is the same problem
            raise WsnasError(f"checkpoint {self.checkpoint} is unreadable: {_one_line(e)}") from None


def _looks_written_by_wsnas(path: Path) -> bool:
    """A resolved config as `dump_config` writes it: a mapping with every top-level section."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return False
    return isinstance(doc, dict) and {"space", "seed", "runtime", "data"} <= doc.keys()


def _is_temp(name: str) -> bool:
    """A temp file of `wsnas.core.atomic.atomic_write` (`.NAME.XXXX.tmp`)."""
    return name.startswith(".") and name.endswith(".tmp")


def _one_line(e: Exception) -> str:
    """torch's refusals span many lines (and suggest weights_only=False); say what was refused."""
    text = str(e)
    m = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", text)
    if m:
        return f"it would import {m.group(1)}, which a checkpoint never needs (refused, nothing run)"
    if "Weights only load failed" in text:
        return "it holds objects a checkpoint never needs (refused, nothing run)"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


def run_state(run_dir: Path) -> str:
    """finished | diverged (a final outcome) | resume (checkpoint, no summary) | new."""
    summary = run_dir / "summary.json"
    if summary.exists():
        try:
            status = json.loads(summary.read_text()).get("status")
        except (OSError, ValueError):
            status = None
        if status in ("finished", "diverged"):
            return status
    return "resume" if (run_dir / "checkpoint.pt").exists() else "new"
