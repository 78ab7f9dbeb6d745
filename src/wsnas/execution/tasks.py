"""Task kinds: what a worker process runs, named by the study that submits it.

The execution machinery (pools, Ray, Slurm, the worker) runs tasks without knowing what they
are: a study registers each kind it submits with the function that runs it, as a
`"module:function"` string (`register_task_kind`), and builds its tasks with `make_task`, which
writes that target into the task. A worker process (spawned, a Ray task, a Slurm job) has not
imported the study, so it imports the target by name (`resolve`). That keeps the imports one
way: the studies (`wsnas.sweep`, `wsnas.estimators`) use this package; it imports neither.

A task is a plain dict (it crosses process boundaries): `kind`, `target`, `name`, `run_dir`,
`threads` and whatever the kind's function reads. The function returns a dict merged into the
worker's result record (`status` at least).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from wsnas.core.errors import WsnasError

TaskFn = Callable[[dict[str, Any]], dict[str, Any]]

TASK_KINDS: dict[str, str] = {}
"""kind -> "module:function" of the function that runs a task of that kind."""


def register_task_kind(kind: str, target: str) -> None:
    """Name the function ("module:function") that runs tasks of KIND; the same target twice is a no-op."""
    if ":" not in target:
        raise ValueError(f"task kind {kind!r}: target {target!r} is not 'module:function'")
    old = TASK_KINDS.get(kind)
    if old is not None and old != target:
        raise ValueError(f"task kind {kind!r} is already registered to {old}")
    TASK_KINDS[kind] = target


def make_task(kind: str, name: str, run_dir: str, **fields: Any) -> dict[str, Any]:
    """A task of a registered KIND, its target written in for the worker."""
    if kind not in TASK_KINDS:
        raise WsnasError(f"unknown task kind {kind!r}; registered: {', '.join(sorted(TASK_KINDS))}")
    return {"kind": kind, "target": TASK_KINDS[kind], "name": name, "run_dir": run_dir, **fields}


def resolve(task: dict[str, Any]) -> TaskFn:
    """The function a task names (imported by name in the worker process)."""
    target = task.get("target") or TASK_KINDS.get(str(task.get("kind")))
    if not target:
        raise WsnasError(f"task {task.get('name')!r} names no target (kind {task.get('kind')!r})")
    module, _, attr = str(target).partition(":")
    fn = getattr(importlib.import_module(module), attr, None)
    if not callable(fn):
        raise WsnasError(f"task {task.get('name')!r}: {target} is not a function")
    return fn
