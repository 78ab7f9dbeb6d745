"""The pool-level scores of the proxies whose authors rank components over the scored pool:
AZ-NAS (`az_nas`) and TE-NAS (`te_nas`). NumPy only: the run's summary calls them on the columns
of scores.csv, without torch.
"""

from __future__ import annotations

import numpy as np

AZ_NAS_COMPONENTS = (
    "az_nas_expressivity",
    "az_nas_progressivity",
    "az_nas_trainability",
    "az_nas_complexity",
)
"""The per-network columns of `az_nas` (wsnas.estimators.proxies.az_nas computes them)."""

TE_NAS_COMPONENTS = ("te_nas_ntk", "te_nas_lr")
"""The per-network columns of `te_nas` (wsnas.estimators.proxies.te_nas computes them)."""


def average_ranks(v: np.ndarray) -> np.ndarray:
    """Ranks 1..n of V, ties averaged (scipy's `rankdata` default); -inf ranks first."""
    v = np.asarray(v, dtype=np.float64)
    order = np.argsort(v, kind="mergesort")
    s = v[order]
    bounds = np.flatnonzero(np.r_[True, s[1:] != s[:-1], True])  # starts of equal runs, and n
    mean_rank = (bounds[:-1] + 1 + bounds[1:]) / 2.0  # 1-based ranks a+1..b averaged
    ranks = np.empty(len(v), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, np.diff(bounds))
    return ranks


def az_nas_aggregate(columns: dict[str, np.ndarray]) -> np.ndarray:
    """AZ-NAS over a pool: sum over the four components of log(rank / n), ranks 1..n ascending with
    ties averaged (scipy's `rankdata`), -inf ranking first (`tss_general.ipynb`). An architecture with
    a NaN component gets NaN and the others are ranked among themselves (n counts them)."""
    cols = [np.asarray(columns[c], dtype=np.float64) for c in AZ_NAS_COMPONENTS]
    ok = np.all([~np.isnan(c) for c in cols], axis=0)
    out = np.full(len(cols[0]), np.nan)
    n = int(ok.sum())
    if n:
        out[ok] = np.sum([np.log(average_ranks(c[ok]) / n) for c in cols], axis=0)
    return out


def te_nas_aggregate(columns: dict[str, np.ndarray]) -> np.ndarray:
    """TE-NAS over a pool: rank(te_nas_ntk) + rank(te_nas_lr), ranks 1..n ascending, ties averaged;
    NaN where either is NaN (the others ranked among themselves)."""
    a = np.asarray(columns["te_nas_ntk"], dtype=np.float64)
    b = np.asarray(columns["te_nas_lr"], dtype=np.float64)
    ok = ~np.isnan(a) & ~np.isnan(b)
    out = np.full(len(a), np.nan)
    if ok.any():
        out[ok] = average_ranks(a[ok]) + average_ranks(b[ok])
    return out
