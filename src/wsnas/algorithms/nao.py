"""NAO (Luo et al., NeurIPS 2018), the weight-sharing search of renqianluo/NAO_pytorch
(`NAO_V1/train_search.py`, `controller.py`, `encoder.py`, `decoder.py`, `utils.py`).

A pool of `seed_archs` random architectures (distinct cells) is the super-net's whole training set:
each weight step runs one of them, drawn uniformly (`child_train` with no pool probabilities). The
reference evaluates the pool every 50 of its 200 epochs; here `rounds` evaluations are spread evenly
over the run's epochs, at the ends of epochs ceil(k * epochs / rounds), k = 1..rounds (the reference's
4 of 200: epochs 50, 100, 150, 200). At each, every pool architecture is scored on one batch of the
architecture split (the plain stream, batch by batch), the pool is sorted best first, and, but at the
last, NAO's controller learns from it and proposes new cells:
- the encoder-predictor-decoder trains `controller_epochs` epochs (batches of 100, a fresh Adam, loss
  trade_off * MSE(predicted, min-max normalised accuracy) + (1 - trade_off) * the decoder's NLL) on 90%
  of the pool, each pair `expand` times (the reference's copies swap a node's two inputs, the same cell
  in another encoding; here each copy is an encoding of the same cell drawn at random from the space's
  isomorphism classes); the other 10% give its pairwise accuracy and reconstruction distance;
- the pool's best 100 move up the predictor's gradient in the embedding space by step sizes 1, 2, ...,
  50 and are decoded, until `new_archs` cells are found that are in neither the pool nor the new ones
  (by canonical form);
- they replace as many of the pool's worst.
The pool holds value sequences of the space's token grammar (`wsnas.spaces.grammar`: one op per edge on
NB201; per node inputs and ops on nb101, darts_nds), decoded to an architecture for a path; a decoded
sequence that is no architecture is passed over. The derived architecture is the pool's best at the
last evaluation (the reference then retrains its top 5 from scratch, outside weight sharing; here the
one-shot best is the searched model). The pool's score of an architecture (`log_probs`, for the
learnt-distribution ranking) is the predictor's output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wsnas.algorithms.base import ArchStream, Batch, Scorer
from wsnas.algorithms.controller_base import ControllerAlgorithm, torch_seed, value_shares
from wsnas.algorithms.controller_nao import EncoderPredictorDecoder
from wsnas.core.errors import ArchError
from wsnas.spaces.grammar import TokenGrammar

BATCH = 100
TRAIN_SHARE = 0.9
TOP = 100
MAX_STEP = 50
"""NAO_V1: controller_batch_size 100; 90% of the pool trains the controller; the best 100 move; step
sizes up to 50."""

Arch = tuple[int, ...]
"""A value sequence of the space's token grammar (an NB201 arch is its own)."""
SEED_TRIES = 1000


def round_epochs(epochs: int, rounds: int) -> list[int]:
    """The (1-based) epochs after which the pool is evaluated: ceil(k * epochs / rounds)."""
    return sorted({math.ceil(k * epochs / rounds) for k in range(1, rounds + 1)})


def seed_pool(
    space: Any, n: int, rng: np.random.Generator, grammar: TokenGrammar | None = None
) -> list[Arch]:
    """N random encodings of distinct cells (every cell, one encoding each, where N reaches them). With
    a node GRAMMAR: N valid sequences of distinct cells, each position uniform (NAO's `generate_arch`,
    a sequence no architecture drawn again)."""
    if grammar is not None and grammar.layout is not None:
        pool: list[Arch] = []
        seen: set[str] = set()
        misses = 0
        while len(pool) < n:
            values = grammar.random(rng)
            key = space.canonical(grammar.decode(values))
            if key in seen:
                misses += 1
                if misses > SEED_TRIES * n:
                    raise ArchError(f"{space.name}: the token grammar wrote fewer than {n} distinct cells")
                continue
            seen.add(key)
            pool.append(values)
        return pool
    _, members = space.unique_classes()
    if n >= len(members):
        order = rng.permutation(len(members))
        return [tuple(int(o) for o in members[i][int(rng.integers(len(members[i])))]) for i in order]
    pool = []
    seen = set()
    while len(pool) < n:
        arch = tuple(int(o) for o in space.sample(rng))
        key = space.canonical(arch)
        if key not in seen:
            seen.add(key)
            pool.append(arch)
    return pool


def pairwise_accuracy(truth: Sequence[float], predicted: Sequence[float]) -> float:
    """Share of pairs the prediction orders as the truth does (NAO's utils.pairwise_accuracy)."""
    t, p = np.asarray(truth), np.asarray(predicted)
    i, j = np.triu_indices(len(t), k=1)
    if len(i) == 0:
        return float("nan")
    agree = ((t[i] >= t[j]) & (p[i] >= p[j])) | ((t[i] < t[j]) & (p[i] < p[j]))
    return float(agree.mean())


class NAO(ControllerAlgorithm):
    """Rounds of pool evaluation, controller training and candidate generation (module docstring)."""

    learns_distribution = False  # its score of an architecture is the predictor's output

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rng = np.random.default_rng(torch_seed())
        self.pool: list[Arch] = seed_pool(
            self.space, int(self.settings["seed_archs"]), self.rng, self.grammar
        )
        self.best: tuple[Arch, float] | None = None
        self.rounds_done = 0
        self.info: dict[str, Any] = {}

    def build(self) -> nn.Module:
        if self.edge_grammar:
            return EncoderPredictorDecoder(self.slots, len(self.ops))
        ranges = [self.grammar.token_range(k) for k in range(self.grammar.length)]
        return EncoderPredictorDecoder(self.slots, len(self.ops), ranges=ranges)

    @property
    def epd(self) -> EncoderPredictorDecoder:
        assert isinstance(self.net, EncoderPredictorDecoder)
        return self.net

    def tokens(self, seqs: Sequence[Sequence[int]]) -> torch.Tensor:
        """The token sequences of value sequences (NAO's vocabulary, `TokenGrammar.vocab`)."""
        return torch.as_tensor([self.grammar.tokens(v) for v in seqs], dtype=torch.long, device=self.device)

    def archs(self, tokens: torch.Tensor) -> list[Arch]:
        """The value sequences of token sequences (the decoder's: each in its position's range)."""
        return [self.grammar.values(row) for row in tokens.tolist()]

    def arch(self, values: Sequence[int]) -> Any:
        """The space's architecture of a value sequence."""
        return self.grammar.decode(values)

    def key(self, values: Sequence[int]) -> str:
        return str(self.space.canonical(self.arch(values)))

    # ---- the weights' step -----------------------------------------------------------------------
    def weight_forward(
        self, model: nn.Module, x: torch.Tensor, rng: np.random.Generator, sampler: Any
    ) -> torch.Tensor:
        """The shared weights train on one pool architecture, drawn uniformly (the run's RNG)."""
        return model(x, self.arch(self.pool[int(rng.integers(len(self.pool)))]))

    # ---- a round ---------------------------------------------------------------------------------
    def end_epoch(self, model: nn.Module, scorer: Scorer, batches: ArchStream) -> list[float]:
        """At a round's epoch: score and sort the pool; but at the last, train the controller and
        replace the pool's worst by its candidates. The controller's final epoch loss."""
        if self.epoch + 1 not in round_epochs(self.epochs, int(self.settings["rounds"])):
            return []
        scores = self.score([self.arch(v) for v in self.pool], scorer, batches.plain_batches())
        order = np.argsort(-np.asarray(scores), kind="stable")
        self.pool = [self.pool[i] for i in order]
        scores = [scores[i] for i in order]
        self.best = (self.pool[0], scores[0])
        self.rounds_done += 1
        self.info = {"nao_round": self.rounds_done, "nao_pool_best_batch_acc": scores[0]}
        if self.is_last_epoch:
            return []
        loss = self.train_controller(self.pool, scores)
        new = self.candidates(self.pool[:TOP], int(self.settings["new_archs"]))
        self.pool = self.pool[: len(self.pool) - len(new)] + new
        self.info["nao_new_archs"] = len(new)
        return [loss]

    @staticmethod
    def score(archs: Sequence[Any], scorer: Scorer, batches: Callable[[], Batch]) -> list[float]:
        """Each architecture's accuracy (%) on the next batch of the architecture split."""
        return [float(scorer(a, batches())) for a in archs]

    def training_pairs(
        self, archs: Sequence[Arch], scores: Sequence[float]
    ) -> tuple[list[Arch], list[float], list[Arch], list[float]]:
        """(train archs, targets, held-out archs, targets): min-max normalised scores, shuffled, 90%
        to train, each training pair `expand` times (copies in random encodings of the same cell,
        `TokenGrammar.equivalent`)."""
        lo, hi = min(scores), max(scores)
        target = [(s - lo) / (hi - lo) if hi > lo else 0.0 for s in scores]
        order = self.rng.permutation(len(archs))
        split = max(1, int(len(archs) * TRAIN_SHARE))
        train = [(archs[i], target[i]) for i in order[:split]]
        held = [(archs[i], target[i]) for i in order[split:]]
        copies = list(train)
        for _ in range(int(self.settings["expand"]) - 1):
            for arch, t in train:
                copies.append((self.grammar.equivalent(arch, self.rng), t))
        return [a for a, _ in copies], [t for _, t in copies], [a for a, _ in held], [t for _, t in held]

    def train_controller(self, archs: Sequence[Arch], scores: Sequence[float]) -> float:
        """The encoder-predictor-decoder's training on the pool's scores; its last epoch's mean loss.
        The held-out pairs' pairwise accuracy and reconstruction distance join `info`."""
        train_a, train_t, held_a, held_t = self.training_pairs(archs, scores)
        epoch_loss = self.fit(train_a, train_t)
        if held_a:
            with torch.no_grad():
                held = self.tokens(held_a)
                predicted = self.epd.predict(held).double().cpu().tolist()
                recon = self.epd.reconstruct(held)
            self.info["nao_predictor_pairwise_acc"] = pairwise_accuracy(held_t, predicted)
            self.info["nao_reconstruction_hamming"] = float((recon != held).sum(1).float().mean())
        self.info["nao_controller_loss"] = epoch_loss
        return epoch_loss

    def fit(self, train_a: Sequence[Arch], train_t: Sequence[float]) -> float:
        """`controller_epochs` epochs of a fresh Adam on (architecture, target) pairs, in batches of 100
        shuffled each epoch; the last epoch's mean loss. Leaves the controller in eval mode."""
        s = self.settings
        x, y = self.tokens(train_a), torch.tensor(train_t, dtype=torch.float32, device=self.device)
        self.optimizer = self.new_optimizer()
        trade = float(s["trade_off"])
        self.epd.train()
        epoch_loss = float("nan")
        for _ in range(int(s["controller_epochs"])):
            order = torch.as_tensor(self.rng.permutation(len(train_a)), device=self.device)
            total = 0.0
            for i in range(0, len(order), BATCH):
                idx = order[i : i + BATCH]
                self.optimizer.zero_grad(set_to_none=True)
                predicted, log_probs = self.epd(x[idx])
                mse = F.mse_loss(predicted, y[idx])
                nll = F.nll_loss(log_probs.reshape(-1, log_probs.shape[-1]), x[idx].reshape(-1))
                loss = trade * mse + (1.0 - trade) * nll
                loss.backward()
                self.clip_and_step()
                total += float(loss.detach()) * len(idx)
            epoch_loss = total / len(order)
        self.epd.eval()
        return epoch_loss

    def candidates(self, top: Sequence[Arch], wanted: int) -> list[Arch]:
        """Up to WANTED new cells (by canonical form: in neither the pool nor each other), decoded from
        TOP moved up the predictor by step sizes 1, 2, ..., MAX_STEP. A decoded sequence that is no
        architecture (an NB101 tree over the edge limit) is passed over, as eval-nas's evaluation
        skips a cell the benchmark does not hold."""
        known = {self.key(a) for a in self.pool}
        new: list[Arch] = []
        tokens = self.tokens(top)
        for step in range(1, MAX_STEP + 1):
            for arch in self.archs(self.epd.generate(tokens, float(step))):
                if not self.grammar.valid(arch):
                    continue
                key = self.key(arch)
                if key not in known:
                    known.add(key)
                    new.append(arch)
                    if len(new) >= wanted:
                        return new
        return new

    # ---- what it found ---------------------------------------------------------------------------
    def derive(self, model: nn.Module, scorer: Scorer, batches: Callable[[], Batch]) -> Any:
        """The pool's best at the last round; before the first, the best of the pool scored now."""
        if self.best is not None:
            return self.arch(self.best[0])
        archs = [self.arch(v) for v in self.pool]
        scores = self.score(archs, scorer, batches)
        return archs[int(np.argmax(scores))]

    @torch.no_grad()
    def log_probs(self, archs: Sequence[Any]) -> np.ndarray:
        """NAO's score of each architecture: its predictor's output (no distribution to take a log of);
        -inf where the grammar cannot write it."""
        seqs = [self.grammar.encode(a) for a in archs]
        known = [i for i, v in enumerate(seqs) if v is not None]
        out = np.full(len(archs), -np.inf)
        if known:
            self.epd.eval()
            given = [v for v in seqs if v is not None]
            out[known] = self.epd.predict(self.tokens(given)).double().cpu().numpy()
        return out

    def probabilities(self) -> list[list[float]]:
        """Per position (an NB201 edge) the share of each value (op) in the pool (the distribution the
        weights train from)."""
        return value_shares(self.grammar, self.pool)

    def record(self) -> dict[str, Any]:
        return {"nao_pool_size": len(self.pool), **self.info}

    # ---- record ----------------------------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "pool": [list(a) for a in self.pool],
            "best": None if self.best is None else [list(self.best[0]), self.best[1]],
            "rounds_done": self.rounds_done,
            "info": dict(self.info),
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.pool = [tuple(int(o) for o in a) for a in state["pool"]]
        best = state["best"]
        self.best = None if best is None else (tuple(int(o) for o in best[0]), float(best[1]))
        self.rounds_done = int(state["rounds_done"])
        self.info = dict(state["info"])

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "round_epochs": round_epochs(self.epochs, int(self.settings["rounds"])),
            "controller_batch": BATCH,
            "moved_top": TOP,
            "max_step": MAX_STEP,
        }
