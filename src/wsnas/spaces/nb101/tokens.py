"""kcyu2014/eval-nas's node-based token sequence of a NASBench-101 cell, for ENAS's and NAO's controllers.

eval-nas ran ENAS and NAO on NASBench-101 with weight sharing by writing a cell as B = V - 2
intermediate nodes (V vertices; 5 of the benchmark's 7), each one (input, op) pair: node i
(vertex i + 1) takes one earlier vertex 0..i as its input (0 is the cell's input) and one of the
three ops; every vertex no later node takes as input (a leaf) feeds the output
(`enas_policy/utils_for_nasbench.parse_arch_to_model_spec_matrix_op`, `models/controller.py`'s
`ControllerNASbench` with one input and one pair per node, `nao_policy`'s NB101 decoder with a
vocabulary of 1 + 5 + 3 tokens). So the cells it writes are trees rooted at the input, every vertex on
an input-output path (none is pruned), with B + leaves edges.

Invalid sequences: the only ones over the edge limit are those with too many leaves (for the
benchmark's limits, every node on the input: 5 + 5 = 10 edges > 9, 243 of the 29,160 sequences).
eval-nas's super-net ran them anyway and its evaluation skipped them (their hash is not in the
benchmark; its ground-truth policy skips them in the controller's update too); here a super-net path
must be a cell of the space, so they are not architectures (`valid` False): ENAS draws them again,
NAO discards a decoded one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wsnas.core.errors import ArchError
from wsnas.spaces.grammar import GrammarError, NodeLayout, TokenGrammar, Values
from wsnas.spaces.nb101.graph import INPUT, OPS, OUTPUT, CellSpec, validate


class NB101Grammar(TokenGrammar):
    """eval-nas's NB101 mapping for cells of up to `max_vertices` vertices and `max_edges` edges."""

    name = "nb101-eval-nas"
    reference = (
        "kcyu2014/eval-nas search_policies/cnn/enas_policy/utils_for_nasbench.py "
        "(parse_arch_to_model_spec_matrix_op), models/controller.py (ControllerNASbench), "
        "nao_policy/decoder.py (Decoder_Nasbench)"
    )
    param_free = frozenset({"maxpool3x3"})
    favoured = OPS[:2]  # eval-nas's b_soft: 10 on its first two ops, conv3x3 and conv1x1

    def __init__(self, max_vertices: int, max_edges: int) -> None:
        nodes = max_vertices - 2
        if nodes < 1:
            raise GrammarError(f"NB101 with {max_vertices} vertices has no intermediate node to write")
        if max_edges < nodes + 1:  # a chain, the tree of fewest edges, has nodes + 1
            raise GrammarError(
                f"every eval-nas tree of {nodes} nodes has at least {nodes + 1} edges, more than "
                f"max_edges={max_edges}"
            )
        super().__init__(OPS, NodeLayout(cells=1, first_inputs=1, nodes=nodes, pairs=1))
        self.nodes, self.max_vertices, self.max_edges = nodes, max_vertices, max_edges

    def _spec(self, values: Sequence[int]) -> CellSpec:
        n = self.nodes + 2
        rows = [[0] * n for _ in range(n)]
        leaf = [True] * (self.nodes + 1)  # vertices 0..B: a leaf feeds the output
        ops = [INPUT]
        for i in range(self.nodes):
            parent, op = int(values[2 * i]), int(values[2 * i + 1])
            rows[parent][i + 1] = 1
            leaf[parent] = False
            ops.append(OPS[op])
        for v, is_leaf in enumerate(leaf):
            rows[v][n - 1] = int(is_leaf)
        return CellSpec(tuple(tuple(r) for r in rows), (*ops, OUTPUT))

    def valid(self, values: Sequence[int]) -> bool:
        if not self.in_range(values):
            return False
        leaves = self.nodes + 1 - len({int(values[2 * i]) for i in range(self.nodes)})
        return self.nodes + leaves <= self.max_edges

    def decode(self, values: Sequence[int]) -> CellSpec:
        if not self.valid(values):
            raise ArchError(f"NB101 token sequence {list(values)}: not a cell within the space's limits")
        spec = self._spec(values)
        validate(spec, self.max_vertices, self.max_edges)
        return spec

    def encode(self, arch: CellSpec) -> Values | None:
        n = self.nodes + 2
        if arch.num_vertices != n:
            return None
        m = arch.matrix
        values: list[int] = []
        for v in range(1, n - 1):
            parents = [u for u in range(v) if m[u][v]]
            if len(parents) != 1 or arch.ops[v] not in OPS:
                return None
            values += [parents[0], OPS.index(arch.ops[v])]
        if self._spec(values) != arch or not self.valid(values):  # the output's inputs are the leaves
            return None
        return tuple(values)

    def equivalent(self, values: Values, rng: np.random.Generator) -> Values:
        """The same cell with its nodes in another order that keeps every input before its node
        (a random topological order of the tree, each next node drawn uniformly among those whose input is
        placed)."""
        parents = [int(values[2 * i]) for i in range(self.nodes)]
        ops = [int(values[2 * i + 1]) for i in range(self.nodes)]
        placed = [0]  # old vertex ids in their new order
        while len(placed) <= self.nodes:
            ready = [v for v in range(1, self.nodes + 1) if v not in placed and parents[v - 1] in placed]
            placed.append(ready[int(rng.integers(len(ready)))])
        new_id = {old: new for new, old in enumerate(placed)}
        out: list[int] = []
        for old in placed[1:]:
            out += [new_id[parents[old - 1]], ops[old - 1]]
        return tuple(out)
