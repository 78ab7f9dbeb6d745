"""One `wsnas estimate` run: every estimator of a set of architectures, scored against the ground truth.

Run dir (the `engine.rundir` conventions: one writer under `.wsnas.lock`, every file atomic):

estimate.yaml   the run config it was given (space, data, bench, eval pool, seed); not
                config.yaml, so `wsnas report` never takes it for a super-net run
estimate.json   the estimate options (estimators, archs, minibatch, network size)
archs.txt       an explicit list's architectures (--archs FILE), in scoring order
identity.json   config + options hash, GT fingerprint, numerics, world size 1
scores.csv      one row per architecture, appended as each is scored (one write() of a whole
                line; a torn last line of a killed writer is cut on resume)
summary.json    per estimator: KdT, s-KdT, Spearman, final searched model, P>R, NaN counts, cost

A resumed run scores only the architectures not in scores.csv. Each architecture's network is
initialised from a seed of (seed, arch string), and every architecture sees the same seeded
minibatch, so a score does not depend on order, resume or which process computed it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from wsnas.config import dump_config
from wsnas.core.atomic import write_text_atomic
from wsnas.core.dirlock import DirLock
from wsnas.core.errors import WsnasError
from wsnas.core.interrupt import Interrupted
from wsnas.engine.identity import record_identity
from wsnas.engine.rundir import RunDir
from wsnas.estimators.arch_list import LIST_FILE
from wsnas.estimators.identity import check_same
from wsnas.estimators.plan import CONFIG_FILE, OPTIONS_FILE, SCORES_FILE, Plan, default_run_dir, minibatch
from wsnas.estimators.scores_file import append_line, csv_header, read_scores, sort_scores
from wsnas.estimators.scoring import zero_cost_groups
from wsnas.estimators.shards import rows_local, rows_parallel
from wsnas.estimators.summary import build_summary
from wsnas.execution.executors import Executor

ProgressFn = Callable[[int, int, float], None]
"""progress(done, total, seconds of this process's scoring so far)."""


def run_estimate(
    plan: Plan,
    run_dir: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
    workers: int = 1,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Score the plan's archs into a run dir (new, or resumed where scores.csv stops); the summary.

    WORKERS > 1 scores shards of SHARD archs in that many spawned processes (the sweep's local
    executor), or EXECUTOR (e.g. a `execution.executors.RayExecutor`; the run dir must be on storage
    its workers see); this process alone writes scores.csv, in completion order, and sorts it by pool
    position at the end, so the file does not depend on workers, order or resumes."""
    if plan.batch is None and zero_cost_groups(plan):  # a minibatch the data cannot give is refused
        plan.batch, plan.num_classes = minibatch(plan.cfg, plan.opts.batch, plan.device, plan.opts.network)
    run = RunDir(run_dir or default_run_dir(plan))  # nothing is written before this line
    plan.run = run
    existing = (run.path / OPTIONS_FILE).exists()
    hint = f"wsnas estimate --resume {run.path}"
    with _locked(run, existing):
        if existing:
            check_same(plan, run)
        else:
            (run.path / SCORES_FILE).unlink(missing_ok=True)
        dump_config(plan.cfg, run.path / CONFIG_FILE)
        if plan.arch_list is not None:  # the list itself, for --status, --resume and shard workers
            write_text_atomic(run.path / LIST_FILE, "".join(f"{a}\n" for a in plan.arch_list.arch_strs))
        run.write_json(run.path / OPTIONS_FILE, plan.options_record())
        record_identity(run, plan.identity)
        scores = run.path / SCORES_FILE
        done = {r["arch"] for r in read_scores(scores, plan.columns, repair=True)}
        if not scores.exists() or scores.stat().st_size == 0:
            append_line(scores, ",".join(csv_header(plan.columns)) + "\n")
        todo = [i for i, s in enumerate(plan.pool.arch_strs) if s not in done]
        total, t_start = len(plan.pool), time.perf_counter()
        parallel = workers > 1 or executor is not None
        rows = rows_parallel(run, todo, workers, executor) if parallel else rows_local(plan, todo)
        try:
            for k, line in enumerate(rows):
                append_line(scores, line)
                if progress is not None:
                    progress(total - len(todo) + k + 1, total, time.perf_counter() - t_start)
        except Interrupted as e:
            done_rows = read_scores(scores, plan.columns)
            n = len(done_rows)
            if n:  # what is scored so far, marked partial (the report shows it as such)
                run.write_json(run.summary, build_summary(plan, done_rows))
            e.where = f"after {n}/{total} architectures (scores.csv holds them; summary.json: partial)"
            e.resume = hint
            raise
        final = read_scores(scores, plan.columns)
        sort_scores(scores, plan.columns, final)
        summary = build_summary(plan, final)
        run.write_json(run.summary, summary)
    return summary


@contextmanager
def _locked(run: RunDir, existing: bool) -> Iterator[None]:
    """The run dir's lock for the block (a second writer is refused): a folder wsnas did not make, or
    one holding another kind of run, is left alone. Unlike `RunDir.writing`, a stop before the end
    keeps the lock file and what was written: scores.csv is the point of a resume."""
    if not existing:  # an estimate run dir (estimate.json) is ours even without its lock file
        run.check_ours()
    if not existing and run.path.is_dir() and any(p.name in _OTHER_RUN for p in run.path.iterdir()):
        raise WsnasError(f"{run.path} holds a super-net or stand-alone run; choose another name/out_dir")
    try:
        run.path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WsnasError(f"cannot create run dir {run.path}: {e.strerror or e}") from None
    lock = DirLock(run.path, "run dir")
    lock.acquire()
    try:
        run.remove_temp_files()
        yield
    finally:
        lock.release()


_OTHER_RUN = frozenset({"config.yaml", "checkpoint.pt", "log.jsonl"})
