"""Measured rates -> wall time of one run's protocol and of a whole study spec.

One run: its config's epochs x training images per epoch (train portion, full batches)
over the training rate, plus each scheduled pool evaluation (eval.epochs that fall in
the run, and the last epoch) of pool_size archs x eval images over the evaluation rate.

A study: the sweep planner expands the spec exactly as `wsnas sweep` would. Paper and
sequential specs decide each stage from results, so the runs of later stages depend on
choices not made yet; two assumptions bracket them: every stage keeps the value listed
first (the spec's starting point), or every stage picks the value whose runs take
longest. Every run is costed at the measured rates (measured at one size: low-fidelity
runs are in truth faster, small-batch runs slower). With K runs packed on the GPU a
stage's runs share it at the measured aggregate rate, but a stage cannot end before its
longest run, which then runs at 1/K of that aggregate (stages run one after another).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wsnas.config import RunConfig
from wsnas.spaces import get_space
from wsnas.spaces.fewshot import split_edges, warmup_epochs
from wsnas.spaces.landmarks import start_epoch
from wsnas.sweep import Planner, load_spec

CIFAR10_TRAIN, CIFAR10_TEST = 50_000, 10_000


def run_seconds(
    cfg: RunConfig,
    train_rate: float,
    eval_rate: float,
    train_images: int = CIFAR10_TRAIN,
    eval_images: int = CIFAR10_TEST,
) -> dict[str, Any]:
    """Training and evaluation seconds of one run of `cfg` at the given images/s."""
    p = cfg.protocol
    n_train = int((train_images - cfg.data.valid_size) * cfg.data.train_portion)
    per_epoch = (n_train // p.batch_size) * p.batch_size
    evals = len({e for e in cfg.eval.epochs if 1 <= e <= p.epochs} | {p.epochs})
    n_eval = min(cfg.eval.num_images or eval_images, eval_images)
    train_s = heuristic_epochs(cfg) * per_epoch / train_rate
    eval_s = evals * cfg.eval.pool_size * n_eval / eval_rate
    return {
        "train_s": train_s,
        "eval_s": eval_s,
        "total_s": train_s + eval_s,
        "epochs": p.epochs,
        "train_images_per_epoch": per_epoch,
        "evaluations": evals,
        "pool_size": cfg.eval.pool_size,
        "eval_images": n_eval,
    }


def heuristic_epochs(cfg: RunConfig) -> float:
    """Epoch-equivalents of forward/backward passes: protocol.epochs, plus the landmark term's 2 passes
    per pair and step after its warm-up, or K sub-super-nets per step after a few-shot split."""
    e, lm, fs = cfg.protocol.epochs, cfg.landmark, cfg.fewshot
    if lm.num_archs:
        start = start_epoch(e, lm.warmup_fraction)
        return start + (e - start) * (1 + 2 * lm.pairs)
    space = get_space(cfg.space.name)
    edges = split_edges(space, fs.split)
    if edges:
        w = warmup_epochs(e, fs.warmup_fraction)
        return w + len(getattr(space, "ops", ())) ** len(edges) * (e - w)
    return float(e)


def study_stages(spec_path: Path, cost: Callable[[RunConfig], float], choose: str) -> list[dict[str, Any]]:
    """The spec's runs stage by stage, each run once: [{stage, runs, seconds: [...]}, ...].

    `choose`: "first" (every decided stage keeps its first listed value) or "longest".
    """
    spec, spec_dir = load_spec(spec_path)
    with tempfile.TemporaryDirectory() as tmp:
        planner = Planner(spec, spec_dir, tmp)
        seen: set[str] = set()
        stages: list[dict[str, Any]] = []

        def add(name: str, runs: list[Any]) -> None:
            new = [r for r in runs if r.name not in seen]
            seen.update(r.name for r in new)
            stages.append({"stage": name, "runs": len(new), "seconds": [cost(r.cfg) for r in new]})

        if spec.mode == "grid":
            add("grid", planner.grid())
            return stages
        if spec.mode == "one-at-a-time":
            add("one-at-a-time", planner.one_at_a_time())
            return stages
        fixed: dict[str, Any] = {}
        for factor in spec.factor_order():
            runs = planner.stage(factor, fixed)
            add(factor, runs)
            values = spec.factors[factor]
            if choose == "longest":

                def value_cost(v: Any, runs: list[Any] = runs, factor: str = factor) -> float:
                    return sum(cost(r.cfg) for r in runs if r.assign.get(factor) == v)

                fixed[factor] = max(values, key=value_cost)
            else:
                fixed[factor] = values[0]
        if spec.mode == "paper":
            add("one-at-a-time (around the tuned baseline)", planner.around_tuned(fixed))
        return stages


def packed_hours(stages: list[dict[str, Any]], aggregate: dict[int, float]) -> dict[str, float]:
    """Study wall hours with K runs sharing the GPU, for each measured K (aggregate images/s at K)."""
    one = aggregate[1]
    out = {}
    for k_max in sorted(aggregate):
        total = 0.0
        for st in stages:
            if not st["runs"]:
                continue
            k = max(x for x in aggregate if x <= min(k_max, st["runs"]))
            shared = sum(st["seconds"]) * one / aggregate[k]
            longest_alone = max(st["seconds"]) * one / (aggregate[k] / k)
            total += max(shared, longest_alone)
        out[str(k_max)] = round(total / 3600.0, 2)
    return out
