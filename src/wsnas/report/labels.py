"""Setting labels: the name the CLI printed for a setting, made unique within its scope.

A setting whose runs are named `LABEL-sSEED[-HASH]` (the demo's `bn-batch-stats-s0`, a
sweep's `sampler.name=fairnas-s0-1a2b3c4d`; `wsnas.core.runname`) is called LABEL, as on the
terminal. Other settings are named by the config values in which they differ from the
scope's reference setting (`base` when none); settings whose names collide get the values
in which they differ from each other appended, and copies of a repeated seed `[copy k]`.
"""

from __future__ import annotations

import re
from collections import Counter

from wsnas.core.runname import LABEL_MAX, label_of
from wsnas.report.runs import show
from wsnas.report.settings import Setting


def cli_label(s: Setting) -> str | None:
    """The label all of S's run dir names carry; a run named by hand (`name=quick4`) is called by
    that name (several such seeds: their names joined); None where the names disagree."""
    found = {label_of(r.path.name, r.seed) for r in s.runs}
    if found == {None}:
        names = sorted({r.path.name for r in s.runs})
        return " + ".join(names) if names and len(" + ".join(names)) <= SHORT_WIDTH else None
    label = found.pop() if len(found) == 1 else None
    if label is not None and len(label) >= LABEL_MAX:  # cut to fit a folder name: the values say it whole
        return None
    return label


SHORT_WIDTH = 38
"""Widest label a figure title shows whole; longer ones are shortened by `short_label`."""
_KEY_START = re.compile(r",\s*(?=[A-Za-z_][\w.]*=)")


def short_label(label: str, width: int = SHORT_WIDTH) -> str:
    """LABEL in about WIDTH characters, cut only where a `key=value` ends. The last keys are kept (a
    one-at-a-time label ends in the factor it varies: `…, data.train_portion=0.5`), a role keeps its
    name (`tuned baseline [… protocol.lr=0.025]`); a single key=value longer than WIDTH is cut after
    a `.`, `_` or `=` (with `…`), else kept whole. Never inside a word; the full label goes in a
    footnote or tooltip beside it."""
    if len(label) <= width:
        return label
    role = re.fullmatch(r"(.+?) \[(.+)\]", label)
    if role:
        head = role.group(1)
        return f"{head} [{_short_keys(role.group(2), max(width - len(head) - 3, 12))}]"
    return _short_keys(label, width)


def _short_keys(label: str, width: int) -> str:
    if len(label) <= width:
        return label
    parts = _KEY_START.split(label)
    if len(parts) > 1:
        out, i = parts[-1], len(parts) - 2
        while i >= 0 and len(f"…, {parts[i]}, {out}") <= width:
            out, i = f"{parts[i]}, {out}", i - 1
        if len(out) + 3 <= width or i < 0:
            return f"…, {out}" if i >= 0 else out
        label = out
    cut = max(label.rfind(c, 0, width - 1) for c in "._=")
    return label[: cut + 1] + "…" if cut > 0 else label


def diff_label(s: Setting, reference: Setting, keys: list[str]) -> str:
    """`key=value, ...` for the KEYS where S differs from REFERENCE; `base` when it does not."""
    diff = [f"{k}={show(s.experiment.get(k))}" for k in keys if s.value(k) != reference.value(k)]
    return ", ".join(diff) or "base"


def assign_labels(settings: list[Setting], reference: Setting, keys: list[str]) -> None:
    """Give each setting its CLI label (else its difference from REFERENCE), unique in SETTINGS:
    settings that share a label get the values of the KEYS in which they differ appended."""
    for s in settings:
        s.label = cli_label(s) or diff_label(s, reference, keys)
    for label in _repeated(settings):
        group = [s for s in settings if s.label == label]
        differ = [k for k in keys if len({s.value(k) for s in group}) > 1]
        for s in group:
            if differ:
                s.label = f"{label} (" + ", ".join(f"{k}={show(s.experiment.get(k))}" for k in differ) + ")"
    for label in _repeated(settings):
        for i, s in enumerate(s for s in settings if s.label == label):
            s.label = f"{label} [copy {s.copy or i + 1}]"


def _repeated(settings: list[Setting]) -> list[str]:
    counts = Counter(s.label for s in settings)
    return [label for label, n in counts.items() if n > 1]
