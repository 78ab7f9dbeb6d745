"""Tiny DARTS-NDS and NB101 runs for the search-algorithm tests: ground truth files written in the
benchmarks' own formats from a few random architectures, and overrides for a tiny super-net on
scikit-learn's digits (scored against the CIFAR-10 ground truth on purpose: the tests check the
run, not the numbers)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

from nb101_records import eval_bytes, frame, metrics_bytes
from nds_records import model
from wsnas.spaces.darts.space import DartsSpace
from wsnas.spaces.nb101.graph import prune, spec_hash
from wsnas.spaces.nb101.space import NB101Space

NUM_ARCHS = 12


def darts_nds_gt(folder: Path) -> Path:
    """An NDS-layout DARTS file (list form, w16d8) of NUM_ARCHS random genotypes."""
    models = []
    for i in range(NUM_ARCHS):
        g = DartsSpace().sample(np.random.default_rng(100 + i)).to_json()
        err = 5.0 + i
        models.append(model(g, err, seed=i, epochs=2))
    path = folder / "DARTS_fix-w-d.json"
    path.write_text(json.dumps(models))
    return path


def nb101_gt(folder: Path) -> Path:
    """An NB101 tfrecord (108 epochs) of NUM_ARCHS distinct random cells."""
    space, rng = NB101Space(), np.random.default_rng(7)
    cells = {}
    while len(cells) < NUM_ARCHS:
        spec = prune(space.sample(rng))
        cells.setdefault(spec_hash(spec), spec)
    records = []
    for i, (h, spec) in enumerate(cells.items()):
        acc = 0.85 + 0.005 * i
        raw = base64.b64encode(metrics_bytes([eval_bytes(108.0, 1000.0, 1.0, acc, acc)], 1_000_000, 1.0))
        flat = "".join(str(x) for row in spec.matrix for x in row)
        records.append(json.dumps([h, 108, flat, ",".join(spec.ops), raw.decode()]).encode())
    path = folder / "nasbench_only108.tfrecord"
    path.write_bytes(b"".join(frame(r) for r in records))
    return path


NETS = {
    "darts_nds": [
        "space.name=darts_nds",
        "mapping.ops_on=edges",
        "lowfi.channels=4",
        "lowfi.cells_per_stage=1",
    ],
    "nb101": ["space.name=nb101", "mapping.ops_on=nodes", "lowfi.channels=5", "lowfi.cells_per_stage=1"],
}
"""Each space's tiny super-net (DARTS: 5 cells of 4 channels; NB101: 3 cells of 5 to 20 channels)."""


def space_run(space: str, gt: Path, folder: Path) -> list[str]:
    """Overrides of a one-epoch run of a few steps on digits, scored on a pool of 6."""
    return [
        *NETS[space],
        "data.name=digits",
        "bench.allow_metric_mismatch=true",
        f"bench.source={gt}",
        f"bench.cache_dir={folder / 'cache'}",
        "data.valid_size=100",
        "data.train_portion=0.04",
        "protocol.batch_size=32",
        "eval.pool_size=6",
        "eval.num_images=64",
        "eval.batch_size=64",
        "runtime.device=cpu",
        "runtime.threads=1",
        "runtime.progress=false",
        f"out_dir={folder / 'runs'}",
    ]
