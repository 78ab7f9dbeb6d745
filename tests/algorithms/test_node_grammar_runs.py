"""ENAS and NAO trained end to end on nb101 and darts_nds (their node-based token grammars): a tiny
super-net on the digits, ground truth from small benchmark files written here in the official
layouts, the derived architecture evaluated each epoch; and an ENAS run on darts_nds killed with
SIGKILL inside a controller update that resumes to exactly the numbers of an uninterrupted run."""

from __future__ import annotations

import base64
import csv
import json
from pathlib import Path

import numpy as np
import pytest
from controller_runs import assert_same_run, kill_mid_controller_update

from nb101_records import eval_bytes, frame, metrics_bytes
from nds_records import model
from wsnas.cli.main import main
from wsnas.config import load_config
from wsnas.spaces import get_space
from wsnas.spaces.grammar import token_grammar
from wsnas.spaces.nb101.graph import spec_hash
from wsnas.trainers.supernet_trainer import train

CELLS = 24


def _darts_json(path: Path) -> Path:
    """An NDS DARTS file of CELLS genotypes (random cells and ENAS-grammar cells), errors made up."""
    space, rng = get_space("darts_nds"), np.random.default_rng(0)
    models = []
    for k in range(CELLS):
        g = space.sample(rng)
        err = float(5.0 + rng.random() * 5.0)
        models.append(model(g.to_json(), err, seed=k))
    path.write_text(json.dumps(models))
    return path


def _nb101_tfrecord(path: Path) -> Path:
    """A NASBench-101 tfrecord of CELLS cells: half random cells of the space, half eval-nas trees
    (what the grammar writes), 3 repeats each, accuracies made up."""
    space, rng = get_space("nb101"), np.random.default_rng(0)
    g = token_grammar(space)
    cells = {}
    while len(cells) < CELLS:
        spec = space.sample(rng) if len(cells) % 2 else g.decode(g.random(rng))
        cells.setdefault(spec_hash(spec), spec)
    records = []
    for rep in range(3):
        for h, spec in cells.items():
            acc = 0.85 + 0.1 * rng.random() + (rep - 1) * 0.001
            raw = base64.b64encode(metrics_bytes([eval_bytes(108.0, 1000.0, 1.0, acc, acc)], 100_000, 1.0))
            flat = "".join(str(x) for row in spec.matrix for x in row)
            records.append(json.dumps([h, 108, flat, ",".join(spec.ops), raw.decode()]).encode())
    path.write_bytes(b"".join(frame(r) for r in records))
    return path


TINY = {
    "nb101": ["space.name=nb101", "mapping.ops_on=nodes", "lowfi.channels=8", "lowfi.cells_per_stage=1"],
    "darts_nds": ["space.name=darts_nds", "lowfi.channels=4", "lowfi.cells_per_stage=1"],
}
RUN = [
    "data.name=digits",
    "protocol.batch_size=64",
    "data.train_portion=0.1",
    "data.valid_size=200",
    "eval.pool_size=8",
    "eval.batch_size=256",
    "runtime.device=cpu",
    "runtime.threads=1",
    "runtime.progress=false",
    "bench.allow_metric_mismatch=true",  # made-up CIFAR-10 ground truth, scored on the digits
]
ALGOS = {
    "enas": [
        "algorithm.name=enas",
        "algorithm.controller_steps=2",
        "algorithm.controller_aggregate=3",
        "algorithm.select_num=4",
    ],
    "nao": [
        "algorithm.name=nao",
        "algorithm.seed_archs=12",
        "algorithm.new_archs=4",
        "algorithm.controller_epochs=3",
        "algorithm.expand=2",
        "algorithm.rounds=2",
    ],
}


@pytest.fixture(scope="module")
def benches(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("benches")
    return {
        "nb101": _nb101_tfrecord(root / "nasbench_only108.tfrecord"),
        "darts_nds": _darts_json(root / "DARTS.json"),
    }


def _args(space: str, algo: str, benches: dict[str, Path], out: Path) -> list[str]:
    return [*TINY[space], *RUN, *ALGOS[algo], f"bench.source={benches[space]}", f"out_dir={out}"]


@pytest.mark.parametrize("algo", ["enas", "nao"])
@pytest.mark.parametrize("space", ["nb101", "darts_nds"])
def test_runs_end_to_end_with_a_derived_architecture_each_epoch(tmp_path, benches, space, algo):
    s = get_space(space)
    summary = train(
        load_config(
            None, [*_args(space, algo, benches, tmp_path), "protocol.epochs=2", "eval.epochs=[1,2]", "name=r"]
        )
    )
    assert summary["status"] == "finished"
    traj = summary["algorithm"]["trajectory"]
    assert [r["epoch"] for r in traj] == [1, 2]
    for r in traj:
        arch = s.parse(r["derived_arch"])
        assert token_grammar(s).encode(arch) is not None  # a cell the grammar writes
        assert 0.0 <= r["derived_param_free_share"] <= 1.0
    assert summary["algorithm"]["token_grammar"]["grammar"] == token_grammar(s).name
    final = summary["final"]
    pool = [r["arch"] for r in csv.DictReader((Path(summary["run_dir"]) / "evals" / "epoch_0002.csv").open())]
    assert final["arch_probabilities"] and len(final["arch_probabilities"]) == token_grammar(s).length
    if space == "nb101":  # pool cells that are no eval-nas tree rank below the others, counted
        assert final.get("dist_unwritable", 0) == sum(
            token_grammar(s).encode(s.parse(a)) is None for a in pool
        )
    if algo == "nao":
        assert final["nao_round"] == 2 and final["nao_pool_size"] == 12
    else:
        assert final["enas_baseline"] is not None


@pytest.mark.slow  # two short runs and a kill
def test_darts_nds_enas_killed_mid_controller_update_resumes_to_the_uninterrupted_run(tmp_path, benches):
    args = [*_args("darts_nds", "enas", benches, tmp_path), "protocol.epochs=3", "eval.epochs=[1,2,3]"]
    run = kill_mid_controller_update(tmp_path, args, kill_at=2)
    assert main(["train", "--resume", str(run), "runtime.threads=1"]) == 0
    straight = train(load_config(None, [*args, "name=straight"]))
    assert_same_run(run, straight)
