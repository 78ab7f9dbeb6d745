"""Landmark regularisation and few-shot super-nets (issue 25), on toy nets and the shipped mini space."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from wsnas.config import load_config
from wsnas.core.errors import ConfigError
from wsnas.engine.rundir import RunDir
from wsnas.groundtruth import open_benchmark
from wsnas.presets.demo import preset_path
from wsnas.search.moves import Moves
from wsnas.search.run import run_search
from wsnas.spaces import get_space
from wsnas.spaces.base import SuperNet
from wsnas.spaces.check import check_config
from wsnas.spaces.fewshot import Owners, draw_owned, split_edges, warmup_epochs
from wsnas.spaces.fewshot_net import FewShotSuperNet
from wsnas.spaces.landmarks import coefficient, draw_pairs, select_landmarks, start_epoch
from wsnas.trainers.evaluate import make_pool
from wsnas.trainers.landmark import pair_term
from wsnas.trainers.supernet_trainer import Trainer


class ToyNet(SuperNet, nn.Module):
    """Logits [theta[arch] * x0, 0]: the cross-entropy of class 0 is softplus(-theta[arch] * x0)."""

    def __init__(self, thetas: list[float]) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(thetas, dtype=torch.float64))

    def forward(self, x: torch.Tensor, arch: int) -> torch.Tensor:
        return torch.stack([self.theta[arch] * x[:, 0], torch.zeros_like(x[:, 0])], dim=1)


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


@pytest.mark.parametrize("kind", ["relu", "softplus"])
def test_ranking_term_and_its_gradient_equal_a_hand_computation(kind):
    # landmark 0 (worse GT) has theta 2.0, landmark 1 (better GT) theta 0.5: the super-net orders
    # them against their ground truth (the better one has the higher loss), so relu is active.
    net, x, y, coef = (
        ToyNet([2.0, 0.5]),
        torch.tensor([[1.0, 0.0]], dtype=torch.float64),
        torch.tensor([0]),
        3.0,
    )
    term = pair_term(net, x, y, worse=0, better=1, coef=coef, kind=kind)
    term.backward()
    l_worse, l_better = softplus(-2.0), softplus(-0.5)  # CE = softplus(-theta)
    d = l_better - l_worse
    f, df = (max(d, 0.0), 1.0) if kind == "relu" else (softplus(d), sigmoid(d))
    assert term.item() == pytest.approx(coef * f, rel=1e-12)
    # dCE/dtheta = -sigmoid(-theta); the term moves the better one's loss down, the worse one's up
    want = [coef * df * sigmoid(-2.0), -coef * df * sigmoid(-0.5)]
    assert net.theta.grad.tolist() == pytest.approx(want, rel=1e-12)


def test_a_pair_in_ground_truth_order_adds_no_relu_gradient():
    net = ToyNet([0.5, 2.0])
    x, y = torch.tensor([[1.0, 0.0]], dtype=torch.float64), torch.tensor([0])
    term = pair_term(net, x, y, worse=0, better=1, coef=10.0, kind="relu")
    term.backward()
    assert term.item() == 0.0 and net.theta.grad.tolist() == [0.0, 0.0]


def test_pairs_schedule_and_start_follow_the_authors():
    rng = np.random.default_rng(0)
    pairs = draw_pairs(rng, 5, 2000)
    assert all(0 <= a < b < 5 for a, b in pairs)
    first = np.bincount([a for a, _ in pairs], minlength=4) / len(pairs)
    assert first == pytest.approx([0.25] * 4, abs=0.04)  # a uniform over 0..M-2, not over pairs
    assert start_epoch(400, 0.375) == 150
    assert coefficient(149, 400, 150, 10.0, "cosine_increase") == 0.0
    assert coefficient(150, 400, 150, 10.0, "constant") == 10.0
    last = coefficient(399, 400, 150, 10.0, "cosine_increase")
    assert last == pytest.approx(10.0 * 0.5 * (1 - math.cos(math.pi * 250 / 400)))  # ~6.9: their formula


def test_landmarks_are_drawn_with_the_seed_sorted_worst_first_and_never_enter_the_pool():
    space = get_space("nb201_mini")
    bench = open_benchmark(space)
    a, b = select_landmarks(space, bench, 25, None, 0), select_landmarks(space, bench, 25, None, 0)
    assert a == b and a != select_landmarks(space, bench, 25, None, 1)
    assert list(a.gt) == sorted(a.gt) and len(set(a.rows)) == 25
    base = make_pool(space, bench, 100, seed=0)
    pool = make_pool(space, bench, 100, seed=0, exclude=frozenset(a.rows))
    rows = {bench.row(s) for s in pool.arch_strs}
    assert len(pool) == 100 and not rows & set(a.rows)  # filled from the rest of the space
    kept = [s for s in base.arch_strs if bench.row(s) not in a.rows]
    assert pool.arch_strs[: len(kept)] == kept  # the baseline's pool, landmarks replaced
    assert len(make_pool(space, bench, 125, seed=0, exclude=frozenset(a.rows))) == 100  # rest runs out


def test_landmark_file(tmp_path):
    space = get_space("nb201_mini")
    f = tmp_path / "marks.txt"
    f.write_text("# two\n|none~0|+|none~0|none~1|\n|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|\n")
    marks = select_landmarks(space, open_benchmark(space), 2, str(f), 0)
    assert set(marks.arch_strs) == {
        "|none~0|+|none~0|none~1|",
        "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|",
    }
    with pytest.raises(ConfigError, match="lists 2 architectures"):
        check_config(mini(tmp_path, "landmark.num_archs=3", f"landmark.archs_file={f}"))
    f.write_text("|none~0|+|none~0|none~1|\n|none~0|+|bogus~0|none~1|\n")
    with pytest.raises(ConfigError, match="line 2"):
        check_config(mini(tmp_path, "landmark.num_archs=2", f"landmark.archs_file={f}"))


def toy_oneshot() -> nn.Module:
    torch.manual_seed(0)
    space = get_space("nb201_mini")
    cfg = load_config(None, ["space.name=nb201_mini", "lowfi.channels=4", "lowfi.cells_per_stage=1"])
    return space.supernet(cfg.mapping, cfg.lowfi)


def test_split_copies_the_oneshot_weights_and_each_arch_runs_on_its_owner():
    oneshot = toy_oneshot()
    owners = Owners((1,), 5)
    net = FewShotSuperNet(oneshot, owners)
    ref = oneshot.state_dict()
    for sub in net.subnets:
        got = sub.state_dict()
        assert got.keys() == ref.keys() and all(torch.equal(got[k], ref[k]) for k in ref)
        assert all(
            p.data_ptr() != q.data_ptr() for p, q in zip(sub.parameters(), oneshot.parameters(), strict=True)
        )
    with torch.no_grad():  # make the copies differ, then check who answers
        for k, sub in enumerate(net.subnets):
            for p in sub.parameters():
                p.add_(0.1 * k)
    net.eval()
    x = torch.randn(2, 3, 8, 8)
    for arch in [(0, 3, 2), (4, 0, 1), (2, 2, 2)]:
        k = owners.owner(arch)
        assert k == arch[1]
        assert torch.equal(net(x, arch), net.subnets[k](x, arch))
        others = [j for j in range(5) if j != k]
        assert not any(torch.equal(net(x, arch), net.subnets[j](x, arch)) for j in others)
    assert net.path_key((0, 0, 1)) != net.path_key((0, 1, 1))


def test_owned_draws_stay_in_their_sub_space_and_edges_parse():
    space = get_space("nb201_mini")
    owners = Owners(split_edges(space, "0,2"), 5)
    assert len(owners) == 25 and split_edges(space, "default") == (0,) and split_edges(space, "off") == ()
    rng = np.random.default_rng(0)
    for k in (0, 7, 24):
        assert all(owners.owner(draw_owned(space.sample, rng, owners, k)) == k for _ in range(20))
    with pytest.raises(ConfigError, match="0 \\(0->1\\)"):
        split_edges(space, "3")
    assert warmup_epochs(50, 0.8) == 40 and warmup_epochs(2, 0.8) == 1


def mini(tmp_path, *overrides):
    return load_config(
        preset_path(),
        [
            "lowfi.channels=4",
            "protocol.batch_size=256",
            "eval.pool_size=20",
            "eval.num_images=64",
            "eval.epochs=[]",
            "runtime.threads=1",
            f"out_dir={tmp_path}",
            *overrides,
        ],
    )


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["space.name=nb101", "fewshot.split=default"], "fewshot.split=default has no effect on nb101"),
        (["space.name=darts_nds", "fewshot.split=0"], "a sub-super-net would not own"),
        (["landmark.coef=3"], "use landmark.num_archs > 0"),
        (["fewshot.warmup_fraction=0.5"], "use fewshot.split != off"),
        (["landmark.num_archs=1"], "at least 2 landmarks"),
        (["fewshot.split=default", "sampler.name=fairnas"], "FairNAS"),
        (["fewshot.split=default", "landmark.num_archs=10"], "use one of the two"),
        (["fewshot.split=9"], "edges are"),
    ],
)
def test_refused_at_config_time(tmp_path, overrides, needle):
    cfg = load_config(None, overrides) if overrides[0].startswith("space.") else mini(tmp_path, *overrides)
    with pytest.raises(ConfigError, match=needle):
        check_config(cfg)


def test_defaults_keep_the_old_hash_and_a_setting_makes_a_new_one(tmp_path):
    d = load_config(None, []).to_dict()
    from wsnas.config import experiment_hash

    before = {k: v for k, v in d.items() if k not in ("landmark", "fewshot")}
    assert experiment_hash(d) == experiment_hash(before)
    assert load_config(None, ["landmark.num_archs=10"]).hash() != load_config(None, []).hash()
    assert load_config(None, ["fewshot.split=default"]).hash() != load_config(None, []).hash()


def _trainer(cfg, name):
    cfg = cfg.model_copy(update={"name": name})
    run = RunDir.for_config(cfg)
    trainer = Trainer(cfg, run)
    run.create(cfg)
    return trainer, run


@pytest.mark.slow  # two tiny mini runs and a resume (~10-20 s on a loaded core)
def test_fewshot_run_splits_resumes_and_reports(tmp_path):
    cfg = mini(
        tmp_path,
        "protocol.epochs=3",
        "fewshot.split=default",
        "fewshot.warmup_fraction=0.34",
        "data.valid_size=64",
    )
    full, _ = _trainer(cfg, "full")
    full.run_epoch()
    oneshot = {k: v.clone() for k, v in full.model.state_dict().items()}
    full.split()
    for sub in full.model.subnets:  # at the split every sub-super-net holds the one-shot weights
        assert all(torch.equal(sub.state_dict()[k], oneshot[k]) for k in oneshot)
    while full.epoch < full.epochs:
        full.run_epoch()
    want = full.finish()
    assert want["fewshot"]["subnets"] == 5 and want["fewshot"]["oneshot_epochs"] == 1
    cut, run = _trainer(cfg, "cut")
    cut.run_epoch()
    cut.run_epoch()  # the checkpoint now holds 5 sub-super-nets
    again = Trainer(cfg.model_copy(update={"name": "cut"}), RunDir(run.path))
    again.resume()
    assert again.is_split and again.epoch == 2
    got = again.fit()
    assert got["final"]["skdt"] == want["final"]["skdt"]
    assert got["final"]["supernet_acc_mean"] == want["final"]["supernet_acc_mean"]
    found = run_search(run.path, "random", budget=4, overrides=["runtime.threads=1"])  # loads 5 sub-nets
    assert found.summary["evals"] == 4 and found.summary["found"]["arch"] is not None


@pytest.mark.slow  # one tiny mini run
def test_landmark_run_keeps_landmarks_out_of_the_pool_and_states_them(tmp_path):
    cfg = mini(
        tmp_path,
        "protocol.epochs=2",
        "landmark.num_archs=10",
        "landmark.warmup_fraction=0.5",
        "data.valid_size=64",
    )
    trainer, run = _trainer(cfg, "lm")
    assert not {trainer.bench.row(s) for s in trainer.pool.arch_strs} & set(trainer.landmarks.rows)
    summary = trainer.fit()
    lm = summary["landmark"]
    assert lm["num_archs"] == 10 and "were an input of training" in lm["note"]
    assert lm["start_epoch"] == 2 and lm["extra_forward_backward_per_step"] == 2
    assert set(lm["archs"]).isdisjoint(a["arch"] for a in summary["top_archs"]["archs"])
    found = run_search(run.path, "random", budget=4, overrides=["runtime.threads=1"])
    assert found.summary["landmarks_excluded"]["archs"] == lm["archs"]


def test_a_search_never_visits_a_landmark():
    space = get_space("nb201_mini")
    bench = open_benchmark(space)
    marks = select_landmarks(space, bench, 25, None, 0)
    moves = Moves(space, bench, exclude=frozenset(marks.rows))
    assert moves.size == 100
    seen = {space.format(moves.start(i)) for i in range(moves.size)}
    assert len(seen) == 100 and not seen & set(marks.arch_strs)
    rng = np.random.default_rng(0)
    arch = moves.start(0)
    for _ in range(50):
        assert all(space.format(a) not in marks.arch_strs for a in moves.neighbours(arch))
        arch = moves.mutate(arch, rng)
        assert space.format(arch) not in marks.arch_strs


def test_a_sweep_refuses_a_combination_at_plan_time(tmp_path):
    from wsnas.sweep import Sweep, load_spec

    spec = tmp_path / "bad.yaml"
    spec.write_text(
        f"description: few-shot with FairNAS\nbase: {preset_path()}\noverrides:\n  sampler.name: fairnas\n"
        'factors:\n  fewshot.split: ["off", default]\nseeds: [0]\nmode: one-at-a-time\n'
    )
    s, spec_dir = load_spec(spec)
    with pytest.raises(ConfigError, match="sweep run \\(fewshot.split=default\\).*FairNAS"):
        Sweep(s, spec_dir, tmp_path / "out", log=lambda m: None).plan()
