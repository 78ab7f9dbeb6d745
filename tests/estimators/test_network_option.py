"""`wsnas estimate --network`: refusals, the identity, estimate.json, the minibatch's normalisation
(real CIFAR-10) and a run on the zero-cost authors' network through the CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from wsnas import api
from wsnas.cli.main import build_parser, main
from wsnas.config import load_config
from wsnas.core.errors import ConfigError
from wsnas.data.cifar import CIFAR10_MEAN, CIFAR10_STD
from wsnas.estimators import scoring
from wsnas.estimators.identity import estimate_identity
from wsnas.estimators.networks import NETWORKS, build_network
from wsnas.estimators.plan import EstimateOptions, load_plan, minibatch, plan_estimate
from wsnas.estimators.scores_file import read_scores
from wsnas.spaces.nb201.zc_reference import ZCReferenceNet

AUTHORS_MEAN, AUTHORS_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
"""zero-cost-nas `foresight/dataset.py`, 'cifar' branch."""


@pytest.fixture
def csv_gt(shared_data: Path) -> Path:
    path = shared_data / "nb201" / "nb201_accuracy_200ep.csv"
    if not path.is_file():
        pytest.skip(f"real data absent: {path}")
    return path


def _cfg(tmp_path: Path, gt: Path, *extra: str):
    return load_config(
        None,
        [f"bench.source={gt}", f"out_dir={tmp_path}", "eval.pool_size=3", "runtime.device=cpu", *extra],
    )


def _opts(network: str, est: str = "synflow,fisher") -> EstimateOptions:
    return EstimateOptions(est.split(","), batch=8, channels=4, cells=1, network=network)


def test_refused_where_there_is_no_reference_network_or_nothing_for_it_to_change(tmp_path, csv_gt):
    with pytest.raises(
        ConfigError, match="--network: got 'authors'; use one of benchmark, zero_cost_authors"
    ):
        plan_estimate(_cfg(tmp_path, csv_gt), _opts("authors"))
    mini = load_config(
        None, ["space.name=nb201_mini", "data.name=digits", "eval.pool_size=4", f"out_dir={tmp_path}"]
    )
    with pytest.raises(ConfigError, match="space nb201_mini has no zero-cost authors' network"):
        plan_estimate(mini, _opts("zero_cost_authors"))
    digits = _cfg(tmp_path, csv_gt, "data.name=digits", "bench.allow_metric_mismatch=true")
    with (
        pytest.warns(UserWarning, match="allow_metric_mismatch"),
        pytest.raises(ConfigError, match="preprocessing exists for cifar10, cifar100, imagenet16_120, not"),
    ):
        plan_estimate(digits, _opts("zero_cost_authors"))
    with pytest.raises(ConfigError, match="changes only the zero-cost estimators, and this run has none"):
        plan_estimate(_cfg(tmp_path, csv_gt), _opts("zero_cost_authors", "params,flops"))
    with pytest.raises(ConfigError, match="changes only the zero-cost estimators"):
        api.estimate(_cfg(tmp_path, csv_gt), ["params"], network="zero_cost_authors")
    assert not any(tmp_path.iterdir())
    plan_estimate(mini, _opts("benchmark"))  # the default acts everywhere


def test_identity_differs_and_a_benchmark_run_keeps_the_identity_it_had_before_the_option(tmp_path, csv_gt):
    cfg = _cfg(tmp_path, csv_gt)
    bm, zc = plan_estimate(cfg, _opts("benchmark")), plan_estimate(cfg, _opts("zero_cost_authors"))
    assert bm.identity["config"] != zc.identity["config"]
    assert bm.options_record()["network"] == "benchmark"
    record = bm.options_record()
    bm.options_record = lambda: {k: v for k, v in record.items() if k != "network"}  # type: ignore[method-assign]
    assert estimate_identity(bm) == bm.identity


def test_cli_choices_are_the_networks():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices["estimate"]._actions if a.dest == "network")
    assert tuple(action.choices) == NETWORKS and action.default == "benchmark"


def test_minibatch_is_the_same_images_normalised_with_the_authors_constants(tmp_path, csv_gt, cifar10_root):
    cfg = _cfg(tmp_path, csv_gt, f"data.root={cifar10_root}")
    (xb, yb), n = minibatch(cfg, 16, torch.device("cpu"))
    (xz, yz), _ = minibatch(cfg, 16, torch.device("cpu"), "zero_cost_authors")
    assert n == 10 and torch.equal(yb, yz)
    view = (1, 3, 1, 1)
    pixels = xb * torch.tensor(CIFAR10_STD).view(view) + torch.tensor(CIFAR10_MEAN).view(view)
    want = (pixels - torch.tensor(AUTHORS_MEAN).view(view)) / torch.tensor(AUTHORS_STD).view(view)
    torch.testing.assert_close(xz, want, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(xz, xb, atol=1e-2)


def test_a_run_on_the_authors_network_records_it_and_resumes_with_it(
    tmp_path, csv_gt, cifar10_root, monkeypatch
):
    nets: list[type] = []

    def spy(*a, **kw):
        net = build_network(*a, **kw)
        nets.append(type(net))
        return net

    monkeypatch.setattr(scoring, "build_network", spy)
    args = ["estimate", "--estimators", "fisher,synflow,params", "--batch", "8", "--channels", "4"]
    args += ["--cells", "1", "--network", "zero_cost_authors", "-q", "--json", "name=zc"]
    args += [f"bench.source={csv_gt}", f"out_dir={tmp_path}", "eval.pool_size=3", "runtime.device=cpu"]
    args += [f"data.root={cifar10_root}"]
    assert main(args) == 0
    run = tmp_path / "zc"
    assert json.loads((run / "estimate.json").read_text())["network"] == "zero_cost_authors"
    rows = read_scores(run / "scores.csv", ["fisher", "synflow", "params"])
    assert len(rows) == 3
    assert nets == [ZCReferenceNet] * 3
    plan = load_plan(run)
    assert plan.opts.network == "zero_cost_authors"
    assert plan.identity == json.loads((run / "identity.json").read_text())
