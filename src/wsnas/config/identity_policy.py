"""A run's config hash and what it sees: the identity policy, apart from the schema.

The hash names run dirs, guards checkpoints and keys the report's settings; which keys it
ignores (where files go, how a run is run), which values changed meaning and which later
fields stay unhashed at their default is decided here, once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

NOT_IDENTITY: tuple[str, ...] = (
    "out_dir",
    "name",
    "runtime",
    "logging",
    "data.root",
    "bench.cache_dir",
    "bench.source",
    "bench.allow_metric_mismatch",
)
"""Dotted config keys that never define a run's config hash: where files live or go, how a run is
run and whether a check is waived (the data, split and metric it waives are in the hash). What of
them still changes the numbers is in the run's full identity (`wsnas.engine.identity`): the ground truth's
content checksum (not bench.source, a path), the effective numerics (runtime.amp on
CUDA) and the world size."""


MEANING_VERSIONS: dict[tuple[str, str], int] = {("mapping.dynamic_channels", "shuffle"): 2}
"""Config values whose meaning changed after runs were made with them, and the meaning's version.
They are hashed as `VALUE@vN`, so a run made under the old meaning never shares a config hash
(run dir name, checkpoint guard, identity) with one made under the new: resuming or reusing it
is refused, and a report keeps the two apart. v2 of `shuffle`: the authors' per-axis random
channel subsets (the old meaning is now `shuffle_consistent`, docs/factors.md)."""


ADDED_FIELDS: dict[str, Any] = {
    "mapping.dropout_path_at": "edges",
    "eval.metric_definition": "paper",
    "landmark.num_archs": 0,
    "landmark.archs_file": None,
    "landmark.loss": "relu",
    "landmark.coef": 10.0,
    "landmark.schedule": "cosine_increase",
    "landmark.warmup_fraction": 0.375,
    "landmark.pairs": 1,
    "fewshot.split": "off",
    "fewshot.warmup_fraction": 0.8,
    "algorithm.name": "none",
    "algorithm.arch_lr": None,
    "algorithm.arch_betas": None,
    "algorithm.arch_weight_decay": None,
    "algorithm.arch_split": "valid",
    "algorithm.tau_max": None,
    "algorithm.tau_min": None,
    "algorithm.select_num": None,
    "algorithm.entropy_weight": None,
    "algorithm.baseline_decay": None,
    "algorithm.controller_steps": None,
    "algorithm.controller_aggregate": None,
    "algorithm.tanh_constant": None,
    "algorithm.logit_temperature": None,
    "algorithm.rounds": None,
    "algorithm.seed_archs": None,
    "algorithm.new_archs": None,
    "algorithm.controller_epochs": None,
    "algorithm.trade_off": None,
    "algorithm.expand": None,
}
"""Config fields added after runs were made, each with its default (the behaviour before it existed).
A field at that default is left out of the hash, so every config that existed before keeps its hash
(run dir name, checkpoint guard, identity) and its runs stay resumable and reusable; any other value
is hashed and makes a new run. A default must therefore be exactly what the code did before. A section
left empty once its added fields are out (`landmark`, `fewshot` at their defaults) is left out too."""


def _parent(d: dict[str, Any], key: str) -> tuple[dict[str, Any], str]:
    *parents, last = key.split(".")
    node = d
    for part in parents:
        node = node.get(part, {})
    return node, last


def identity_view(d: dict[str, Any]) -> dict[str, Any]:
    """A config dict as its hash sees it: without the NOT_IDENTITY keys and the ADDED_FIELDS at their
    default, MEANING_VERSIONS tagged. The config hash and the report's setting key both use it, so
    what keeps two runs apart in one keeps them apart in the other."""
    d = json.loads(json.dumps(d))
    for key in NOT_IDENTITY:
        node, last = _parent(d, key)
        node.pop(last, None)
    for key, default in ADDED_FIELDS.items():
        node, last = _parent(d, key)
        if last in node and node[last] == default:
            node.pop(last)
            if not node and "." in key:
                parent, section = _parent(d, key.rsplit(".", 1)[0])
                if parent.get(section) == {}:
                    parent.pop(section)
    for (key, value), version in MEANING_VERSIONS.items():
        node, last = _parent(d, key)
        if node.get(last) == value:
            node[last] = f"{value}@v{version}"
    return d


def experiment_hash(d: dict[str, Any]) -> str:
    """12 hex digits of a config dict's `identity_view`."""
    d = identity_view(d)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]
