"""DARTS's search cell over the DARTS-NDS super-net's own modules (`DartsSuperNet.forward_mixed`).

Node i sums a mixed op on every edge from states 0..i+1 (`darts.relax` orders the edges); an edge's
op k runs the very module a single path runs for (op k, input j) of that node (`step_keys`, op sets
per edge: `mapping.ops_on=edges`), so BN modes, super-kernels and drop-path mean what they mean
for single-path training: drop-path drops each op's output as the single path does, never the
identity skip. As in the NB201 mixed op, an op outside `active` adds its weight alone (GDAS's
straight-through weights of the ops not drawn), `none` adds nothing unless it is the only active op.
The cell outputs all four nodes (DARTS's search cell, the NDS space's full concat).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from wsnas.nn.drop import drop_path
from wsnas.spaces.darts.genotype import NUM_NODES, OPS
from wsnas.spaces.darts.ops import KERNEL, NONE, SKIP, op_stride
from wsnas.spaces.darts.relax import edge_index

Keys = Callable[[int, int], tuple[str, str]]
"""(node, input) -> (op-set key, BN key) of the edge's modules (`supernet.step_keys` of the mapping)."""


def mixed_cell(
    cell: Any,
    keys: Keys,
    s0: torch.Tensor,
    s1: torch.Tensor,
    weights: Sequence[torch.Tensor | None],
    active: Sequence[Sequence[int]],
) -> torch.Tensor:
    """One cell (a `DartsSuperCell`, which imports this module) with every edge a mixed op: WEIGHTS /
    ACTIVE hold this cell type's 14 edges, KEYS names each edge's modules."""
    p = cell.drop_path_p if cell.training else 0.0
    states = [cell.preprocess0(s0), cell.preprocess1(s1)]
    zero: torch.Tensor | None = None
    for node in range(NUM_NODES):
        out: Any = 0
        for src in range(node + 2):
            e = edge_index(node, src)
            w, act = weights[e], active[e]
            assert w is not None, "every DARTS edge is mixed"
            set_key, bn_key = keys(node, src)
            identity = op_stride(cell.reduction, src) == 1
            for k, op in enumerate(OPS):
                if k not in act:
                    out = out + w[k]
                    continue
                if op == NONE:
                    if len(act) == 1:
                        zero = cell._zeros(s1) if zero is None else zero
                        out = out + w[k] * zero
                    continue
                if op == SKIP and identity:
                    out = out + w[k] * states[src]
                    continue
                y = cell.op_sets[set_key](states[src], op, bn_key, KERNEL.get(op, 0))
                if p > 0.0:
                    y = drop_path(y, p)
                out = out + w[k] * y
        states.append(out)
    return torch.cat(states[2:], dim=1)
