"""ENAS (Pham et al., ICML 2018) as xautodl runs it on NB201 (`exps/NAS-Bench-201-algos/ENAS.py`,
`models/cell_searchs/search_model_enas_utils.py`, `configs/nas-benchmark/algos/ENAS.config`,
`scripts-search/algos/ENAS.sh`).

The reference alternates whole phases: an epoch of the shared weights, each step on one architecture
the controller samples (no gradient to it), then `controller_steps` Adam steps of the controller, each
averaging the REINFORCE gradients of `controller_aggregate` samples. A sample's reward is its accuracy
(a fraction) on one batch of the architecture split (the super-net in eval mode, no gradient) plus
`entropy_weight` times the controller's entropy along it; its advantage is the reward less a moving
average baseline, updated by each sample before its advantage is taken (b <- b - (1 - decay) (b - r),
starting at the first sample's accuracy); its loss is -log p(arch) * advantage. Here the weights'
epoch is the trainer's, and the controller's phase runs after its last step (`end_epoch`), so the
epoch's time includes it. The derived architecture is xautodl's `get_best_arch`: 10 samples, each
scored on its own batch of the architecture split, the most accurate kept; at the last epoch
`select_num` (its controller_num_samples, 100) samples.

On a space whose architectures choose the cell's graph (nb101, darts_nds) the controller is ENAS's micro
controller over the space's node-based token grammar (`wsnas.spaces.grammar`; docs/search.md, "Token
grammars"); everything above works on value sequences, decoded to the space's architecture for a
path, and a sequence that is no architecture is drawn again (`draw`).

Deviations (docs/search.md): the baseline carries over from sample to sample through every phase
(xautodl restarts each phase from the previous phase's final value, and in the first phase uses each
sample's own accuracy, which leaves only the entropy term; TDeVries/enas_pytorch, which its controller
follows, and the original ENAS update it per sample); the entropy enters the reward without a gradient
(as the original ENAS's stop_gradient; xautodl lets a 1e-4-weighted gradient through it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from wsnas.algorithms.base import ArchStream, Batch, Scorer
from wsnas.algorithms.controller import LSTM_LAYERS, LSTM_SIZE, Controller, NodeController
from wsnas.algorithms.controller_base import ControllerAlgorithm, marginals, torch_seed, value_shares

EPOCH_SAMPLES = 10
"""Samples the per-epoch derived architecture is chosen from (xautodl's get_best_arch default)."""
CHUNK = 4096
MARGINAL_SAMPLES = 1000
"""Samples a node grammar's per-position value shares are counted from (`probabilities`)."""


def update_baseline(baseline: float | None, reward: float, accuracy: float, decay: float) -> float:
    """The moving average after one more sample: its accuracy to start with, then
    b - (1 - decay) * (b - reward)."""
    if baseline is None:
        return accuracy
    return baseline - (1.0 - decay) * (baseline - reward)


def reinforce_loss(log_probs: torch.Tensor, advantages: torch.Tensor, aggregate: int) -> torch.Tensor:
    """-sum(log p(arch) * advantage) / aggregate: its gradient is the REINFORCE estimate of minus the
    expected advantage's gradient, averaged over the samples of one controller step."""
    return -(log_probs * advantages.detach()).sum() / aggregate


class ENAS(ControllerAlgorithm):
    """An LSTM controller trained by REINFORCE after each epoch of single-path weight training."""

    adam_eps = 1e-3  # xautodl's ENAS.config: controller_eps

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.generator = torch.Generator().manual_seed(torch_seed())
        self.derive_seed = torch_seed()
        self.baseline: float | None = None
        self.phase: dict[str, float] = {}

    def build(self) -> nn.Module:
        """xautodl's controller for an edge grammar; ENAS's micro controller for a node grammar."""
        s, g = self.settings, self.grammar
        if g.layout is None:
            return Controller(self.slots, len(self.ops), s["tanh_constant"], s["logit_temperature"])
        favoured = [g.ops.index(o) for o in g.favoured]
        return NodeController(g.layout, len(g.ops), favoured, s["tanh_constant"], s["logit_temperature"])

    @property
    def controller(self) -> Controller | NodeController:
        assert isinstance(self.net, Controller | NodeController)
        return self.net

    def draw(self, n: int, generator: torch.Generator) -> list[tuple[int, ...]]:
        """N valid value sequences from the controller: a sequence that is no architecture of the space
        (an NB101 tree over the edge limit) is drawn again, as eval-nas leaves such samples out."""
        out: list[tuple[int, ...]] = []
        while len(out) < n:
            out += [v for v in self.controller.sample(n - len(out), generator) if self.grammar.valid(v)]
        return out

    def arch(self, values: Sequence[int]) -> Any:
        """The space's architecture of a value sequence (an NB201 arch is its own sequence)."""
        return self.grammar.decode(values)

    # ---- the weights' step -----------------------------------------------------------------------
    def weight_forward(
        self, model: nn.Module, x: torch.Tensor, rng: np.random.Generator, sampler: Any
    ) -> torch.Tensor:
        """The shared weights train on one architecture the controller samples."""
        (values,) = self.draw(1, self.generator)
        return model(x, self.arch(values))

    # ---- the controller's phase ------------------------------------------------------------------
    def end_epoch(self, model: nn.Module, scorer: Scorer, batches: ArchStream) -> list[float]:
        """`controller_steps` REINFORCE steps of `controller_aggregate` samples each; their losses."""
        s = self.settings
        steps, aggregate = int(s["controller_steps"]), int(s["controller_aggregate"])
        losses, accs, rewards, entropies = [], [], [], []
        for _ in range(steps):
            seqs = self.draw(aggregate, self.generator)
            acc = [scorer(self.arch(v), batches.next()) / 100.0 for v in seqs]
            loss, reward, entropy = self.controller_step(seqs, acc)
            losses.append(loss)
            accs += acc
            rewards += reward
            entropies += entropy
        self.phase = {
            "enas_sample_acc": 100.0 * float(np.mean(accs)),
            "enas_reward": float(np.mean(rewards)),
            "enas_entropy": float(np.mean(entropies)),
        }
        return losses

    def controller_step(
        self, archs: Sequence[tuple[int, ...]], accuracies: Sequence[float]
    ) -> tuple[float, list[float], list[float]]:
        """One Adam step on the samples ARCHS (value sequences) with their ACCURACIES: (loss, rewards,
        entropies)."""
        s = self.settings
        self.optimizer.zero_grad(set_to_none=True)
        logp, entropy = self.controller.evaluate(archs)
        ent = entropy.detach().double().cpu().tolist()
        rewards = [a + float(s["entropy_weight"]) * h for a, h in zip(accuracies, ent, strict=True)]
        advantages = []
        for acc, r in zip(accuracies, rewards, strict=True):
            self.baseline = update_baseline(self.baseline, r, acc, float(s["baseline_decay"]))
            advantages.append(r - self.baseline)
        adv = torch.tensor(advantages, dtype=logp.dtype, device=logp.device)
        loss = reinforce_loss(logp, adv, len(archs))
        loss.backward()
        self.clip_and_step()
        return float(loss.detach()), rewards, ent

    # ---- what it found ---------------------------------------------------------------------------
    def derive(self, model: nn.Module, scorer: Scorer, batches: Callable[[], Batch]) -> Any:
        """The most accurate of the controller's samples (10; `select_num` at the last epoch), each on
        its own batch of the architecture split; drawn from a generator seeded by the epoch, so an
        evaluation leaves the training's draws as they were."""
        n = int(self.settings["select_num"]) if self.is_last_epoch else EPOCH_SAMPLES
        gen = torch.Generator().manual_seed(self.derive_seed + self.epoch)
        archs = [self.arch(v) for v in self.draw(n, gen)]
        scores = [scorer(a, batches()) for a in archs]
        return archs[int(np.argmax(scores))]

    @torch.no_grad()
    def log_probs(self, archs: Sequence[Any]) -> np.ndarray:
        """Each architecture's log-probability under the controller (batched, teacher-forced): that of
        its value sequence as given (its vertex order), -inf where the grammar cannot write it."""
        seqs = [self.grammar.encode(a) for a in archs]
        known = [i for i, v in enumerate(seqs) if v is not None]
        given = [v for v in seqs if v is not None]
        out = [
            self.controller.evaluate(given[i : i + CHUNK])[0].double().cpu().numpy()
            for i in range(0, len(given), CHUNK)
        ]
        logp = np.full(len(archs), -np.inf)
        if out:
            logp[known] = np.concatenate(out)
        return logp

    def probabilities(self) -> list[list[float]]:
        """Edge grammar: per edge the controller's marginal probability of each op (summed over every
        encoding). Node grammar: per position the share of each value among MARGINAL_SAMPLES valid
        samples from a generator of their own (seeded by the epoch, leaving the training's draws)."""
        if self.edge_grammar:
            return marginals(self.space, self.log_probs(self.space.all_archs()))
        gen = torch.Generator().manual_seed(self.derive_seed + 7919 * (self.epoch + 1))
        return value_shares(self.grammar, self.draw(MARGINAL_SAMPLES, gen))

    def record(self) -> dict[str, Any]:
        return {"enas_baseline": self.baseline, **self.phase}

    # ---- record ----------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "derive_seed": self.derive_seed,
            "baseline": self.baseline,
            "phase": dict(self.phase),
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.derive_seed = int(state["derive_seed"])
        self.baseline = state["baseline"]
        self.phase = dict(state["phase"])

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "lstm_size": LSTM_SIZE, "lstm_layers": LSTM_LAYERS}
