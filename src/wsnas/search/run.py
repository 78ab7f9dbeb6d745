"""`run_search`: one search of one run dir's super-net, resumable, in RUN_DIR/search/NAME/.

search.json    the search's settings (algorithm, seed, budget, options, fitness split,
               checkpoint checksum, ground truth); a resume under other settings is refused
trajectory.csv every evaluated architecture, rewritten atomically after each one
summary.json   what was found, scored against the ground truth (`wsnas.search.summary`)
.wsnas.lock    one writer per search dir

A run still training (its run dir locked by the trainer) is searched at its checkpoint of that
moment: the search says which epoch and that training goes on, and the summary records it.

Resuming replays the algorithm from its seed with the recorded fitness (no evaluation),
checks that it asks for the recorded architectures in order, and continues from there;
so a killed search ends with the trajectory of an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from wsnas.algorithms.build import build_algorithm
from wsnas.core.atomic import write_text_atomic
from wsnas.core.dirlock import DirLock, holder
from wsnas.core.errors import WsnasError
from wsnas.engine.rundir import RunDir
from wsnas.search.algorithms import SearchOptions, check_preset, describe_algorithm, get_algorithm
from wsnas.search.fitness import GroundTruth, load_fitness, search_config
from wsnas.search.moves import Moves
from wsnas.search.oracle import Oracle, SearchStop
from wsnas.search.summary import summarize_search
from wsnas.search.trajectory import read_trajectory, write_trajectory
from wsnas.spaces.landmarks import select_landmarks

SEARCH_DIR = "search"
"""The folder of a run dir that holds its searches."""


def search_dir_name(algo: str, seed: int, budget: int, opts: SearchOptions | None = None) -> str:
    """ALGO-sSEED-bBUDGET (evolution with non-default options: ALGO-pP-kK-sSEED-bBUDGET)."""
    return f"{algo}{(opts or SearchOptions()).suffix(algo)}-s{seed}-b{budget}"


@dataclass
class SearchResult:
    """One search of a super-net: its folder and summary.json (found arch, its GT, regret, P>R)."""

    path: Path
    summary: dict[str, Any]
    resumed_rows: int
    """Rows replayed from an earlier attempt (0: a new search)."""


def run_search(
    run_dir: str | os.PathLike,
    algo: str,
    budget: int,
    seed: int = 0,
    overrides: Sequence[str] = (),
    opts: SearchOptions | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> SearchResult:
    """Search RUN_DIR's super-net with ALGO (an --algo name or a --preset name, `PRESETS`) for BUDGET
    evaluations (or continue that search)."""
    opts = (opts or SearchOptions()).check(algo)
    algorithm = get_algorithm(algo)
    if budget < 1:
        raise WsnasError(f"--budget: must be >= 1, got {budget}")
    if seed < 0:
        raise WsnasError(f"--seed: must be >= 0, got {seed}")
    run = RunDir(run_dir)
    if not run.path.is_dir() or not run.is_run_dir():
        raise run.not_a_run_dir()
    saved, cfg = search_config(run, list(overrides))
    space, bench, fitness = load_fitness(run, saved, cfg)
    trainer = holder(run.path)  # the run dir's writer: a training that goes on
    if trainer is not None:
        log(_live_line(run.path, trainer, fitness.facts["checkpoint_epoch"], saved.protocol.epochs))
    marks = (
        select_landmarks(space, bench, saved.landmark.num_archs, saved.landmark.archs_file, saved.seed)
        if saved.landmark.num_archs
        else None
    )
    moves = Moves(space, bench, exclude=frozenset(marks.rows) if marks is not None else frozenset())
    moves.check(algo)
    check_preset(algo, space, moves.restricted)
    if algo == "learnt":
        moves.proposal = learnt_log_probs(run, saved, space, moves)
    settings = {
        "space": space.name,
        "algo": algo,
        "seed": seed,
        "budget": budget,
        **({"population": opts.population, "sample_size": opts.sample_size} if algo == "evolution" else {}),
        "fitness": fitness.facts,
        "moves": moves.describe(),
        **(
            {
                "landmarks_excluded": {
                    "num_archs": len(marks),
                    "source": marks.source,
                    "archs": list(marks.arch_strs),
                }
            }
            if marks is not None
            else {}
        ),
    }
    out = run.path / SEARCH_DIR / search_dir_name(algo, seed, budget, opts)
    out.mkdir(parents=True, exist_ok=True)
    with DirLock(out, "search dir"):
        for p in out.iterdir():
            if p.name.startswith(".") and p.name.endswith(".tmp"):
                p.unlink(missing_ok=True)  # what a killed writer's atomic write left
        _check_settings(out / "search.json", settings)
        log(_fitness_line(fitness.facts))
        replay = read_trajectory(out / "trajectory.csv")
        start = time.perf_counter()
        before = replay[-1].seconds if replay else 0.0
        trajectory = out / "trajectory.csv"
        oracle = Oracle(
            budget,
            fitness,
            GroundTruth(space, bench),
            fitness.path_key,
            on_row=lambda rows: write_trajectory(trajectory, rows),
            replay=replay,
            clock=lambda: before + time.perf_counter() - start,
        )
        try:
            stopped = algorithm(moves, oracle, np.random.default_rng(seed), opts)
        except SearchStop as s:
            stopped = s.reason
        oracle.check_replayed()
        write_trajectory(trajectory, oracle.rows)
        summary = {
            "run_dir": str(run.path),
            **settings,
            "stopped": stopped,
            "algorithm": describe_algorithm(algo, opts),
            **summarize_search(oracle.rows, budget, bench, saved.metrics().k),
            "run_still_training": trainer is not None,
            "wall_time_s": round(before + time.perf_counter() - start, 3),
            "resumed_rows": len(replay),
        }
        write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return SearchResult(out, summary, len(replay))


def _live_line(path: Path, pid: int, epoch: int, epochs: int) -> str:
    who = f"pid {pid}" if pid else "another process"
    return (
        f"note: {path} is still training ({who}): this search uses its checkpoint of epoch {epoch} of "
        f"{epochs}; training goes on, and a search after it finishes sees the final super-net"
    )


def _fitness_line(f: dict[str, Any]) -> str:
    held = f["valid_held_out_from_training"]
    seen = "held out of super-net training" if held else "seen in super-net training"
    return (
        f"fitness: super-net accuracy on {f['valid_images']} validation images ({seen}; seed "
        f"{f['valid_seed']}), not the test split whose accuracy is the ground truth"
    )


def _check_settings(path: Path, settings: dict[str, Any]) -> None:
    """Write SETTINGS to a new search.json, or refuse a search dir made under other ones."""
    if not path.exists():
        if (path.parent / "trajectory.csv").exists():
            raise WsnasError(
                f"{path.parent} holds a trajectory but no search.json: its settings are unknown, so it "
                "cannot be continued; remove the search dir to start again"
            )
        write_text_atomic(path, json.dumps(settings, indent=2) + "\n")
        return
    try:
        stored = json.loads(path.read_text())
    except ValueError as e:
        raise WsnasError(f"{path}: not JSON ({e}); remove the search dir to start again") from None
    changed = _diff(stored, json.loads(json.dumps(settings)))
    if changed:
        raise WsnasError(
            f"{path.parent} holds a search under other settings ({'; '.join(changed)}); its trajectory "
            "would mix two searches: remove the search dir or search another checkpoint elsewhere"
        )


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{prefix}{k}.")]
    return [] if a == b else [f"{prefix.rstrip('.')}: {a!r} -> {b!r}"]


def learnt_log_probs(run: RunDir, saved: Any, space: Any, moves: Moves) -> np.ndarray:
    """Each start's log-probability under the distribution the run's search algorithm learnt (its
    checkpoint's state), or a WsnasError saying the run has none."""
    if saved.algorithm.name == "none":
        raise WsnasError(
            f"--algo learnt: {run.path} was trained without a search algorithm (algorithm.name=none), "
            "so it has no learnt distribution; use random, evolution or local"
        )
    state = run.load_checkpoint()
    if state is None or "algorithm" not in state:
        raise WsnasError(f"--algo learnt: {run.checkpoint} holds no architecture distribution")
    algo = build_algorithm(saved, space, torch.device("cpu"))
    assert algo is not None
    if not algo.learns_distribution:
        raise WsnasError(
            f"--algo learnt: {saved.algorithm.name} learns no architecture distribution (its score of an "
            "architecture is a predicted accuracy); use random, evolution or local"
        )
    algo.load_state_dict(state["algorithm"])
    return algo.log_probs([moves.start(i) for i in range(moves.size)])
