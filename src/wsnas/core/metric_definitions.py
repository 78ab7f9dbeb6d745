"""Named metric definitions (`eval.metric_definition`): which s-KdT bin width and top-k a number used.

Apart from `core.metrics` so that the config (layer 1) can check a definition without importing
numpy's and scipy's statistics: commands that need no tensors start fast.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

from wsnas.core.errors import WsnasError


class MetricError(WsnasError, ValueError):
    """Metric inputs are malformed (shape, length, NaN/inf, range)."""


METRIC_DEFINITIONS: dict[str, str] = {
    "paper": "the paper's text: s-KdT at eval.sparse_threshold-point GT bins (0.1), final model and "
    "P>R over the top eval.top_k (3), per run",
    "authors": "the authors' analysis scripts that made the published tables: s-KdT at 1-point GT bins, "
    "final model and P>R over the top 10 on NASBench-201 and the top 5 elsewhere; the report also "
    "averages each architecture's super-net accuracy over seeds first, as those scripts do",
}
"""The named metric definitions (`eval.metric_definition`): which bin width and top-k a number used."""

PAPER_THRESHOLD = 0.1
PAPER_TOP_K = 3
AUTHORS_THRESHOLD = 1.0
AUTHORS_TOP_K: dict[str, int] = {"nb201": 10}
"""The authors' top-k per space (their analysis script: 10 on NASBench-201); every other space: 5."""
AUTHORS_TOP_K_OTHER = 5

METRICS_VERSION = 2
"""The meaning of the ranking metrics every summary records (`metrics_version`): v2 takes ground-truth
values equal up to float rounding (`GT_TIE_RTOL`) as ties in KdT, s-KdT, Spearman and the ranking
metrics; v1 (records without the field, wsnas before it) took them as distinct. CHANGELOG.md."""
GT_TIE_RTOL = 1e-14
"""Relative difference under which two ground-truth values are one value (float rounding of the
benchmark's mean over seeds, e.g. 98.21925431 twice with another last bit)."""
RANK_K_PERCENTS: tuple[int, ...] = (1, 5, 10)
"""The K of P@topK, BR@K and WR@K, in percent of the pool (Ning et al. report K = 5% among others)."""
RANKING_KEYS: tuple[str, ...] = (
    *(f"{m}_{pct:g}pct" for pct in RANK_K_PERCENTS for m in ("ptop", "br", "wr")),
    "ndcg",
)
"""The keys of `core.metrics.ranking_metrics` at the default K (in every summary beside KdT)."""


@dataclass(frozen=True)
class MetricDefinition:
    """A named metric definition resolved for one space: s-KdT's bin width and the top-k (P>R's n)."""

    name: str
    threshold: float
    k: int

    @property
    def text(self) -> str:
        """`paper (0.1-pt bins, top-3)`: the short form tables print next to a number."""
        return f"{self.name} ({self.threshold:g}-pt bins, top-{self.k})"


def metric_definition(
    name: str, space: str, threshold: float = PAPER_THRESHOLD, k: int = PAPER_TOP_K
) -> MetricDefinition:
    """Resolve the definition NAME for SPACE; `threshold` and `k` are the paper definition's settings
    (eval.sparse_threshold, eval.top_k). The authors' definition fixes both, so a value other than the
    paper's default there is an error rather than silently ignored."""
    if name == "paper":
        return MetricDefinition(name, _check_threshold(threshold), _as_int(k, "k"))
    if name == "authors":
        if threshold != PAPER_THRESHOLD or k != PAPER_TOP_K:
            raise MetricError(
                f"metric definition 'authors' fixes the bin width ({AUTHORS_THRESHOLD:g}) and top-k "
                f"(10 on nb201, 5 elsewhere); got threshold {threshold!r} and k {k!r}: leave them at "
                f"{PAPER_THRESHOLD:g} and {PAPER_TOP_K}, or use the 'paper' definition"
            )
        return MetricDefinition(name, AUTHORS_THRESHOLD, AUTHORS_TOP_K.get(space, AUTHORS_TOP_K_OTHER))
    raise MetricError(f"metric definition: expected one of {sorted(METRIC_DEFINITIONS)}, got {name!r}")


def _check_threshold(threshold: float) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise MetricError(f"threshold: expected a number, got {threshold!r}") from None
    if not (math.isfinite(t) and t > 0):
        raise MetricError(f"threshold: must be finite and > 0, got {threshold!r}")
    return t


def _as_int(value: Any, name: str) -> int:
    """Accept Python/NumPy integers only (a bool is not one); a float rank or count is a caller bug.
    NumPy's bool is told by its type, so this module needs no numpy import."""
    kind = type(value)
    if isinstance(value, bool) or (kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_")):
        raise MetricError(f"{name}: expected an integer, got bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise MetricError(f"{name}: expected an integer, got {kind.__name__} {value!r}") from None
