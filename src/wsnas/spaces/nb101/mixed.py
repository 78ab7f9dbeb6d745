"""eval-nas's relaxed NB101 cell over the NB101 super-net's own modules (`NB101SuperNet.forward_mixed`).

The cell is the full connection of n interior vertices (`nb101.relax`): every vertex feeds the
output, so its channels are the benchmark's rule for that graph (C split over the n vertices), and
the cell input is projected to the output. Vertex v sums its candidate inputs, each weighted by
its probability (the cell input through the vertex's own 1x1 projection, an earlier vertex
truncated to v's channels, as a single path does), then mixes its op over the vertex's shared
modules (`NB101Slot`). So dynamic channels, super-kernels, BN modes and drop-path mean what they
mean for single-path training; WSBN picks the BN of the inputs the vertex reads (all its
candidates under DARTS, the drawn one under GDAS). As in the NB201 mixed op, a choice outside
`active` adds its weight alone (GDAS's straight-through weights); a vertex whose only active input
is `drop` outputs zeros (it is not in the drawn cell).

eval-nas weights the cell input's projection by 1 and the others by the probabilities of the
choices one place before their own (its `topo_weight[ind]` skips the input's entry); here every
input takes its own probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import torch

from wsnas.nn.drop import drop_path
from wsnas.spaces.nb101.graph import CONV3X3, INPUT, MAXPOOL3X3, OPS, OUTPUT, CellSpec
from wsnas.spaces.nb101.ops import CellPlan, cell_plan
from wsnas.spaces.nb101.relax import DROP


@cache
def full_plan(n: int, in_channels: int, channels: int) -> CellPlan:
    """The plan of the full connection of N interior vertices (widths, sources; ops unused)."""
    size = n + 2
    matrix = tuple(tuple(int(j > i) for j in range(size)) for i in range(size))
    return cell_plan(CellSpec(matrix, (INPUT, *(CONV3X3,) * n, OUTPUT)), in_channels, channels)


def mixed_cell(
    cell: Any,
    x: torch.Tensor,
    op_w: Sequence[torch.Tensor | None],
    in_w: Sequence[torch.Tensor | None],
    op_act: Sequence[Sequence[int]],
    in_act: Sequence[Sequence[int]],
) -> torch.Tensor:
    """One relaxed cell (an `NB101SuperCell`, which imports this module): per vertex its op weights
    OP_W and input weights IN_W (`nb101.relax`)."""
    plan = full_plan(len(op_w), cell.C_in, cell.C)
    p = cell.drop_path_p if cell.training else 0.0
    maps = cell.channel_maps(plan, x.device, cell.training)
    outs = [x]
    for v in plan.vertices:
        cmap, slot = maps[v.width], cell.slot(v.vertex)
        w, act = in_w[v.vertex - 1], in_act[v.vertex - 1]
        assert w is not None, "every NB101 vertex is mixed"
        h: Any = 0
        mask = 0
        for c in range(v.vertex + 1):
            if c not in act:
                h = h + w[c]
                continue
            if c == DROP:
                continue
            if c == 1:
                t = slot.proj(x, cell.conv_maps(cmap, v.width, True, x.device))
            else:
                t = outs[c - 1]
                t = t[:, : v.width] if t.shape[1] != v.width else t
            if p > 0.0:
                t = drop_path(t, p)
            h = h + w[c] * t
            mask |= 1 << (c - 1)
        if mask == 0:  # only `drop` drawn: the vertex is not in the cell
            outs.append(h + w[DROP] * x.new_zeros(x.shape[0], v.width, *x.shape[2:]))
            continue
        ow, oact = op_w[v.vertex - 1], op_act[v.vertex - 1]
        assert ow is not None
        y: Any = 0
        for k, op in enumerate(OPS):
            if k not in oact:
                y = y + ow[k]
                continue
            op_maps = None if op == MAXPOOL3X3 else cell.conv_maps(cmap, v.width, False, x.device)
            y = y + ow[k] * slot(h, op, mask, op_maps)
        outs.append(y)
    parts = [outs[t] for t in plan.concat]
    if p > 0.0:
        parts = [drop_path(t, p) for t in parts]
    t = cell.out_proj(x)
    if p > 0.0:
        t = drop_path(t, p)
    return torch.cat(parts, 1) + t
