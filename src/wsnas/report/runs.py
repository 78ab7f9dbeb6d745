"""Run dirs as the report reads them: find them, load each into a RunRecord.

Only config.yaml and summary.json are needed (log.jsonl and the eval CSVs feed the
figures), so runs from sweeps, single runs and other machines mix freely. Every file is
read by the one reader of a run dir (`wsnas.engine.runs`), the one `wsnas show` and
`wsnas.open_run` use. A record's setting is its config without NOT_IDENTITY and the seed,
plus what else its identity (`wsnas.engine.identity`: ground-truth checksum, numerics, world
size) records, as the key `identity`; a run dir without an identity is read too, with `identity` = "legacy".
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.config import NOT_IDENTITY, RunConfig, identity_view
from wsnas.core.errors import WsnasError
from wsnas.engine.identity import describe, read_identity
from wsnas.engine.runs import RunResult, read_run

METRICS = ("supernet_acc_mean", "kdt", "skdt", "spearman", "final_acc", "pbr")
"""The summary's final metrics the report reads."""
NOT_SETTING = ("seed", *NOT_IDENTITY)
"""Config keys that do not define a setting: seeds are aggregated, the rest is where/how it ran."""
IDENTITY_KEY = "identity"
"""The experiment key holding what a run's identity adds to its config (`identity.describe`)."""


def identity_key(identity: dict[str, Any]) -> dict[str, Any]:
    """The fields of an identity that define a setting beyond the config (GT, numerics, world size)."""
    return {k: identity.get(k) for k in ("gt", "numerics", "world_size")}


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config dict -> {dotted.key: leaf value}, in field order."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def canon(v: Any) -> str:
    """Canonical text of a config value, for grouping and equality."""
    return json.dumps(v, sort_keys=True)


def show(v: Any) -> str:
    """A config value as a label shows it."""
    return v if isinstance(v, str) else json.dumps(v)


def setting_part(d: dict[str, Any]) -> dict[str, Any]:
    """The flattened config keys that define a setting (not NOT_SETTING)."""
    flat = flatten(d)
    return {k: v for k, v in flat.items() if not any(k == x or k.startswith(x + ".") for x in NOT_SETTING)}


@dataclass
class RunRecord:
    """One run dir as the report sees it."""

    path: Path
    cfg: RunConfig
    summary: dict[str, Any]
    result: RunResult | None = None
    """The run dir as `wsnas.engine.runs` read it (read on first use where not given)."""

    def __post_init__(self) -> None:
        config = setting_part(self.cfg.to_dict())
        hashed = setting_part(identity_view(self.cfg.to_dict()))  # as the config hash sees it
        self.identity: dict[str, Any] | None
        if self.result is not None:
            self.identity = self.result.identity  # the reader's: summary.json's, else identity.json
        else:
            found = self.summary.get("identity")
            self.identity = found if isinstance(found, dict) else read_identity(self.path)
        # a legacy run's setting is its config's, as before identities were recorded
        keyed = hashed if self.identity is None else {**hashed, "identity": identity_key(self.identity)}
        self.setting = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:12]
        self.experiment = {**config, IDENTITY_KEY: describe(self.identity)}

    @property
    def legacy(self) -> bool:
        """No identity recorded (a run dir from before wsnas recorded them)."""
        return self.identity is None

    @property
    def space(self) -> str:
        return self.cfg.space.name

    @property
    def seed(self) -> int:
        return self.cfg.seed

    @property
    def status(self) -> str:
        return str(self.summary.get("status"))

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    def metric(self, name: str) -> float:
        v = self.summary.get("final", {}).get(name) if self.finished else None
        return float(v) if isinstance(v, int | float) else math.nan

    @property
    def run(self) -> RunResult:
        """The run dir read back (`wsnas.engine.runs.read_run`), once."""
        if self.result is None:
            self.result = read_run(self.path)
        return self.result

    def eval_log(self) -> list[dict[str, Any]]:
        """The run's evaluation records (log.jsonl), in epoch order."""
        return [{"type": "eval", "epoch": e.epoch, **e.metrics} for e in self.run.evaluations]

    def final_supernet_accs(self) -> np.ndarray:
        """Per-architecture super-net accuracies of the last evaluation (evals/epoch_NNNN.csv)."""
        return np.array([float(r["supernet_acc"]) for r in self.run.archs])


def find_run_dirs(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Every folder under `paths` holding config.yaml and summary.json (not looked into further)."""
    found: dict[Path, None] = {}
    for top in paths:
        top = Path(top)
        if not top.is_dir():
            raise WsnasError(f"{top}: not a folder")
        for dirpath, dirnames, filenames in os.walk(top):
            if "config.yaml" in filenames and "summary.json" in filenames:
                found[Path(dirpath).resolve()] = None
                dirnames.clear()
            else:
                dirnames.sort()
    return list(found)


def load_runs(paths: Iterable[str | os.PathLike]) -> tuple[list[RunRecord], list[str]]:
    """Run records under `paths`, and one line per run dir that could not be read."""
    runs, skipped = [], []
    for p in find_run_dirs(paths):
        try:
            result = read_run(p)
            summary = result.summary
            if summary is None:
                raise WsnasError("summary.json is unreadable (not a JSON object)")
            if summary.get("kind") == "standalone":
                skipped.append(f"{p}: a stand-alone run (ground truth, not a super-net result)")
                continue
            cfg = result.cfg
            if not isinstance(cfg, RunConfig):
                raise WsnasError(
                    "config.yaml is a stand-alone config (a proxy section) under a super-net summary"
                )
        except (OSError, ValueError, WsnasError) as e:
            skipped.append(f"{p}: {e}")
            continue
        if summary.get("status") not in ("finished", "diverged"):
            skipped.append(f"{p}: summary status {summary.get('status')!r}")
            continue
        runs.append(RunRecord(p, cfg, summary, result))
    return runs, skipped
