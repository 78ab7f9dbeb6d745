"""NB101 relaxed as the authors' earlier code does it (kcyu2014/eval-nas, `NasBenchNetSearchDarts`):
every interior vertex mixes its op and chooses one input.

Slots: for vertices 1..n (n = max_vertices - 2), first one op row each (conv3x3, conv1x1, maxpool3x3),
then one input row each: vertex v chooses among `drop` (no input: the vertex leaves the cell), the
cell input (0) and the earlier vertices 1..v-1, so v + 1 choices (eval-nas's `alpha_topology`, whose
extra first row is `drop`). The mixed cell is eval-nas's full connection: every vertex sums all its
candidate inputs weighted by their probabilities (drop's share only scales them down), applies the
op mixture, feeds the output, and the cell input is projected to the output too.

Derived (eval-nas's `sample_model_spec` + `sample_and_summarize`): `DERIVE_SAMPLES` cells drawn from
the distribution (per vertex one input and one op; every vertex and the input wired to the output),
pruned; those in the space (at most `max_edges` edges) are counted by the benchmark hash and the most
frequent wins (ties: the first drawn). eval-nas drops a draw that is not in NASBench-101; with every
kept vertex wired to the output a draw has 2k + 1 edges for k kept vertices, so all 5 kept (11 edges)
is never valid. When no draw is valid (eval-nas would then have no answer) the nearest valid rule
applies: the most probable draw, cutting the kept vertex whose input is least probable until the
cell is valid (`repair`).

Score (`log_probs`), for any NB101 cell (pruned, vertices numbered as the super-net's slots):
sum over its vertices of log p(op) plus log p(u) for each in-edge u -> v, plus log p(drop) for each
slot the cell does not use. For the cells eval-nas can draw (one input per vertex) this is their
log-probability as an encoding; a second in-edge counts as one more independent draw; edges to the
output are not scored (eval-nas wires them all).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from wsnas.core.errors import ArchError
from wsnas.spaces.nb101.graph import INPUT, MAXPOOL3X3, OPS, OUTPUT, CellSpec, hash_graph, labels, validate
from wsnas.spaces.relax import Relaxation, choice

DERIVE_SAMPLES = 1000
"""Draws per derivation (eval-nas's `top_K_num_sample`)."""
DROP = 0
"""Input choice 0 of every vertex: no input (the vertex is cut from the cell)."""

Draw = tuple[tuple[int, int], ...]
"""Per vertex 1..n its (op index, input choice)."""


class NB101Relaxation(Relaxation):
    """eval-nas's relaxation of an NB101 cell (module docstring)."""

    def __init__(self, max_vertices: int, max_edges: int) -> None:
        self.n = max_vertices - 2
        self.max_vertices, self.max_edges = max_vertices, max_edges
        self.sizes = (len(OPS),) * self.n + tuple(v + 1 for v in range(1, self.n + 1))

    def op_row(self, vertex: int) -> int:
        return vertex - 1

    def input_row(self, vertex: int) -> int:
        return self.n + vertex - 1

    def cell(self, draw: Draw) -> CellSpec:
        """The unpruned cell of a draw: the chosen in-edges, every vertex and the input to the output."""
        size = self.n + 2
        m = [[0] * size for _ in range(size)]
        for v, (_, c) in enumerate(draw, start=1):
            if c != DROP:
                m[c - 1][v] = 1
        for u in range(size - 1):
            m[u][size - 1] = 1
        ops = (INPUT, *(OPS[o] for o, _ in draw), OUTPUT)
        return CellSpec(tuple(tuple(r) for r in m), ops)

    def valid(self, draw: Draw) -> CellSpec | None:
        """The pruned cell of a draw when it is in the space, else None."""
        try:
            return validate(self.cell(draw), self.max_vertices, self.max_edges)
        except ArchError:
            return None

    def draw(self, logp: np.ndarray, rng: np.random.Generator) -> Draw:
        return tuple(
            (choice(logp[self.op_row(v)], rng), choice(logp[self.input_row(v)], rng))
            for v in range(1, self.n + 1)
        )

    def repair(self, logp: np.ndarray, draw: Draw) -> CellSpec:
        """The nearest valid cell: cut the kept vertex whose input is least probable until valid."""
        cur = list(draw)
        while (spec := self.valid(tuple(cur))) is None:
            kept = [v for v in range(1, self.n + 1) if cur[v - 1][1] != DROP]
            if not kept:
                raise ArchError("no NB101 cell of the input wired to the output fits this space")
            v = min(kept, key=lambda u: (logp[self.input_row(u), cur[u - 1][1]], -u))
            cur[v - 1] = (cur[v - 1][0], DROP)
        return spec

    def derive(self, logp: np.ndarray, rng: np.random.Generator) -> CellSpec:
        counts: Counter[str] = Counter()
        first: dict[str, CellSpec] = {}
        seen: dict[Draw, str | None] = {}
        for _ in range(DERIVE_SAMPLES):
            d = self.draw(logp, rng)
            if d not in seen:
                spec = self.valid(d)
                seen[d] = None if spec is None else hash_graph(spec.matrix, labels(spec.ops))
                if spec is not None:
                    first.setdefault(seen[d], spec)  # type: ignore[arg-type]
            key = seen[d]
            if key is not None:
                counts[key] += 1
        if counts:
            best = max(counts.values())
            return next(first[k] for k in first if counts[k] == best)
        mode = tuple(
            (int(np.argmax(logp[self.op_row(v)])), int(np.argmax(logp[self.input_row(v)])))
            for v in range(1, self.n + 1)
        )
        return self.repair(logp, mode)

    def log_probs(self, logp: np.ndarray, archs: Sequence[Any]) -> np.ndarray:
        out = np.zeros(len(archs))
        for a, arch in enumerate(archs):
            spec = validate(arch, self.max_vertices, self.max_edges)
            inner = spec.num_vertices - 2
            for v in range(1, self.n + 1):
                if v > inner:
                    out[a] += logp[self.input_row(v), DROP]
                    continue
                out[a] += logp[self.op_row(v), OPS.index(spec.ops[v])]
                out[a] += sum(logp[self.input_row(v), u + 1] for u in range(v) if spec.matrix[u][v])
        return out

    def sample(self, logp: np.ndarray, rng: np.random.Generator) -> CellSpec:
        """A valid draw (up to 100 tries), else the last draw repaired."""
        for _ in range(100):
            d = self.draw(logp, rng)
            spec = self.valid(d)
            if spec is not None:
                return spec
        return self.repair(logp, d)

    def param_free_share(self, arch: Any) -> float:
        """Share of the cell's vertices that are max pools (NB101's only parameter-free op)."""
        ops = validate(arch, self.max_vertices, self.max_edges).ops[1:-1]
        return sum(op == MAXPOOL3X3 for op in ops) / max(len(ops), 1)
