"""SETN (Dong and Yang, NeurIPS 2019) as xautodl runs it on NB201 (`exps/NAS-Bench-201-algos/SETN.py`,
`models/cell_searchs/search_model_setn.py`).

The weights train one-shot: each step one architecture drawn uniformly (the run's sampler,
`random_nas` by default, is xautodl's `dync_genotype(True)`: an op per edge uniformly), through the
super-net's single path. The template distribution (softmax logits per edge) trains on the
architecture split through softmax-weighted mixed ops (xautodl's `joint` mode), after the weight
step. The final choice (`derive`): the `select_num` most probable architectures under the
distribution (`return_topK`), each scored on one batch of the architecture split by its single
path in eval mode; the most accurate wins (first on ties). Where the space is too large to rank
every architecture (DARTS-NDS, NB101), the candidates are `select_num` distinct architectures drawn
from the distribution (`Relaxation.sample`, seeded by the epoch): xautodl's `return_topK` enumerates
the space, which only NB201 allows, and its `dync_genotype(False)` is this draw on NB201.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from wsnas.algorithms.base import Algorithm, Batch, Scorer
from wsnas.spaces.base import EdgeOpSpace


class SETN(Algorithm):
    """Uniform one-shot weights, a learnt template distribution, the best of its top candidates."""

    last_candidates: list[tuple[Any, float]]

    def weight_forward(
        self, model: nn.Module, x: torch.Tensor, rng: np.random.Generator, sampler: Any
    ) -> torch.Tensor:
        (arch,) = sampler.step_paths(rng)[:1]
        return model(x, arch)

    def top_k(self, k: int) -> list[tuple[int, ...]]:
        """The K most probable encodings (ties: the lower encoding first)."""
        archs = self.space.all_archs()
        logp = self.log_probs(archs)
        order = np.lexsort((np.arange(len(archs)), -logp))[:k]
        return [tuple(int(o) for o in archs[i]) for i in order]

    def drawn(self, k: int) -> list[Any]:
        """K distinct architectures (by canonical id) drawn from the distribution, in draw order;
        fewer when 20 K draws do not find K."""
        rng, logp = self.derive_rng(), self.log_slot_probs()
        seen: dict[Any, Any] = {}
        for _ in range(20 * k):
            arch = self.relax.sample(logp, rng)
            seen.setdefault(self.space.canonical(arch), arch)
            if len(seen) == k:
                break
        return list(seen.values())

    def derive(self, model: nn.Module, scorer: Scorer, batches: Callable[[], Batch]) -> Any:
        k = int(self.settings["select_num"])
        candidates = self.top_k(k) if isinstance(self.space, EdgeOpSpace) else self.drawn(k)
        scored = [(arch, scorer(arch, batches())) for arch in candidates]
        self.last_candidates = scored
        best = int(np.argmax([acc for _, acc in scored]))
        return scored[best][0]
