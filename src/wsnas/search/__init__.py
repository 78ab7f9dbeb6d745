"""Search a trained super-net (`wsnas search`): random, regularised evolution, local search.

Fitness is the super-net accuracy on a held-out validation split; every evaluated
architecture is scored against the ground truth (test accuracy) only for the record,
so the search never sees it. A search is a deterministic function of its seed and the
fitness values, which is what makes a killed search resumable from its trajectory.
"""

from wsnas.search.run import SearchResult, run_search, search_dir_name

__all__ = ["SearchResult", "run_search", "search_dir_name"]
