"""DARTS-NDS relaxed as DARTS's search cell: every node reads every earlier state through a mixed op.

Slots: per cell type (normal, then reduction) one per edge (node i, input j), j = 0..i+1, in DARTS's
order (node by node, input by input): 14 per cell, 28 in all, each over the 8 ops. Normal and
reduction cells have their own rows, as DARTS's `alphas_normal` / `alphas_reduce`.

Derived (DARTS's `genotype()`): per node the two inputs whose strongest op other than `none` is the
most probable, strongest first (ties: the lower input), each with its most probable op other than
`none`; the full concat [2, 3, 4, 5].

Score of a genotype (`log_probs`), the log-probability of a distribution over encodings: per
(op, input) pair of a node, log p(input | node) + log p(op | edge), where p(op | edge) is the edge's
softmax and p(input | node) the input's strength (what the derivation ranks by) over the node's
total; pairs independent, so unlike the derivation it allows one input twice and `none`. `sample`
draws from it (SETN's candidates).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from wsnas.spaces.darts.genotype import CELLS, FULL_CONCAT, NUM_NODES, OPS, PAIRS_PER_NODE, Genotype, Pair
from wsnas.spaces.relax import PARAM_FREE, Relaxation, choice

NONE_INDEX = OPS.index("none")
EDGES_PER_CELL = sum(i + 2 for i in range(NUM_NODES))
"""Edges of DARTS's search cell: 2 + 3 + 4 + 5 = 14."""


def edge_index(node: int, src: int) -> int:
    """Slot of edge (node, src) within its cell's rows (DARTS's `offset + j`)."""
    return node * (node + 3) // 2 + src


class DartsRelaxation(Relaxation):
    """DARTS's search cell over the NDS ops (module docstring)."""

    def __init__(self) -> None:
        self.sizes = (len(OPS),) * (EDGES_PER_CELL * len(CELLS))

    @staticmethod
    def _cell_rows(logp: np.ndarray, cell: int) -> np.ndarray:
        return logp[cell * EDGES_PER_CELL : (cell + 1) * EDGES_PER_CELL]

    @staticmethod
    def _strength(rows: np.ndarray, node: int) -> np.ndarray:
        """Per input of NODE the log-probability of its strongest op other than `none`."""
        edges = rows[edge_index(node, 0) : edge_index(node, 0) + node + 2]
        return np.delete(edges, NONE_INDEX, axis=1).max(axis=1)

    def _derive_cell(self, rows: np.ndarray) -> tuple[Pair, ...]:
        pairs: list[Pair] = []
        for node in range(NUM_NODES):
            strength = self._strength(rows, node)
            inputs = sorted(range(node + 2), key=lambda j: -strength[j])[:PAIRS_PER_NODE]
            for j in inputs:
                ops = rows[edge_index(node, j)].copy()
                ops[NONE_INDEX] = -np.inf
                pairs.append((OPS[int(np.argmax(ops))], j))
        return tuple(pairs)

    def derive(self, logp: np.ndarray, rng: np.random.Generator) -> Genotype:
        normal, reduce = (self._derive_cell(self._cell_rows(logp, c)) for c in range(len(CELLS)))
        return Genotype(normal, FULL_CONCAT, reduce, FULL_CONCAT)

    def _input_logp(self, rows: np.ndarray, node: int) -> np.ndarray:
        s = self._strength(rows, node)
        return s - np.logaddexp.reduce(s)

    def log_probs(self, logp: np.ndarray, archs: Sequence[Any]) -> np.ndarray:
        out = np.zeros(len(archs))
        for c, kind in enumerate(CELLS):
            rows = self._cell_rows(logp, c)
            inputs = [self._input_logp(rows, node) for node in range(NUM_NODES)]
            for a, arch in enumerate(archs):
                for slot, (op, src) in enumerate(arch.cell(kind)[0]):
                    node = slot // PAIRS_PER_NODE
                    out[a] += inputs[node][src] + rows[edge_index(node, src), OPS.index(op)]
        return out

    def sample(self, logp: np.ndarray, rng: np.random.Generator) -> Genotype:
        cells = []
        for c in range(len(CELLS)):
            rows = self._cell_rows(logp, c)
            pairs: list[Pair] = []
            for node in range(NUM_NODES):
                inputs = self._input_logp(rows, node)
                for _ in range(PAIRS_PER_NODE):
                    src = choice(inputs, rng)
                    pairs.append((OPS[choice(rows[edge_index(node, src)], rng)], src))
            cells.append(tuple(pairs))
        return Genotype(cells[0], FULL_CONCAT, cells[1], FULL_CONCAT)

    def param_free_share(self, arch: Any) -> float:
        """Share of the genotype's 16 (op, input) pairs (both cells) with a parameter-free op."""
        pairs = [op for kind in CELLS for op, _ in arch.cell(kind)[0]]
        return sum(op in PARAM_FREE for op in pairs) / len(pairs)
