"""Search a trained super-net (`wsnas search`): random, regularised evolution, local search.

Fitness is the super-net accuracy on a held-out validation split; every evaluated
architecture is scored against the ground truth (test accuracy) only for the record,
so the search never sees it. A search is a deterministic function of its seed and the
fitness values, which is what makes a killed search resumable from its trajectory.

The run machinery (`search.run`, which needs torch) loads on first use, so the CLI can
list the algorithms and presets (`search.algorithms`) without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsnas.search.run import SearchResult, run_search, search_dir_name

__all__ = ["SearchResult", "run_search", "search_dir_name"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from wsnas.search import run

        return getattr(run, name)
    raise AttributeError(f"module 'wsnas.search' has no attribute {name!r}")
