"""ENAS's micro-space token sequence of a DARTS genotype (NAO's encoding of the same space).

melodyguan/enas `src/cifar10/micro_controller.py` writes each of the normal and the reduce cell node
by node, each node as two inputs (an index among the cell's two input states and its earlier nodes)
and two ops, laid out (index_1, op_1, index_2, op_2); renqianluo/NAO_pytorch NAO_V1 (`utils.py`
`parse_arch_to_seq`) encodes the same space with the same layout, normal cell first, input tokens
1..(states) and op tokens after them. A DARTS-NDS genotype is exactly that: node i has two
(op, input) pairs with inputs 0..i+1 and the full concat [2, 3, 4, 5], so every sequence is a
genotype and every genotype one sequence (16 positions per cell, 32 in all).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wsnas.core.errors import ArchError
from wsnas.spaces.darts.genotype import CELLS, FULL_CONCAT, NUM_NODES, OPS, PAIRS_PER_NODE, Genotype
from wsnas.spaces.grammar import NodeLayout, TokenGrammar, Values

FIRST_INPUTS = 2


class DartsGrammar(TokenGrammar):
    """ENAS micro / NAO_V1: per cell, per node, (input, op, input, op)."""

    name = "darts-enas-micro"
    reference = (
        "melodyguan/enas src/cifar10/micro_controller.py (arc_seq per node: index_1, op_1, index_2, "
        "op_2; normal then reduce cell); renqianluo/NAO_pytorch NAO_V1/utils.py parse_arch_to_seq"
    )
    param_free = frozenset({"none", "skip_connect", "avg_pool_3x3", "max_pool_3x3"})
    favoured = ("sep_conv_3x3", "sep_conv_5x5")  # ENAS's b_soft: 10 on its first two ops, these

    def __init__(self) -> None:
        super().__init__(
            OPS,
            NodeLayout(cells=len(CELLS), first_inputs=FIRST_INPUTS, nodes=NUM_NODES, pairs=PAIRS_PER_NODE),
        )
        self.per_cell = 2 * NUM_NODES * PAIRS_PER_NODE

    def decode(self, values: Sequence[int]) -> Genotype:
        if not self.valid(values):
            raise ArchError(f"DARTS token sequence {list(values)}: out of range")
        cells = []
        for c in range(len(CELLS)):
            part = values[c * self.per_cell : (c + 1) * self.per_cell]
            cells.append(tuple((OPS[int(part[k + 1])], int(part[k])) for k in range(0, len(part), 2)))
        return Genotype(cells[0], FULL_CONCAT, cells[1], FULL_CONCAT)

    def encode(self, arch: Genotype) -> Values | None:
        if tuple(arch.normal_concat) != FULL_CONCAT or tuple(arch.reduce_concat) != FULL_CONCAT:
            return None
        out: list[int] = []
        for kind in CELLS:
            for op, inp in arch.cell(kind)[0]:
                out += [int(inp), OPS.index(op)]
        return tuple(out)

    def equivalent(self, values: Values, rng: np.random.Generator) -> Values:
        """NAO_V1's augmented copy: in each cell, the two (input, op) pairs of one node drawn
        uniformly are swapped (a node sums its two pairs, so the genotype builds the same network)."""
        out = list(values)
        for c in range(len(CELLS)):
            node = int(rng.integers(NUM_NODES))
            at = c * self.per_cell + 4 * node
            out[at : at + 4] = out[at + 2 : at + 4] + out[at : at + 2]
        return tuple(out)
