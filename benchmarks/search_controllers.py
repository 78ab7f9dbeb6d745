"""ENAS's and NAO's controller work next to their weight steps: is the controller a step's cost, or not?

The weights of ENAS and NAO train on single paths (a Random-NAS step plus a controller sample, or a
pool draw); their controllers work in a phase after the epoch's weight steps (`Algorithm.end_epoch`).
This times, on wsnas's NB201 super-net (C, N, batch as given), through the trainer's own step
function:

- `single_path_step`, `enas_weight_step`, `nao_weight_step`: one weight step each;
- `eval_forward`: one single-path forward in eval mode without gradient (what ENAS's reward, the
  derived-architecture choice and NAO's pool scoring cost per architecture, and the pool evaluation
  per batch);
- `enas_sample_one`, `enas_update_only`: the controller's own work without any network forward: one
  sample (inside each ENAS weight step), and one update's sampling and REINFORCE step;
- `enas_controller_step`: one REINFORCE step of the controller (its `controller_aggregate` samples,
  each scored on one batch, and the update), measured over `--controller-steps` steps;
- `nao_controller_epoch`: one epoch of NAO's encoder-predictor-decoder training on the pool's pairs
  (`seed_archs` architectures, `expand` encodings each), measured over `--nao-controller-epochs`.

From these and the references' settings (xautodl's ENAS: 50 controller steps of 20 samples per epoch,
half of CIFAR-10's training set for the weights; NAO_V1: 4 rounds over 200 epochs, a pool of 600, 1000
controller epochs a round) it derives each phase's share of an epoch. Repeats interleaved, medians.

    python benchmarks/search_controllers.py --threads 1 --repeats 3
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from _common import device_name, sync
from search_algorithms import search_trainer
from torch import nn

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.spaces.nb201.supernet import NB201SuperNet
from wsnas.trainers.search_steps import algorithm_step, batch_accuracy

CIFAR10_TRAIN = 50_000
ENAS_REFERENCE = {"controller_steps": 50, "controller_aggregate": 20, "batch": 128, "valid": 25_000}
"""xautodl's ENAS.config / ENAS.sh: 50 controller steps of 20 samples, batch 128, the cifar10-valid split."""
NAO_REFERENCE = {"rounds": 4, "epochs": 200, "controller_epochs": 1000, "batch": 128}
"""NAO_V1 train_search.py (the NB201 reading in docs/search.md): 4 rounds over 200 epochs, 1000 controller
epochs a round."""


def weight_stepper(trainer: Any) -> Callable[[Any], None]:
    def step(batch: Any) -> None:
        x, y = batch
        if trainer.algo is None:
            trainer.optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(trainer.model(x, trainer.sampler.step_paths(trainer.rng)[0]), y).backward()
            nn.utils.clip_grad_norm_(trainer.params, 5.0)
            trainer.optimizer.step()
            return
        algorithm_step(trainer, 0, x, y)

    return step


class Stream:
    """The architecture split as the controllers read it: the next batch, or the plain batches."""

    def __init__(self, batches: list[Any]) -> None:
        self.batches, self.i = batches, 0

    def next(self) -> Any:
        self.i += 1
        return self.batches[self.i % len(self.batches)]

    def plain_batches(self) -> Callable[[], Any]:
        return self.next


def timed(fn: Callable[[], Any], device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--cells", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=3, help="weight steps and eval forwards per repeat")
    p.add_argument("--controller-steps", type=int, default=1, help="ENAS controller steps per repeat")
    p.add_argument("--nao-controller-epochs", type=int, default=2, help="NAO controller epochs per repeat")
    p.add_argument("--nao-seed-archs", type=int, default=600)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(args.seed)
    batches = [
        (
            torch.randn(args.batch_size, 3, 32, 32, generator=gen).to(device),
            torch.randint(0, 10, (args.batch_size,), generator=gen).to(device),
        )
        for _ in range(max(args.steps, 4))
    ]
    torch.manual_seed(args.seed)
    base = NB201SuperNet(
        MappingConfig(), LowFidelityConfig(channels=args.channels, cells_per_stage=args.cells)
    )
    base = base.to(device)
    nao_extra = [
        f"algorithm.seed_archs={args.nao_seed_archs}",
        f"algorithm.new_archs={args.nao_seed_archs // 2}",
        f"algorithm.controller_epochs={args.nao_controller_epochs}",
    ]
    enas_extra = [f"algorithm.controller_steps={args.controller_steps}"]
    trainers = {
        "single_path_step": search_trainer("none", copy.deepcopy(base), args),
        "enas_weight_step": search_trainer("enas", copy.deepcopy(base), args, enas_extra),
        "nao_weight_step": search_trainer("nao", copy.deepcopy(base), args, nao_extra),
    }
    enas, nao = trainers["enas_weight_step"].algo, trainers["nao_weight_step"].algo
    enas.begin_epoch(0, 310)
    nao.begin_epoch(0, 1)  # a one-epoch run: its only epoch is a round's
    stream = Stream(batches)
    scorer = batch_accuracy(base, False)
    arch = trainers["single_path_step"].sampler.step_paths(np.random.default_rng(1))[0]

    def eval_forwards() -> None:
        for b in batches[: args.steps]:
            scorer(arch, b)

    scores = [float(i % 7) for i in range(len(nao.pool))]

    def nao_fit() -> None:
        nao.train_controller(nao.pool, scores)

    def steps_of(trainer: Any) -> Callable[[], Any]:
        step = weight_stepper(trainer)
        return lambda: [step(b) for b in batches[: args.steps]]

    work: dict[str, Callable[[], Any]] = {k: steps_of(t) for k, t in trainers.items()}
    work["eval_forward"] = eval_forwards
    work["enas_controller_step"] = lambda: enas.end_epoch(base, scorer, stream)
    work["nao_controller_epoch"] = nao_fit
    agg = int(enas.settings["controller_aggregate"])
    work["enas_sample_one"] = lambda: [enas.controller.sample(1, enas.generator) for _ in range(args.steps)]
    work["enas_update_only"] = lambda: enas.controller_step(
        enas.controller.sample(agg, enas.generator), [0.5] * agg
    )
    per = {
        "single_path_step": args.steps,
        "enas_weight_step": args.steps,
        "nao_weight_step": args.steps,
        "eval_forward": args.steps,
        "enas_controller_step": args.controller_steps,
        "nao_controller_epoch": args.nao_controller_epochs,
        "enas_sample_one": args.steps,
        "enas_update_only": 1,
    }
    for f in work.values():  # warm-up, untimed
        f()
    times: dict[str, list[float]] = {k: [] for k in work}
    order = list(work)
    for r in range(args.repeats):
        for k in order if r % 2 == 0 else order[::-1]:
            times[k].append(timed(work[k], device) / per[k])
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps(summary(args, device, med, times, len(nao.pool))))


def summary(
    args: argparse.Namespace,
    device: torch.device,
    med: dict[str, float],
    times: dict[str, list[float]],
    pool: int,
) -> dict[str, Any]:
    """The medians, and each controller phase's share of an epoch at the references' settings (step
    times scaled linearly from this batch size to the reference's)."""
    b = args.batch_size
    e, n = ENAS_REFERENCE, NAO_REFERENCE
    enas_steps = (CIFAR10_TRAIN - e["valid"]) // e["batch"]
    enas_weights = enas_steps * med["enas_weight_step"] * e["batch"] / b
    enas_phase = (
        e["controller_steps"] * med["enas_controller_step"] * e["controller_aggregate"] / 20 * e["batch"] / b
    )
    nao_steps = (CIFAR10_TRAIN - e["valid"]) // n["batch"]
    nao_weights = nao_steps * med["nao_weight_step"] * n["batch"] / b
    nao_round = (
        pool * med["eval_forward"] * n["batch"] / b + n["controller_epochs"] * med["nao_controller_epoch"]
    )
    nao_phase = nao_round * n["rounds"] / n["epochs"]
    return {
        "device": device_name(device),
        "threads": args.threads,
        "C": args.channels,
        "N": args.cells,
        "batch_size": b,
        "repeats": args.repeats,
        "seconds_median": {k: round(v, 4) for k, v in med.items()},
        "per_repeat": {k: [round(t, 4) for t in v] for k, v in times.items()},
        "weight_step_over_single_path": {
            "enas": round(med["enas_weight_step"] / med["single_path_step"], 3),
            "nao": round(med["nao_weight_step"] / med["single_path_step"], 3),
        },
        "controller_share_of_a_step": {
            "enas_weight_step_sampling": round(med["enas_sample_one"] / med["enas_weight_step"], 4),
            "enas_controller_step_sampling_and_update": round(
                med["enas_update_only"] / med["enas_controller_step"], 4
            ),
        },
        "enas_epoch_at_reference": {
            "weight_steps": enas_steps,
            "weights_s": round(enas_weights, 1),
            "controller_s": round(enas_phase, 1),
            "controller_share": round(enas_phase / (enas_weights + enas_phase), 3),
        },
        "nao_epoch_at_reference": {
            "weight_steps": nao_steps,
            "weights_s": round(nao_weights, 1),
            "round_s": round(nao_round, 1),
            "controller_s_per_epoch_amortised": round(nao_phase, 1),
            "controller_share": round(nao_phase / (nao_weights + nao_phase), 3),
            "pool": pool,
        },
        "note": "controller shares at the references' settings from step times measured at this batch and "
        "scaled linearly in images to the reference's batch (128); a GPU's batch scaling is sub-linear, so "
        "there the controller's share (small batches, sequential LSTM) is larger than this projects",
    }


if __name__ == "__main__":
    main()
