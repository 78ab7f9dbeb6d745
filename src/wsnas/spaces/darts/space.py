"""The `darts_nds` search space: DARTS genotypes as in the NDS DARTS design space.

Counting (per cell type; a genotype is a normal and a reduction cell, drawn
independently, so the space's counts are these squared):
- encodings: node i (0..3) has two ordered (op, input) pairs with 8 ops and
  i+2 inputs, so prod_i (8 (i+2))^2 = (16 * 24 * 32 * 40)^2 = 241,591,910,400
  (the issue's "about 2.4e11 cells"); the whole space has 241,591,910,400^2
  ~ 5.8e22 genotypes. This is what `sample` draws uniformly (Random-NAS).
- unique cells under `canonical_id` (pairs of a node unordered, a `none` edge's
  input ignored): node i has n_i = 7 (i+2) + 1 distinct (op, input) choices and
  n_i (n_i + 1) / 2 unordered pairs with repetition, so
  120 * 253 * 435 * 666 = 8,795,595,600 per cell type, squared for the space.
  This is what `sample_unique` draws uniformly (Random-A).
Every sampler uses the full concat [2, 3, 4, 5], as DARTS and NDS do.
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING, Any

import numpy as np

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.spaces.base import COMMON_FACTORS, FEWSHOT_WHY_NOT, SPACES, SearchSpace, SuperNet
from wsnas.spaces.darts.benchmark import LOADER
from wsnas.spaces.darts.genotype import (
    CELLS,
    FULL_CONCAT,
    NUM_NODES,
    OPS,
    PAIRS_PER_NODE,
    Genotype,
    Pair,
    canonical_id,
    format_genotype,
    parse_genotype,
)
from wsnas.spaces.darts.relax import DartsRelaxation
from wsnas.spaces.factors import Factor

if TYPE_CHECKING:
    from wsnas.spaces.darts.standalone import StandaloneNet
    from wsnas.spaces.darts.tokens import DartsGrammar

NUM_INPUTS: tuple[int, ...] = tuple(i + 2 for i in range(NUM_NODES))
"""Inputs node i may take: the two previous cells and the i earlier nodes."""
CELL_ENCODINGS = prod((len(OPS) * n) ** PAIRS_PER_NODE for n in NUM_INPUTS)
"""Ordered (op, input) pairs per cell type: 241,591,910,400."""
_CHOICES: tuple[int, ...] = tuple((len(OPS) - 1) * n + 1 for n in NUM_INPUTS)
"""Distinct (op, input) choices of node i once a none edge's input is ignored."""
CELL_UNIQUE = prod(c * (c + 1) // 2 for c in _CHOICES)
"""Unique cells per cell type under `canonical_id`: 8,795,595,600."""
DEFAULT_CHANNELS = 36
DEFAULT_LAYERS = 20
"""DARTS's CIFAR-10 evaluation network (C=36, 20 cells), used for `arch_facts`."""


def _genotype(normal: list[Pair], reduce: list[Pair]) -> Genotype:
    return Genotype(tuple(normal), FULL_CONCAT, tuple(reduce), FULL_CONCAT)


def _choice_to_pair(c: int, node: int, rng: np.random.Generator) -> Pair:
    """Canonical choice c of node -> an (op, input) pair; choice 0 is none, on a random input."""
    n = NUM_INPUTS[node]
    if c == 0:
        return OPS[0], int(rng.integers(n))
    op, inp = divmod(c - 1, n)
    return OPS[1 + op], inp


DARTS_FACTORS: dict[str, Factor] = {
    **COMMON_FACTORS,
    "mapping.ops_on": Factor(("edges", "nodes")),
    "mapping.wsbn": Factor(
        (False, True),
        requires=(("mapping.ops_on", "nodes"),),
        why="with ops on edges no op set serves two inputs, so each already has its own BN",
    ),
    "mapping.super_kernel": Factor((False, True)),
}
"""The DARTS super-net's factors (docs/factors.md)."""


@SPACES.register("darts_nds")
class DartsSpace(SearchSpace):
    """DARTS normal + reduction cells (4 nodes x 2 (op, input) pairs, 8 ops including none)."""

    name = "darts_nds"
    title = "DARTS-NDS"
    loader = LOADER
    factors = DARTS_FACTORS
    mixed_op_why_not = None  # DartsSuperNet.forward_mixed: DARTS's search cell (spaces/darts/mixed.py)
    why_not = {
        "mapping.dynamic_channels": "every DARTS op keeps its channels",
        "fewshot.split": FEWSHOT_WHY_NOT,
    }
    # lr, epochs: docs/background.md#stand-alone-protocol-p_proxy; the rest: NB201's, at the size of
    # DARTS's evaluation network
    proxy = {
        "lr": 0.1,
        "epochs": 100,
        "batch_size": 256,
        "weight_decay": 5e-4,
        "nesterov": True,
        "channels": DEFAULT_CHANNELS,
        "cells": DEFAULT_LAYERS,
    }
    ops = OPS

    @property
    def num_archs(self) -> int:
        """Genotype encodings: CELL_ENCODINGS^2 (normal x reduction cell)."""
        return CELL_ENCODINGS ** len(CELLS)

    @property
    def num_unique(self) -> int:
        """Unique genotypes under `canonical_id`: CELL_UNIQUE^2."""
        return CELL_UNIQUE ** len(CELLS)

    def mixed_op_refusal(self, mapping: MappingConfig) -> str | None:
        if mapping.ops_on == "nodes":
            return (
                "mapping.ops_on=nodes keeps a node's ops in its two (op, input) slots, but a mixed op reads "
                "every input with no slot to take weights from (DARTS's search cell owns ops per edge); "
                "set mapping.ops_on=edges"
            )
        return None

    def relaxation(self) -> DartsRelaxation:
        """DARTS's search cell: one slot per edge of each cell type (`darts.relax`)."""
        return DartsRelaxation()

    # -- codec --------------------------------------------------------------------------

    def parse(self, text: str | Any) -> Genotype:
        """DARTS `Genotype(...)` notation or the NDS JSON dict (string or mapping)."""
        return parse_genotype(text)

    def format(self, arch: Genotype) -> str:
        return format_genotype(arch)

    def canonical(self, arch: Genotype | str) -> str:
        """Pairs of a node unordered, none inputs dropped (see `genotype.canonical_id`)."""
        return canonical_id(arch)

    # -- samplers -----------------------------------------------------------------------

    def _sample_cell(self, rng: np.random.Generator) -> list[Pair]:
        pairs: list[Pair] = []
        for n in NUM_INPUTS:
            ops = rng.integers(len(OPS), size=PAIRS_PER_NODE)
            inputs = rng.integers(n, size=PAIRS_PER_NODE)
            pairs.extend((OPS[int(o)], int(i)) for o, i in zip(ops, inputs, strict=True))
        return pairs

    def sample(self, rng: np.random.Generator) -> Genotype:
        """Random-NAS: every (op, input) pair of both cells uniform and independent."""
        return _genotype(self._sample_cell(rng), self._sample_cell(rng))

    def _sample_unique_cell(self, rng: np.random.Generator) -> list[Pair]:
        pairs: list[Pair] = []
        for node, n in enumerate(_CHOICES):
            while True:  # (a, b) uniform on n x n, kept when a <= b: uniform over multisets
                a, b = (int(x) for x in rng.integers(n, size=2))
                if a <= b:
                    break
            pair = [_choice_to_pair(a, node, rng), _choice_to_pair(b, node, rng)]
            if rng.integers(2):
                pair.reverse()
            pairs.extend(pair)
        return pairs

    def sample_unique(self, rng: np.random.Generator) -> Genotype:
        """Random-A: a unique genotype uniformly, shown as a uniformly random encoding of it.

        Per node, an unordered pair of canonical choices is drawn by rejection (an
        ordered pair on n x n, kept when a <= b: each multiset has probability
        1/n^2 per try); the pair order and a none edge's input are then random,
        which is uniform over the encodings of the class and keeps every slot
        and input of the super-net in training (as NB201's Random-A does).
        """
        return _genotype(self._sample_unique_cell(rng), self._sample_unique_cell(rng))

    def fair_num_ops(self) -> int:
        return len(OPS)

    def fair_paths(self, rng: np.random.Generator) -> list[Genotype]:
        """FairNAS: K=8 genotypes sharing one uniformly drawn topology (inputs of all 16 slots).

        Each slot (cell, node, pair) has its own permutation of the 8 ops and
        takes op perm[k] in path k, so every slot trains every op exactly once
        per step; normal and reduction slots are permuted independently.
        """
        slots = range(NUM_NODES * PAIRS_PER_NODE)
        inputs = {cell: [int(rng.integers(NUM_INPUTS[s // PAIRS_PER_NODE])) for s in slots] for cell in CELLS}
        perms = {cell: [rng.permutation(len(OPS)) for _ in inputs[cell]] for cell in CELLS}
        paths = []
        for k in range(len(OPS)):
            cells = {
                cell: [(OPS[int(p[k])], i) for p, i in zip(perms[cell], inputs[cell], strict=True)]
                for cell in CELLS
            }
            paths.append(_genotype(cells["normal"], cells["reduce"]))
        return paths

    def token_grammar(self) -> DartsGrammar:
        """How ENAS's and NAO's controllers write a genotype: ENAS's micro space, (input, op, input,
        op) per node, normal then reduce cell (`wsnas.spaces.darts.tokens`)."""
        from wsnas.spaces.darts.tokens import DartsGrammar

        return DartsGrammar()

    # -- search moves ---------------------------------------------------------------------

    def neighbours(self, arch: Genotype) -> list[Genotype]:
        """Change one (op, input) pair: any other op and input of its node, in either cell.

        Order: normal then reduction cell, slot by slot, then (op, input) in OPS x inputs order;
        2 x 2 x (15 + 23 + 31 + 39) = 432 genotypes.
        """
        out = []
        for kind in CELLS:
            pairs = list(arch.cell(kind)[0])
            for slot, old in enumerate(pairs):
                for op in OPS:
                    for inp in range(NUM_INPUTS[slot // PAIRS_PER_NODE]):
                        if (op, inp) == tuple(old):
                            continue
                        new = [*pairs[:slot], (op, inp), *pairs[slot + 1 :]]
                        other = list(arch.cell("reduce" if kind == "normal" else "normal")[0])
                        out.append(_genotype(new, other) if kind == "normal" else _genotype(other, new))
        return out

    def arch_distance(self, a: Genotype, b: Genotype) -> int:
        """(op, input) slots that differ, over both cells."""
        return sum(
            tuple(x) != tuple(y)
            for kind in CELLS
            for x, y in zip(a.cell(kind)[0], b.cell(kind)[0], strict=True)
        )

    # -- networks and facts ---------------------------------------------------------------

    def build_supernet(
        self, mapping: MappingConfig, lowfi: LowFidelityConfig, num_classes: int = 10
    ) -> SuperNet:
        """The DARTS super-net (f_ws) for the mapping and low-fidelity factors."""
        from wsnas.spaces.darts.supernet import DartsSuperNet  # torch: only where a network is built

        return DartsSuperNet(mapping, lowfi, num_classes=num_classes)

    def standalone(
        self,
        arch: Genotype,
        channels: int = DEFAULT_CHANNELS,
        cells: int = DEFAULT_LAYERS,
        num_classes: int = 10,
        *,
        auxiliary: bool = False,
    ) -> StandaloneNet:
        """DARTS's stand-alone CIFAR network of a genotype (f_proxy) at any width/depth."""
        from wsnas.spaces.darts.standalone import StandaloneNet

        return StandaloneNet(
            parse_genotype(arch), C=channels, layers=cells, auxiliary=auxiliary, num_classes=num_classes
        )

    def arch_facts(
        self, arch: Genotype, channels: int = DEFAULT_CHANNELS, cells: int = DEFAULT_LAYERS
    ) -> dict[str, Any]:
        """Params (without the auxiliary head, as DARTS reports) and FLOPs, in millions."""
        from wsnas.spaces.darts.flops import flops_millions
        from wsnas.spaces.darts.standalone import count_params

        g = parse_genotype(arch)
        params = count_params(self.standalone(g, channels, cells, auxiliary=False))
        return {
            "params_m": round(params / 1e6, 6),
            "flops_m": round(flops_millions(g, channels, cells), 6),
            "channels": channels,
            "layers": cells,
        }

    def info(self) -> dict[str, Any]:
        return {
            **super().info(),
            "ops": list(OPS),
            "nodes_per_cell": NUM_NODES,
            "cells": list(CELLS),
            "concat": list(FULL_CONCAT),
            "encodings_per_cell": CELL_ENCODINGS,
            "unique_per_cell": CELL_UNIQUE,
            "num_archs_rule": (
                "per cell type prod_i (8 ops x (i+2) inputs)^2 over nodes i=0..3 "
                "(ordered pairs); normal x reduction cell"
            ),
            "unique_rule": (
                "a node's two (op, input) pairs unordered; a none edge's input ignored; "
                "concat part of the id; normal x reduction cell"
            ),
        }
