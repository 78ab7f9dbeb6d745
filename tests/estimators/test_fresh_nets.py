"""The runner's one build per architecture (`scoring.FreshNets`): every wsnas family scores the same
values on the reset network as on a new build from the seed (the rule that each family gets a fresh
network), and a family that changes what a reload cannot undo leaves the next one a new build."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from wsnas.config import load_config
from wsnas.estimators import scoring
from wsnas.estimators.plan import EstimateOptions, plan_estimate
from wsnas.estimators.proxies import SUMMARIES
from wsnas.estimators.registry import VOTE_OF

MINI = ["space.name=nb201_mini", "data.name=digits", "runtime.device=cpu", "runtime.threads=1"]
ALL = [n for n in SUMMARIES if not n.startswith("latency")] + [
    "fisher",
    "grad_norm",
    "grasp",
    "nwot",
    *VOTE_OF,
]


def plan_for(tmp_path: Path, names: list[str]):
    cfg = load_config(None, [*MINI, "eval.pool_size=4", f"out_dir={tmp_path}", "name=fresh"])
    opts = EstimateOptions(estimators=list(dict.fromkeys(names)), archs="pool", batch=16, channels=4, cells=1)
    return plan_estimate(cfg, opts)


def same(a: dict, b: dict) -> bool:
    return all(
        (math.isnan(a[k].value) and math.isnan(b[k].value) and a[k].reason == b[k].reason) or a[k] == b[k]
        for k in a
    ) and set(a) == set(b)


def test_every_family_scores_the_same_on_the_reset_network_as_on_a_new_build(tmp_path, monkeypatch):
    plan = plan_for(tmp_path, ALL)
    shared = [scoring.score_arch(plan, i)["values"] for i in range(len(plan.pool.archs))]
    builds: list[int] = []
    real_build = scoring.FreshNets.build

    def counted(self):
        builds.append(1)
        return real_build(self)

    monkeypatch.setattr(scoring.FreshNets, "build", counted)
    scoring.score_arch(plan, 0)
    n_shared = len(builds)
    assert n_shared == 1  # the first seven (which change the network for good) run last
    monkeypatch.setattr(scoring, "own_family", lambda compute: False)  # a new build per family
    builds.clear()
    fresh = [scoring.score_arch(plan, i)["values"] for i in range(len(shared))]
    assert len(builds) > n_shared  # the shared path builds less
    for a, b in zip(shared, fresh, strict=True):
        assert same(a, b), {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def test_a_changed_network_is_built_anew_for_the_next_family(tmp_path):
    plan = plan_for(tmp_path, ["params"])
    plan.num_classes = 10
    nets = scoring.FreshNets(plan, plan.pool.archs[0], plan.pool.arch_strs[0])
    net = nets.get(shared=True)
    first = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.rand(3)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    torch.rand(5)
    again = nets.get(shared=True)
    assert again is net and all(torch.equal(first[k], v) for k, v in again.state_dict().items())
    assert torch.equal(torch.rand(3), rng)  # the RNG as the build left it
    first_conv = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    first_conv.weight = torch.nn.Parameter(first_conv.weight.detach() + 1)  # a new tensor: not copied back
    third = nets.get(shared=True)
    assert third is not net and all(torch.equal(first[k], v) for k, v in third.state_dict().items())
    net = third
    net.double()  # a dtype a reload cannot undo
    assert nets.get(shared=True) is not net
    other = nets.get(shared=True)
    other.register_forward_hook(lambda *a: None)
    assert nets.get(shared=True) is not other
