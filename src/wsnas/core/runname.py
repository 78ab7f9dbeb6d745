"""Run names and setting labels: one spelling for what the CLI prints and what the report shows.

A run that belongs to a named setting is called `LABEL-sSEED` (the demo: `bn-batch-stats-s0`)
or `LABEL-sSEED-HASH` (a sweep: `sampler.name=fairnas-s0-1a2b3c4d`, HASH = the start of the
run config's hash). The CLI prints these names; the report reads a setting's label back from
its runs' names (`label_of`), so a setting is called the same on the terminal and in the report.
"""

from __future__ import annotations

import re

LABEL_MAX = 96
"""Longest label kept in a run name (grids over many factors); the hash keeps names unique."""


def safe_label(label: str) -> str:
    """LABEL as one folder name: characters other than letters, digits and `._=+,-` become `_`."""
    return re.sub(r"[^A-Za-z0-9._=+,-]+", "_", label)[:LABEL_MAX]


def run_name(label: str, seed: int, digest: str | None = None) -> str:
    """The name of seed SEED of the setting LABEL (DIGEST: the config hash's start, for sweeps)."""
    return f"{safe_label(label)}-s{seed}" + (f"-{digest}" if digest else "")


def label_of(name: str | None, seed: int) -> str | None:
    """The setting label in the run name NAME of seed SEED (`run_name`'s inverse); None when the
    name does not end in `-sSEED` or `-sSEED-HASH` (a name given by hand)."""
    if not name:
        return None
    m = re.fullmatch(rf"(.+)-s{seed}(?:-[0-9a-f]{{4,64}})?", name)
    return m.group(1) if m else None
