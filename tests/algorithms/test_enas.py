"""ENAS: the REINFORCE gradient on a toy reward (sign and expectation), the baseline and entropy terms
by hand, the controller against xautodl's, valid samples in every space it runs on, the derived
architecture, refusals, and a run killed with SIGKILL inside a controller update that resumes to
exactly the numbers of an uninterrupted run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from controller_runs import MINI, assert_same_run, kill_mid_controller_update
from torch.distributions import Categorical

from wsnas.algorithms.controller import Controller
from wsnas.algorithms.enas import ENAS, reinforce_loss, update_baseline
from wsnas.cli.main import main
from wsnas.config import load_config
from wsnas.core.errors import ConfigError
from wsnas.spaces import get_space
from wsnas.spaces.algorithms import get_algorithm
from wsnas.spaces.check import check_config
from wsnas.trainers.supernet_trainer import train


def _enas(space: str = "nb201_mini", **settings) -> ENAS:
    spec = get_algorithm("enas")
    return ENAS(spec, {**spec.defaults, **settings}, get_space(space), torch.device("cpu"))


def _grads(net: torch.nn.Module, loss: torch.Tensor) -> torch.Tensor:
    params = [p for p in net.parameters() if p.requires_grad]
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params, retain_graph=True)])


# ---- REINFORCE ------------------------------------------------------------------------------------
def test_reinforce_gradient_on_a_two_choice_reward_has_the_right_expectation_and_sign():
    """One slot, two ops, reward 0.2 for op 0 and 0.8 for op 1. Summed over both choices weighted by
    their probabilities, the REINFORCE loss's gradient is exactly minus the gradient of the expected
    reward, whatever the (constant) baseline; a Monte Carlo average of sampled gradients approaches it;
    and a descent step on it raises the probability of the better op."""
    torch.manual_seed(0)
    net = Controller(1, 2, tanh_constant=2.5, temperature=5.0)
    reward = torch.tensor([0.2, 0.8])
    logp, _ = net.evaluate([(0,), (1,)])
    expected_reward = (logp.exp() * reward).sum()
    want = -_grads(net, expected_reward)
    for baseline in (0.0, 0.5, 0.9):
        logp, _ = net.evaluate([(0,), (1,)])
        p = logp.exp().detach()
        exact = sum(
            p[a] * _grads(net, reinforce_loss(logp[a : a + 1], reward[a : a + 1] - baseline, 1))
            for a in (0, 1)
        )
        torch.testing.assert_close(exact, want, rtol=1e-5, atol=1e-7)
    n = 20000
    archs = net.sample(n, torch.Generator().manual_seed(3))
    logp, _ = net.evaluate(archs)
    r = reward[torch.tensor([a[0] for a in archs])]
    mc = _grads(net, reinforce_loss(logp, r - 0.5, n))
    assert torch.nn.functional.cosine_similarity(mc, want, dim=0) > 0.99
    torch.testing.assert_close(mc.norm(), want.norm(), rtol=0.05, atol=0)
    p1 = float(net.evaluate([(1,)])[0].exp())
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    opt.zero_grad()
    logp, _ = net.evaluate(archs)
    reinforce_loss(logp, r - 0.5, n).backward()
    opt.step()
    assert float(net.evaluate([(1,)])[0].exp()) > p1


def test_controller_steps_move_towards_the_better_op():
    algo = _enas(arch_lr=0.05)
    algo.controller.slots = 1  # one decision, two of its ops rewarded differently
    gen = torch.Generator().manual_seed(0)
    before = float(algo.controller.evaluate([(3,)])[0].exp())
    for _ in range(40):
        archs = algo.controller.sample(16, gen)
        algo.controller_step(archs, [1.0 if a[0] == 3 else 0.0 for a in archs])
    assert float(algo.controller.evaluate([(3,)])[0].exp()) > before + 0.2


def test_baseline_and_entropy_terms_by_hand():
    """A step's rewards are accuracy + w * entropy (each step's categorical entropy given the earlier
    ops, summed), the baseline moves towards each reward in turn starting at the first accuracy, and
    the loss is -sum(log p * (reward - baseline)) / n; all recomputed here op by op with
    torch.distributions, as xautodl's controller computes them."""
    assert update_baseline(None, 0.7, 0.6, 0.99) == 0.6
    assert update_baseline(0.5, 0.7, 0.6, 0.9) == pytest.approx(0.5 - 0.1 * (0.5 - 0.7))
    algo = _enas("nb201", entropy_weight=0.05, baseline_decay=0.8)
    c = algo.controller
    archs = [(0, 1, 2, 3, 4, 0), (4, 4, 4, 4, 4, 4), (2, 2, 3, 1, 0, 1)]
    accs = [0.3, 0.6, 0.45]
    logps, ents = [], []
    with torch.no_grad():
        for arch in archs:
            inputs, state, lp, h = c.input_vars, None, 0.0, 0.0
            for op in arch:
                out, state = c.w_lstm(inputs, state)
                dist = Categorical(logits=c.logits(out))
                lp += float(dist.log_prob(torch.tensor([[op]])).sum())
                h += float(dist.entropy().sum())
                inputs = c.w_embd(torch.tensor([[op]]))
            logps.append(lp)
            ents.append(h)
    rewards = [a + 0.05 * h for a, h in zip(accs, ents, strict=True)]
    b, loss = None, 0.0
    for acc, r, lp in zip(accs, rewards, logps, strict=True):
        b = acc if b is None else b - 0.2 * (b - r)
        loss -= lp * (r - b) / 3
    got_loss, got_rewards, got_ents = algo.controller_step(archs, accs)
    np.testing.assert_allclose(got_ents, ents, rtol=1e-5)
    np.testing.assert_allclose(got_rewards, rewards, rtol=1e-6)
    assert algo.baseline == pytest.approx(b, rel=1e-6)
    assert got_loss == pytest.approx(loss, rel=1e-4, abs=1e-7)


# ---- the controller ------------------------------------------------------------------------------
def test_controller_scores_equal_xautodls_controller():
    """xautodl's NB201 `Controller` holding the same weights samples an architecture op by op; its
    log-probability and entropy are what the batched, teacher-forced `evaluate` gives for it."""
    pytest.importorskip("xautodl", reason="test-only oracle (pip install --no-deps xautodl)")
    from xautodl.models.cell_searchs.search_model_enas_utils import Controller as XController

    torch.manual_seed(0)
    ours = Controller(6, 5, tanh_constant=2.5, temperature=5.0)
    theirs = XController(6, 5)
    theirs.load_state_dict(ours.state_dict())
    archs, want_lp, want_h = [], [], []
    torch.manual_seed(7)
    for _ in range(8):
        lp, h, arch = theirs()
        archs.append(tuple(arch))
        want_lp.append(float(lp))
        want_h.append(float(h))
    lp, h = ours.evaluate(archs)
    np.testing.assert_allclose(lp.detach().numpy(), want_lp, rtol=1e-5)
    np.testing.assert_allclose(h.detach().numpy(), want_h, rtol=1e-5)


@pytest.mark.parametrize("space", ["nb201", "nb201_mini"])
def test_sampled_architectures_are_valid_and_log_probs_normalised(space):
    algo = _enas(space, tanh_constant=1.0, logit_temperature=0.5)  # a peaked controller, not uniform
    s = get_space(space)
    archs = algo.controller.sample(300, torch.Generator().manual_seed(1))
    for arch in archs:
        assert len(arch) == len(s.edges) and all(0 <= o < len(s.ops) for o in arch)
        assert s.parse(s.format(arch)) == arch and s.canonical(arch)
    everything = s.all_archs()
    logp = algo.log_probs(everything)
    assert np.all(np.isfinite(logp)) and np.exp(logp).sum() == pytest.approx(1.0, rel=1e-5)
    probs = np.asarray(algo.probabilities())
    assert probs.shape == (len(s.edges), len(s.ops))
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-9)
    counts = np.zeros_like(probs)  # the sampler's op frequencies follow the marginals
    for a in algo.controller.sample(4000, torch.Generator().manual_seed(2)):
        counts[np.arange(len(a)), a] += 1
    np.testing.assert_allclose(counts / 4000, probs, atol=0.04)


def test_derive_keeps_the_best_scored_sample_and_leaves_the_training_draws_alone():
    algo = _enas()
    algo.begin_epoch(0, 5)
    state = algo.generator.get_state()
    seen: list[tuple[int, ...]] = []

    def scorer(arch, batch):
        seen.append(arch)
        return float(sum(arch))

    chosen = algo.derive(None, scorer, lambda: (None, None))
    assert len(seen) == 10 and chosen == max(seen, key=sum)
    assert torch.equal(algo.generator.get_state(), state)
    seen.clear()
    assert algo.derive(None, scorer, lambda: (None, None)) == chosen  # same epoch, same draws
    algo.begin_epoch(4, 5)  # the last epoch: select_num samples
    seen.clear()
    algo.derive(None, scorer, lambda: (None, None))
    assert len(seen) == 100


def test_defaults_are_the_references_and_refusals():
    spec = get_algorithm("enas")
    assert not spec.mixed_op and not spec.uses_sampler
    assert spec.defaults["controller_steps"] * spec.defaults["controller_aggregate"] == 1000
    for space in (
        "nb101",
        "darts_nds",
    ):  # node-based token grammars (tests/algorithms/test_token_grammars.py)
        check_config(
            load_config(
                None,
                [f"space.name={space}", "mapping.ops_on=nodes", "data.valid_size=100", "algorithm.name=enas"],
            )
        )
    with pytest.raises(ConfigError, match="algorithm.rounds: enas does not read it"):
        check_config(load_config(None, [*MINI, "algorithm.name=enas", "algorithm.rounds=2"]))
    with pytest.raises(ConfigError, match="algorithm.entropy_weight: gdas does not read it"):
        check_config(load_config(None, [*MINI, "algorithm.name=gdas", "algorithm.entropy_weight=0.1"]))


# ---- runs -----------------------------------------------------------------------------------------
SMALL = ["algorithm.name=enas", "algorithm.controller_steps=4", "algorithm.controller_aggregate=5"]


@pytest.mark.slow  # two short runs and a kill
def test_kill_mid_controller_update_then_resume_equals_uninterrupted(tmp_path):
    args = [*MINI, *SMALL, "protocol.epochs=3", "eval.epochs=[1,2,3]", f"out_dir={tmp_path}"]
    run = kill_mid_controller_update(tmp_path, args, kill_at=2)
    assert main(["train", "--resume", str(run), "runtime.threads=1"]) == 0
    straight = train(load_config(None, [*args, "name=straight"]))
    assert_same_run(run, straight)
    assert straight["final"]["enas_baseline"] is not None
