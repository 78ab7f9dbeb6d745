"""NAO: the encoder-decoder reconstructs what it was trained on, a step up the predictor's gradient in
the embedding space raises the prediction, decoded candidates are valid and new by canonical form, the
pool and its rounds, refusals, and a run killed with SIGKILL inside a controller update that resumes
to exactly the numbers of an uninterrupted run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from controller_runs import MINI, assert_same_run, kill_mid_controller_update

from wsnas.algorithms.nao import NAO, pairwise_accuracy, round_epochs, seed_pool
from wsnas.cli.main import main
from wsnas.config import load_config
from wsnas.core.errors import ConfigError
from wsnas.spaces import get_space
from wsnas.spaces.algorithms import get_algorithm
from wsnas.spaces.check import check_config
from wsnas.trainers.supernet_trainer import train


def _nao(space: str = "nb201_mini", **settings) -> NAO:
    torch.manual_seed(0)
    spec = get_algorithm("nao")
    return NAO(spec, {**spec.defaults, **settings}, get_space(space), torch.device("cpu"))


def _conv_share(arch) -> float:
    """A learnable stand-in for accuracy: the share of convolutions (ops 2 and 3) in the cell."""
    return sum(o in (2, 3) for o in arch) / len(arch)


def _trained(space: str, n: int, epochs: int) -> NAO:
    algo = _nao(space, seed_archs=n, new_archs=1, controller_epochs=epochs, expand=1)
    algo.fit(algo.pool, [_conv_share(a) for a in algo.pool])
    return algo


def test_encoder_decoder_reconstructs_the_architectures_it_was_trained_on():
    algo = _trained("nb201_mini", 40, 150)
    tokens = algo.tokens(algo.pool)
    assert algo.archs(algo.epd.reconstruct(tokens)) == algo.pool
    untrained = _nao(seed_archs=40, new_archs=1)
    assert untrained.archs(untrained.epd.reconstruct(tokens)) != algo.pool  # what training did


def test_a_step_up_the_predictor_gradient_raises_the_prediction():
    algo = _trained("nb201", 100, 60)
    tokens = algo.tokens(algo.pool)
    with torch.no_grad():
        before = algo.epd.predict(tokens)
    for step in (0.05, 0.5):
        _, emb = algo.epd.moved(tokens, step)
        with torch.no_grad():
            after = torch.sigmoid(algo.epd.regressor(emb)).squeeze(-1)
        assert bool((after > before).all()), step
    # the predictor learnt its target: the pool ranked by it agrees with the conv share
    assert pairwise_accuracy([_conv_share(a) for a in algo.pool], before.tolist()) > 0.8


@pytest.mark.parametrize("space", ["nb201", "nb201_mini"])
def test_decoded_candidates_are_valid_and_new_by_canonical_form(space):
    s = get_space(space)
    algo = _trained(space, 30, 30)
    new = algo.candidates(algo.pool, 20)
    assert new, "the moves found no new cell"
    keys = [s.canonical(a) for a in new]
    assert len(set(keys)) == len(keys)
    assert not set(keys) & {s.canonical(a) for a in algo.pool}
    for arch in new:
        assert len(arch) == len(s.edges) and all(0 <= o < len(s.ops) for o in arch)
        assert s.parse(s.format(arch)) == arch
    if space == "nb201_mini":  # 30 of its 60 cells in the pool: a candidate for every other one at most
        assert len(new) <= s.num_unique - 30


def test_seed_pool_holds_distinct_cells():
    s = get_space("nb201")
    pool = seed_pool(s, 300, np.random.default_rng(0))
    assert len({s.canonical(a) for a in pool}) == 300
    mini = get_space("nb201_mini")
    everything = seed_pool(mini, 600, np.random.default_rng(0))  # more than the space has: every cell once
    assert sorted(mini.canonical(a) for a in everything) == sorted(mini.unique_classes()[0])


def test_rounds_scale_with_the_epochs():
    assert round_epochs(200, 4) == [50, 100, 150, 200]  # NAO_V1: child_eval_epochs 50 of 200
    assert round_epochs(10, 3) == [4, 7, 10]
    assert round_epochs(2, 4) == [1, 2]


class _Stream:
    def next(self):
        raise AssertionError("NAO scores the pool on the plain stream")

    def plain_batches(self):
        return lambda: (None, None)


def test_a_round_sorts_the_pool_and_replaces_its_worst_then_the_last_only_scores():
    algo = _nao(seed_archs=20, new_archs=6, controller_epochs=3, expand=2, rounds=2)
    scorer = lambda arch, batch: 100.0 * _conv_share(arch)  # noqa: E731
    algo.begin_epoch(0, 2)
    first = list(algo.pool)
    losses = algo.end_epoch(None, scorer, _Stream())
    assert len(losses) == 1 and np.isfinite(losses[0])
    kept = sorted(first, key=lambda a: -_conv_share(a))[: 20 - algo.info["nao_new_archs"]]
    assert algo.pool[: len(kept)] == kept and len(algo.pool) == 20
    assert algo.best == (kept[0], 100.0 * _conv_share(kept[0]))
    assert {"nao_predictor_pairwise_acc", "nao_reconstruction_hamming"} <= set(algo.info)
    algo.begin_epoch(1, 2)
    pool = list(algo.pool)
    assert algo.end_epoch(None, scorer, _Stream()) == []  # the last round: no controller training
    assert sorted(algo.pool) == sorted(pool)
    assert algo.derive(None, scorer, lambda: (None, None)) == algo.pool[0]
    probs = np.asarray(algo.probabilities())
    np.testing.assert_allclose(probs.sum(1), 1.0)
    assert algo.log_probs(algo.pool).shape == (20,)


def test_defaults_are_the_references_and_refusals():
    spec = get_algorithm("nao")
    assert not spec.mixed_op and not spec.uses_sampler
    assert (spec.defaults["seed_archs"], spec.defaults["new_archs"], spec.defaults["rounds"]) == (600, 300, 4)
    for space in (
        "nb101",
        "darts_nds",
    ):  # node-based token grammars (tests/algorithms/test_token_grammars.py)
        check_config(
            load_config(
                None,
                [f"space.name={space}", "mapping.ops_on=nodes", "data.valid_size=100", "algorithm.name=nao"],
            )
        )
    with pytest.raises(ConfigError, match="above algorithm.seed_archs"):
        check_config(load_config(None, [*MINI, "algorithm.name=nao", "algorithm.seed_archs=10"]))
    with pytest.raises(ConfigError, match="algorithm.entropy_weight: nao does not read it"):
        check_config(load_config(None, [*MINI, "algorithm.name=nao", "algorithm.entropy_weight=0.1"]))


SMALL = [
    "algorithm.name=nao",
    "algorithm.seed_archs=20",
    "algorithm.new_archs=8",
    "algorithm.controller_epochs=4",
    "algorithm.expand=2",
    "algorithm.rounds=3",
]


@pytest.mark.slow  # two short runs and a kill
def test_kill_mid_controller_update_then_resume_equals_uninterrupted(tmp_path):
    args = [*MINI, *SMALL, "protocol.epochs=3", "eval.epochs=[1,2,3]", f"out_dir={tmp_path}"]
    run = kill_mid_controller_update(tmp_path, args, kill_at=3)  # epoch 2's round, mid-training
    assert main(["train", "--resume", str(run), "runtime.threads=1"]) == 0
    straight = train(load_config(None, [*args, "name=straight"]))
    assert_same_run(run, straight)
    assert straight["final"]["nao_round"] == 3 and straight["final"]["nao_pool_size"] == 20


def test_learnt_search_refuses_a_nao_run_and_draws_from_an_enas_controller(tmp_path, capsys):
    """`wsnas search --algo learnt` draws from a learnt distribution: ENAS's controller is one, NAO's
    predicted accuracies are not, and the search says so instead of treating them as log-probabilities."""
    enas = ["algorithm.name=enas", "algorithm.controller_steps=2", "algorithm.controller_aggregate=2"]
    for name, extra in (("nao", SMALL), ("enas", enas)):
        args = [*MINI, *extra, "protocol.epochs=1", "eval.epochs=[1]", f"out_dir={tmp_path}", f"name={name}"]
        train(load_config(None, args))
    capsys.readouterr()
    assert main(["search", str(tmp_path / "nao"), "--algo", "learnt", "--budget", "3"]) == 2
    assert "nao learns no architecture distribution" in capsys.readouterr().err
    assert main(["search", str(tmp_path / "enas"), "--algo", "learnt", "--budget", "3"]) == 0
