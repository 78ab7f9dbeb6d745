"""The DARTS-NDS and NB101 mixed ops run the super-nets' own modules: one-hot weights give the single
path (forward and every gradient), general weights give the weighted sum computed by hand."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.spaces.darts.genotype import CELLS, FULL_CONCAT, OPS, Genotype
from wsnas.spaces.darts.mixed import mixed_cell as darts_cell
from wsnas.spaces.darts.ops import KERNEL, NONE, SKIP, op_stride
from wsnas.spaces.darts.relax import EDGES_PER_CELL, edge_index
from wsnas.spaces.darts.supernet import DartsSuperCell, DartsSuperNet, step_keys
from wsnas.spaces.nb101.graph import OPS as NB101_OPS
from wsnas.spaces.nb101.mixed import full_plan
from wsnas.spaces.nb101.mixed import mixed_cell as nb101_cell
from wsnas.spaces.nb101.relax import NB101Relaxation
from wsnas.spaces.nb101.supernet import NB101SuperCell, NB101SuperNet

EDGES = MappingConfig(ops_on="edges")
DARTS_ALL = [tuple(range(len(OPS)))] * (2 * EDGES_PER_CELL)


def _xy(n: int = 4, size: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, 10, (n,), generator=g)


def _assert_same_path(net, x, y, single, mixed, what):
    """Forward and every parameter's gradient of SINGLE() and MIXED() agree (up to summation order);
    a module only the mixed op runs gets a zero gradient."""
    net.zero_grad()
    out_single = single()
    F.cross_entropy(out_single, y).backward()
    grads = {n: (p.grad.clone() if p.grad is not None else None) for n, p in net.named_parameters()}
    net.zero_grad()
    out_mixed = mixed()
    F.cross_entropy(out_mixed, y).backward()
    torch.testing.assert_close(out_mixed.detach(), out_single.detach(), rtol=1e-5, atol=1e-5, msg=what)
    for n, p in net.named_parameters():
        if grads[n] is None:
            assert p.grad is None or torch.count_nonzero(p.grad) == 0, (what, n)
        else:
            scale = float(grads[n].abs().max())  # sums in another order: error relative to the tensor
            torch.testing.assert_close(
                p.grad, grads[n], rtol=1e-4, atol=1e-5 + 1e-4 * scale, msg=f"{what} {n}"
            )


# ---- DARTS-NDS -----------------------------------------------------------------------------------


def _darts_genotype(rng: np.random.Generator) -> Genotype:
    """Two distinct inputs per node, ops other than none (what one mixed edge per input can be)."""
    cells = []
    for _ in CELLS:
        pairs = []
        for node in range(4):
            for src in rng.choice(node + 2, 2, replace=False):
                pairs.append((OPS[int(rng.integers(1, len(OPS)))], int(src)))
        cells.append(tuple(pairs))
    return Genotype(cells[0], FULL_CONCAT, cells[1], FULL_CONCAT)


def _darts_one_hot(g: Genotype) -> list[torch.Tensor]:
    """The genotype's op on its edges, `none` on the others."""
    rows = []
    for kind in CELLS:
        w = torch.zeros(EDGES_PER_CELL, len(OPS))
        w[:, OPS.index(NONE)] = 1.0
        for slot, (op, src) in enumerate(g.cell(kind)[0]):
            e = edge_index(slot // 2, src)
            w[e] = 0.0
            w[e, OPS.index(op)] = 1.0
        rows += list(w)
    return rows


@pytest.mark.parametrize(
    "mapping",
    [
        EDGES,
        MappingConfig(ops_on="edges", bn_track_running_stats=True),
        MappingConfig(ops_on="edges", super_kernel=True),
    ],
    ids=["edges", "bn-tracked", "super-kernel"],
)
def test_darts_one_hot_mixed_op_is_the_single_path(mapping):
    torch.manual_seed(0)
    net = DartsSuperNet(mapping, LowFidelityConfig(channels=4, cells_per_stage=1))
    x, y = _xy(2)
    rng = np.random.default_rng(3)
    for _ in range(2):
        g = _darts_genotype(rng)
        _assert_same_path(
            net, x, y, partial(net, x, g), partial(net.forward_mixed, x, _darts_one_hot(g), DARTS_ALL), str(g)
        )


def _darts_by_hand(cell: DartsSuperCell, s0, s1, w: torch.Tensor) -> torch.Tensor:
    """Node i = sum over inputs j and ops k (none aside) of w[e, k] * op_k(state j), op k run as
    the module of edge e of an ops-on-edges super-net (identity for a stride-1 skip)."""
    states = [cell.preprocess0(s0), cell.preprocess1(s1)]
    for node in range(4):
        total = 0
        for src in range(node + 2):
            e = edge_index(node, src)
            for k, op in enumerate(OPS):
                if op == NONE:
                    continue
                if op == SKIP and op_stride(cell.reduction, src) == 1:
                    out = states[src]
                else:
                    out = cell.op_sets[f"e{src}to{node + 2}"](states[src], op, "any", KERNEL.get(op, 0))
                total = total + w[e, k] * out
        states.append(total)
    return torch.cat(states[2:], 1)


def _keys(reduction: bool, node: int, src: int) -> tuple[str, str]:
    return step_keys("edges", False, reduction, 2 * node, src)


def test_darts_general_weights_give_the_weighted_sum():
    torch.manual_seed(1)
    net = DartsSuperNet(EDGES, LowFidelityConfig(channels=4, cells_per_stage=1))
    w = torch.softmax(torch.randn(EDGES_PER_CELL, len(OPS)), -1)
    all_ops = [tuple(range(len(OPS)))] * EDGES_PER_CELL
    for cell in (net.cells[0], net.cells[1]):  # a normal and a reduction cell
        assert isinstance(cell, DartsSuperCell)
        pre0 = cell.preprocess0
        c0 = pre0.conv_1.in_channels if cell.reduction_prev else pre0.conv.in_channels
        s0, s1 = torch.randn(3, c0, 8, 8), torch.randn(3, cell.preprocess1.conv.in_channels, 8, 8)
        want = _darts_by_hand(cell, s0, s1, w)
        keys = partial(_keys, cell.reduction)
        torch.testing.assert_close(
            darts_cell(cell, keys, s0, s1, list(w), all_ops), want, rtol=1e-5, atol=1e-6
        )


# ---- NB101 ---------------------------------------------------------------------------------------


def _nb101_weights(rel: NB101Relaxation, draw) -> list[torch.Tensor]:
    ops = [F.one_hot(torch.tensor(o), len(NB101_OPS)).float() for o, _ in draw]
    inputs = [
        F.one_hot(torch.tensor(c), n).float() for (_, c), n in zip(draw, rel.sizes[rel.n :], strict=True)
    ]
    return ops + inputs


@pytest.mark.parametrize(
    ("mapping", "drawn_only"),
    [
        (MappingConfig(ops_on="nodes"), False),
        (MappingConfig(ops_on="nodes", bn_track_running_stats=True, bn_affine=True), False),
        (MappingConfig(ops_on="nodes", super_kernel=True), False),
        (MappingConfig(ops_on="nodes", wsbn=True, bn_affine=True), True),
    ],
    ids=["fixed", "bn-tracked", "super-kernel", "wsbn-gdas"],
)
def test_nb101_one_hot_mixed_op_is_the_single_path(mapping, drawn_only):
    """Cells eval-nas can draw with 4 kept vertices (9 edges, valid); WSBN with only the drawn
    choices active (GDAS), whose BN is the single path's (in-edge set = the drawn input)."""
    torch.manual_seed(0)
    net = NB101SuperNet(mapping, LowFidelityConfig(channels=8, cells_per_stage=1))
    rel = NB101Relaxation(6, 9)
    x, y = _xy()
    rng = np.random.default_rng(5)
    for _ in range(4):
        draw = tuple((int(rng.integers(3)), int(rng.integers(1, v + 1))) for v in range(1, 5))
        spec = rel.valid(draw)
        assert spec is not None and spec.num_vertices == 6
        if drawn_only:
            active = [(o,) for o, _ in draw] + [(c,) for _, c in draw]
        else:
            active = [tuple(range(n)) for n in rel.sizes]
        w = _nb101_weights(rel, draw)
        mixed = partial(net.forward_mixed, x, w, active)
        _assert_same_path(net, x, y, partial(net, x, spec), mixed, str(draw))


def _nb101_by_hand(cell: NB101SuperCell, x: torch.Tensor, op_w, in_w) -> torch.Tensor:
    """Vertex v = sum over ops k of op_w[v][k] * op_k(sum over inputs c of in_w[v][c] * input c),
    the input projected by v's 1x1, an earlier vertex cut to v's channels; the output concatenates
    the vertices and adds the input's projection."""
    plan = full_plan(len(op_w), cell.C_in, cell.C)
    outs = [x]
    cmaps = cell.channel_maps(plan, x.device, cell.training)  # the cell's channel rule (fixed: a prefix)
    for v in plan.vertices:
        slot, cmap = cell.slot(v.vertex), cmaps[v.width]
        h = in_w[v.vertex - 1][1] * slot.proj(x, cell.conv_maps(cmap, v.width, True, x.device))
        h = h.clone()
        for u in range(1, v.vertex):
            h = h + in_w[v.vertex - 1][u + 1] * outs[u][:, : v.width]
        ops = []
        mask = 2**v.vertex - 1
        for op in NB101_OPS:
            maps = None if op == "maxpool3x3" else cell.conv_maps(cmap, v.width, False, x.device)
            ops.append(slot(h, op, mask, maps))
        outs.append(sum(op_w[v.vertex - 1][k] * o for k, o in enumerate(ops)))
    return torch.cat(outs[1:], 1) + cell.out_proj(x)


def test_nb101_general_weights_give_the_weighted_sum():
    torch.manual_seed(2)
    net = NB101SuperNet(MappingConfig(ops_on="nodes"), LowFidelityConfig(channels=10, cells_per_stage=1))
    cell = net.cells()[0]
    rel = NB101Relaxation(7, 9)
    op_w = [torch.softmax(torch.randn(3), 0) for _ in range(5)]
    in_w = [torch.softmax(torch.randn(n), 0) for n in rel.sizes[5:]]
    x = torch.randn(3, cell.C_in, 6, 6)
    active = [tuple(range(n)) for n in rel.sizes]
    got = nb101_cell(cell, x, op_w, in_w, active[:5], active[5:])
    torch.testing.assert_close(got, _nb101_by_hand(cell, x, op_w, in_w), rtol=1e-5, atol=1e-6)


def test_nb101_a_vertex_drawn_out_outputs_zeros_and_its_weights_get_gradients():
    torch.manual_seed(0)
    net = NB101SuperNet(MappingConfig(ops_on="nodes"), LowFidelityConfig(channels=8, cells_per_stage=1))
    rel = NB101Relaxation(7, 9)
    logits = torch.zeros(10, 6, requires_grad=True)
    w = [torch.softmax(logits[i, :n], 0) for i, n in enumerate(rel.sizes)]
    active = [(0,)] * 5 + [(1,), (0,), (1,), (3,), (1,)]  # vertex 2 dropped; vertex 4 reads it
    x, _ = _xy()
    net.forward_mixed(x, w, active).sum().backward()
    assert logits.grad is not None and torch.count_nonzero(logits.grad[6, :3]) > 0
