"""Architecture estimators without a super-net, scored like super-nets (`wsnas estimate`).

`registry` (which estimators exist, on which spaces), `zero_cost` (the proxies of one network at
initialisation), `run` (a run dir of scores against the ground truth, resumable per architecture).
"""

import wsnas.estimators.proxies  # noqa: F401  (registers the second round of proxies)
from wsnas.estimators.registry import ESTIMATORS, check_estimators, known_names
from wsnas.estimators.zero_cost import ZERO_COST, Score, zero_cost_scores

__all__ = ["ESTIMATORS", "ZERO_COST", "Score", "check_estimators", "known_names", "zero_cost_scores"]
