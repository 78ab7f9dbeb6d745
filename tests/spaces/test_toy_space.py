"""Adding a space is one module: a toy space registered here trains and scores end to end.

It follows the recipe of docs/architecture.md ("Adding a space"): implement
`SearchSpace` (codec, samplers, networks, facts, loader, factors) and register
it; nothing in wsnas names it, yet config checks, the ground-truth cache, the
trainer, the evaluation pool and the metrics all work with it.
"""

from __future__ import annotations

import csv
import json
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from wsnas.config import load_config
from wsnas.core.errors import ArchError, BenchmarkError, ConfigError
from wsnas.groundtruth import BenchLoader, Benchmark
from wsnas.nn.params import count_params
from wsnas.spaces import SPACES, get_space
from wsnas.spaces.base import SearchSpace, SuperNet
from wsnas.spaces.check import check_config
from wsnas.spaces.factors import ANY, Factor
from wsnas.trainers.supernet_trainer import train

OPS = ("skip", "conv")
EDGES = 2


def read_csv(source: Path, metric: str, schedule: str) -> Benchmark:
    """`arch,acc` rows: the toy benchmark's official format."""
    rows = list(csv.DictReader(source.open()))
    if not rows or set(rows[0]) != {"arch", "acc"}:
        raise BenchmarkError(f"toy ground truth {source}: expected columns arch,acc")
    return Benchmark(
        index=range(len(rows)),
        arch=[r["arch"] for r in rows],
        canonical=[r["arch"] for r in rows],
        acc=[float(r["acc"]) for r in rows],
    )


def toy_metric(metric: str) -> str:
    if metric != "acc":
        raise BenchmarkError(f"toy ground truth has no metric {metric!r}; metrics: acc")
    return metric


class ToyCell(nn.Module):
    """EDGES edges in a chain, each skip or a conv3x3 + BN of its own."""

    def __init__(self, C: int, affine: bool) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(C, C, 3, padding=1, bias=False), nn.BatchNorm2d(C, affine=affine))
            for _ in range(EDGES)
        )

    def forward(self, x: torch.Tensor, arch: tuple[int, ...]) -> torch.Tensor:
        for conv, op in zip(self.convs, arch, strict=True):
            x = x if op == 0 else F.relu(conv(x))
        return x


class ToySuperNet(SuperNet, nn.Module):
    def __init__(self, C: int, affine: bool, num_classes: int) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, C, 3, padding=1)
        self.cell = ToyCell(C, affine)
        self.head = nn.Linear(C, num_classes)

    def forward(self, x: torch.Tensor, arch: Any) -> torch.Tensor:
        return self.head(self.cell(self.stem(x), tuple(arch)).mean((2, 3)))


class ToyNet(nn.Module):
    def __init__(self, arch: tuple[int, ...], C: int, num_classes: int) -> None:
        super().__init__()
        self.arch, self.inner = arch, ToySuperNet(C, True, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x, self.arch)


class ToySpace(SearchSpace):
    name = "toy"
    title = "Toy-4"
    proxy = {
        "lr": 0.1,
        "epochs": 2,
        "batch_size": 64,
        "weight_decay": 0.0,
        "nesterov": False,
        "channels": 4,
        "cells": 1,
    }
    loader = BenchLoader(
        read=read_csv,
        normalize_metric=toy_metric,
        sources="an arch,acc CSV",
        default_metric="acc",
        default_schedule="1",
    )
    factors = {"mapping.bn_affine": Factor((True, False)), "lowfi.channels": Factor(ANY)}
    samplers = ("random_nas", "random_a")

    num_archs = num_unique = len(OPS) ** EDGES

    def parse(self, text: str) -> tuple[int, ...]:
        ops = text.strip().split("-")
        if len(ops) != EDGES or any(o not in OPS for o in ops):
            raise ArchError(f"toy arch {text!r}: expected {EDGES} of {OPS} joined by '-'")
        return tuple(OPS.index(o) for o in ops)

    def format(self, arch: Any) -> str:
        return "-".join(OPS[o] for o in arch)

    def canonical(self, arch: Any) -> str:
        return self.format(self.parse(arch) if isinstance(arch, str) else arch)

    def sample(self, rng: np.random.Generator) -> tuple[int, ...]:
        return tuple(int(o) for o in rng.integers(0, len(OPS), EDGES))

    sample_unique = sample

    def build_supernet(self, mapping: Any, lowfi: Any, num_classes: int) -> ToySuperNet:
        return ToySuperNet(lowfi.channels, mapping.bn_affine, num_classes)

    def standalone(self, arch: Any, channels: int = 4, cells: int = 1, num_classes: int = 10) -> ToyNet:
        return ToyNet(tuple(arch), channels, num_classes)

    def arch_facts(self, arch: Any) -> dict[str, Any]:
        return {"params_m": count_params(self.standalone(arch)) / 1e6, "flops_m": float("nan")}


@pytest.fixture
def toy(monkeypatch, tmp_path):
    """Register the toy space for this test only (the registry is restored afterwards)."""
    monkeypatch.setattr(SPACES, "_items", dict(SPACES._items))
    SPACES.register("toy")(ToySpace)
    gt = tmp_path / "toy.csv"
    archs = ["-".join(a) for a in product(OPS, repeat=EDGES)]
    gt.write_text("arch,acc\n" + "".join(f"{a},{50 + 10 * i}\n" for i, a in enumerate(archs)))
    return gt


def toy_config(tmp_path: Path, gt: Path, *extra: str):
    return load_config(
        None,
        [
            "space.name=toy",
            "data.name=digits",
            f"bench.source={gt}",
            f"bench.cache_dir={tmp_path / 'c'}",
            f"out_dir={tmp_path / 'runs'}",
            "lowfi.channels=4",
            "protocol.epochs=2",
            "protocol.batch_size=64",
            "eval.pool_size=4",
            "runtime.progress=false",
            "runtime.threads=1",
            *extra,
        ],
    )


def test_a_space_registered_outside_wsnas_trains_and_scores(toy, tmp_path):
    cfg = check_config(toy_config(tmp_path, toy))
    summary = train(cfg)
    assert summary["status"] == "finished"
    assert summary["benchmark"] == {"space": "toy", "metric": "acc", "size": 4, "file": "toy.csv"}
    final = summary["final"]
    assert final["pool_size"] == 4 and set(final) >= {"supernet_acc_mean", "kdt", "skdt", "final_acc", "pbr"}
    run = Path(summary["run_dir"])
    rows = list(csv.DictReader((run / "evals" / "epoch_0002.csv").open()))
    assert sorted((r["arch"], float(r["gt_acc"])) for r in rows) == [
        ("conv-conv", 80.0),
        ("conv-skip", 70.0),
        ("skip-conv", 60.0),
        ("skip-skip", 50.0),
    ]
    stored = json.loads((run / "summary.json").read_text())["final"]
    assert json.dumps(stored, sort_keys=True) == json.dumps(final, sort_keys=True)  # NaN == NaN as text
    assert get_space("toy").title == "Toy-4"


def test_the_toy_space_declares_what_it_honours(toy, tmp_path):
    with pytest.raises(ConfigError, match="'fairnas'"):
        check_config(toy_config(tmp_path, toy, "sampler.name=fairnas"))
    with pytest.raises(ConfigError, match="mapping.dropout_global=0.2 has no effect on toy"):
        check_config(toy_config(tmp_path, toy, "mapping.dropout_global=0.2"))
    check_config(toy_config(tmp_path, toy, "mapping.bn_affine=false", "sampler.name=random_a"))
