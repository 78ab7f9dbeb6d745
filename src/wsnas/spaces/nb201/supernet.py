"""The NB201 super-net (f_ws): every cell owns shared weights, `forward(x, arch)` runs one path.

The macro skeleton is the stand-alone network's (`ops.macro_skeleton`). What each
mapping and low-fidelity factor does here: `docs/factors.md` (NB201 subsections).
Only the sampled path runs; per-arch plans are cached (`PlanCache`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.nn.bn import BNFactory, bn_factory
from wsnas.nn.conv import ReLUConvBN
from wsnas.nn.drop import drop_path
from wsnas.spaces.base import SuperNet
from wsnas.spaces.nb201.arch import EDGES, NUM_NODES, OPS, Arch, check_encoding
from wsnas.spaces.nb201.kernel_group import GROUP, KernelConv, KernelGroup, KernelPath
from wsnas.spaces.nb201.ops import (
    CONV_OPS,
    NONE,
    POOL,
    SKIP,
    ResidualBlock,
    avg_pool_3x3,
    cell_plan,
    macro_skeleton,
)
from wsnas.spaces.nb201.standalone import StandaloneCell, StandaloneNet
from wsnas.spaces.plan_cache import PlanCache

ConvOp = ReLUConvBN | KernelPath
"""A conv op an edge runs: its own ReLU-Conv-BN, or one kernel size of the super-kernel group."""
PathStep = tuple[int, nn.Module | KernelPath | None, nn.Module | None]
"""(source node, op module or None for identity, per-edge BN or None)."""
SuperCellPlan = tuple[tuple[PathStep, ...], ...]

KIND_SKIP, KIND_POOL, KIND_CONV = 0, 1, 2
FastStep = tuple[int, int, nn.Module | KernelConv | None, nn.Module | None]
"""(source node, KIND_*, the bare Conv2d or None, the BN that follows it or None)."""
FastCellPlan = tuple[tuple[FastStep, ...], ...]


def op_set_keys(ops_on: str) -> tuple[str, ...]:
    """Name of the op set each edge (in `EDGES` order) takes its weights from."""
    if ops_on == "edges":
        return tuple(f"e{e}" for e in range(len(EDGES)))
    if ops_on == "nodes":
        return tuple(f"e{e}" if src == 0 else f"n{dst}" for e, (src, dst) in enumerate(EDGES))
    raise ValueError(f"ops_on must be 'edges' or 'nodes', got {ops_on!r}")


def cell_drop_rates(p: float, layers: int) -> tuple[float, ...]:
    """Per layer (cells and residual blocks, in forward order), the rate its output is dropped at
    with `dropout_path_at=cell`: p * (index + 1) / layers, so deeper layers drop more and the last
    drops at p. The authors' rule (NAO's `apply_drop_path`, step ratio 1, layers counting the
    residual blocks); the residual blocks themselves are never dropped."""
    return tuple(float(p) * (i + 1) / layers for i in range(layers))


class NB201SuperCell(nn.Module):
    """One cell's shared weights: conv op sets keyed by `op_set_keys`, WSBN BNs per edge.

    An op set holds nor_conv_1x1 and nor_conv_3x3 (ReLU-Conv-BN each), or, with
    `mapping.super_kernel`, one `KernelGroup` serving both (key `GROUP`).
    """

    def __init__(self, C: int, mapping: MappingConfig, bn: BNFactory) -> None:
        super().__init__()
        self.C = C
        at_edges = mapping.dropout_path_at == "edges"
        self.drop_path_p = float(mapping.dropout_path) if at_edges else 0.0
        """Drop rate of each edge's output (`dropout_path_at=edges`)."""
        self.cell_drop_p = 0.0
        """Drop rate of the cell's output (`dropout_path_at=cell`), set by the net from the cell's depth."""
        self.super_kernel = bool(mapping.super_kernel)
        self.edge_keys = op_set_keys(mapping.ops_on)
        uses = Counter(self.edge_keys)
        per_edge_bn = {k for k, n in uses.items() if n > 1} if mapping.wsbn else set()
        self.op_sets = nn.ModuleDict()
        for key in uses:
            with_bn = key not in per_edge_bn
            ops: dict[str, nn.Module]
            if self.super_kernel:
                ops = {GROUP: KernelGroup(C, bn, with_bn=with_bn)}
            else:
                ops = {OPS[op]: ReLUConvBN(C, C, k, 1, bn, with_bn=with_bn) for op, k in CONV_OPS.items()}
            self.op_sets[key] = nn.ModuleDict(ops)
        bn_names = [GROUP] if self.super_kernel else [OPS[op] for op in CONV_OPS]
        self.edge_bns = nn.ModuleDict()
        for e, key in enumerate(self.edge_keys):
            if key in per_edge_bn:
                self.edge_bns[f"e{e}"] = nn.ModuleDict({name: bn(C) for name in bn_names})
        self.pool = avg_pool_3x3()
        self.in_dim = self.out_dim = C

    def edge_op(self, edge: int, op: int) -> tuple[nn.Module | KernelPath | None, nn.Module | None]:
        """(module, per-edge BN or None) that `edge` runs for `op`; (None, None) is identity."""
        if op == SKIP:
            return None, None
        if op == POOL:
            return self.pool, None
        if op in CONV_OPS:
            name = GROUP if self.super_kernel else OPS[op]
            shared = cast(nn.ModuleDict, self.op_sets[self.edge_keys[edge]])[name]
            conv: ConvOp
            if self.super_kernel:
                assert isinstance(shared, KernelGroup)
                conv = KernelPath(shared, CONV_OPS[op])
            else:
                conv = cast(ReLUConvBN, shared)
            key = f"e{edge}"
            if key in self.edge_bns:
                return conv, cast(nn.ModuleDict, self.edge_bns[key])[name]
            return conv, None
        raise ValueError(f"op {OPS[op]!r} is never computed")

    def plan(self, arch: Arch) -> SuperCellPlan:
        """The modules this cell runs for `arch`, per node 1..3 (see `ops.cell_plan`)."""
        return tuple(
            tuple((src, *self.edge_op(e, op)) for e, src, op in steps)
            for steps in cell_plan(arch, prune=True)
        )

    def fast_plan(self, arch: Arch) -> FastCellPlan:
        """`plan(arch)` with each conv op split into its Conv2d and BN, for `forward_fast`."""
        nodes: list[tuple[FastStep, ...]] = []
        for steps in cell_plan(arch, prune=True):
            node: list[FastStep] = []
            for e, src, op in steps:
                if op == SKIP:
                    node.append((src, KIND_SKIP, None, None))
                elif op == POOL:
                    node.append((src, KIND_POOL, None, None))
                else:
                    conv, edge_bn = self.edge_op(e, op)
                    assert isinstance(conv, ReLUConvBN | KernelPath)
                    node.append((src, KIND_CONV, conv.conv, edge_bn if edge_bn is not None else conv.bn))
            nodes.append(tuple(node))
        return tuple(nodes)

    def forward(
        self, x: torch.Tensor, plan: SuperCellPlan | FastCellPlan, fast: bool = False
    ) -> torch.Tensor:
        """Run `plan` (from `fast_plan` when `fast`, else from `plan`); one call, so hooks see one cell."""
        return self.forward_fast(x, plan) if fast else self.forward_plain(x, plan)  # type: ignore[arg-type]

    def forward_fast(self, x: torch.Tensor, plan: FastCellPlan) -> torch.Tensor:
        """`forward_plain` with one ReLU per source node shared by all its conv edges.

        relu(node) is the same tensor whichever edge computes it, so the forward is
        bit-identical; only the order in which the backward sums the edges'
        gradients into a node changes.
        """
        p = self.drop_path_p if self.training else 0.0
        nodes: list[torch.Tensor | None] = [x] + [None] * (NUM_NODES - 1)
        relus: list[torch.Tensor | None] = [None] * NUM_NODES
        for j, steps in enumerate(plan, start=1):
            out: torch.Tensor | None = None
            for src, kind, conv, bn in steps:
                h = nodes[src]
                if kind == KIND_CONV:
                    r = relus[src]
                    if r is None:  # a zero node: relu(0) = 0, and BN(conv(0)) need not be 0
                        r = torch.zeros_like(x) if h is None else F.relu(h)
                        relus[src] = r
                    h = bn(conv(r))  # type: ignore[misc]
                else:
                    if h is None:  # cell_plan prunes these; kept for safety
                        h = torch.zeros_like(x)
                    if kind == KIND_POOL:
                        h = self.pool(h)
                if p > 0.0:
                    h = drop_path(h, p)
                out = h if out is None else out + h
            nodes[j] = out
        return self._cell_output(x, nodes[-1])

    def _cell_output(self, x: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
        """The last node (zeros when it has no input), dropped per sample at `cell_drop_p` in training."""
        if out is None:
            return torch.zeros_like(x)
        if self.training and self.cell_drop_p > 0.0:
            out = drop_path(out, self.cell_drop_p)
        return out

    def forward_mixed(
        self, x: torch.Tensor, weights: Sequence[torch.Tensor | None], active: Sequence[Sequence[int]]
    ) -> torch.Tensor:
        """Every edge a mixed op over this cell's shared modules (the ones `edge_op` gives a single path).

        Edge e outputs the sum over the ops k of `weights[e][k] * op_k(h)` where k is in `active[e]`,
        and adds `weights[e][k]` itself for the ops not in it: DARTS passes every op as active, GDAS
        only the sampled one, so its straight-through weights of the others still reach the logits
        (Dong and Yang's `forward_gdas`). `none` adds nothing (its output is zero) unless it is the
        only active op. An edge whose weights are None runs `active[e][0]` alone, unweighted (the
        fixed edges of an embedded cell). A node's ReLU is computed once for all its conv edges.
        """
        p = self.drop_path_p if self.training else 0.0
        nodes: list[torch.Tensor] = [x]
        relus: dict[int, torch.Tensor] = {}
        outs: dict[tuple[int, int], torch.Tensor] = self._op_outputs(0, x, weights, active, relus)
        for j in range(1, NUM_NODES):
            out: torch.Tensor | None = None
            for e, (src, dst) in enumerate(EDGES):
                if dst != j:
                    continue
                h, w, ops = nodes[src], weights[e], active[e]
                acc: Any = 0
                if w is None:
                    if ops[0] == NONE:
                        continue
                    acc = outs[(e, ops[0])]
                else:
                    for k in range(len(OPS)):
                        if k not in ops:
                            acc = acc + w[k]
                        elif k != NONE:
                            acc = acc + w[k] * outs[(e, k)]
                        elif len(ops) == 1:
                            acc = acc + w[k] * torch.zeros_like(h)
                if p > 0.0:
                    acc = drop_path(acc, p)
                out = acc if out is None else out + acc
            nodes.append(out if out is not None else torch.zeros_like(x))
            if j < NUM_NODES - 1:
                outs.update(self._op_outputs(j, nodes[j], weights, active, relus))
        return self._cell_output(x, nodes[-1])

    def _op_outputs(
        self,
        src: int,
        h: torch.Tensor,
        weights: Sequence[torch.Tensor | None],
        active: Sequence[Sequence[int]],
        relus: dict[int, torch.Tensor],
    ) -> dict[tuple[int, int], torch.Tensor]:
        """The outputs of every op the mixed forward runs on node SRC's edges, keyed (edge, op).

        The node's pooling is computed once for all its edges. Its convolutions of one kernel size
        run as one convolution over their weights stacked along the output channels, and their BNs
        as one batch norm over the stacked channels: the same function (a channel's output and batch
        statistics depend on its own weights only), in fewer, larger kernels. That holds for plain
        BNs without running statistics and no super-kernel; otherwise each op runs alone."""
        want: list[tuple[int, int]] = []
        for e, (s, _) in enumerate(EDGES):
            if s != src:
                continue
            ops = active[e][:1] if weights[e] is None else active[e]
            want += [(e, k) for k in ops if k != NONE]
        out: dict[tuple[int, int], torch.Tensor] = {}
        pooled: torch.Tensor | None = None
        convs: dict[int, list[tuple[int, int, Any, Any]]] = {}
        for e, k in want:
            if k == SKIP:
                out[(e, k)] = h
            elif k == POOL:
                pooled = self.pool(h) if pooled is None else pooled
                out[(e, k)] = pooled
            else:
                conv, edge_bn = self.edge_op(e, k)
                assert isinstance(conv, ReLUConvBN | KernelPath)
                convs.setdefault(CONV_OPS[k], []).append(
                    (e, k, conv.conv, edge_bn if edge_bn is not None else conv.bn)
                )
        for size, items in convs.items():
            if len(items) > 1 and _stackable(items):
                r = relus.get(src)
                if r is None:
                    r = relus[src] = F.relu(h)
                w = torch.cat([c.weight for _, _, c, _ in items])
                y = F.conv2d(r, w, None, 1, size // 2)
                bns = [b for *_, b in items]
                affine = bns[0].weight is not None
                y = F.batch_norm(
                    y,
                    None,
                    None,
                    torch.cat([b.weight for b in bns]) if affine else None,
                    torch.cat([b.bias for b in bns]) if affine else None,
                    True,
                    0.0,
                    bns[0].eps,
                )
                for (e, k, *_), part in zip(items, y.split(self.C, dim=1), strict=True):
                    out[(e, k)] = part
            else:
                for e, k, *_ in items:
                    out[(e, k)] = self._run_op(e, k, h, src, relus)
        return out

    def _run_op(
        self, edge: int, op: int, h: torch.Tensor, src: int, relus: dict[int, torch.Tensor]
    ) -> torch.Tensor:
        """Op OP of EDGE on H (node SRC), its conv on the node's one ReLU."""
        if op == SKIP:
            return h
        if op == POOL:
            return self.pool(h)
        conv, edge_bn = self.edge_op(edge, op)
        assert isinstance(conv, ReLUConvBN | KernelPath)
        r = relus.get(src)
        if r is None:
            r = relus[src] = F.relu(h)
        y = conv.conv(r)
        bn = edge_bn if edge_bn is not None else conv.bn
        return y if bn is None else bn(y)

    def forward_plain(self, x: torch.Tensor, plan: SuperCellPlan) -> torch.Tensor:
        """The straightforward path: every edge runs its op module as is."""
        p = self.drop_path_p if self.training else 0.0
        nodes: list[torch.Tensor | None] = [x]
        for steps in plan:
            out: torch.Tensor | None = None
            for src, op, bn in steps:
                h = nodes[src]
                if h is None:  # conv out of a zero node: BN(conv(0)) need not be 0
                    h = torch.zeros_like(x)
                if op is not None:
                    h = op(h)
                    if bn is not None:
                        h = bn(h)
                if p > 0.0:
                    h = drop_path(h, p)
                out = h if out is None else out + h
            nodes.append(out)
        return self._cell_output(x, nodes[-1])


def _stackable(items: Sequence[tuple[int, int, Any, Any]]) -> bool:
    """Convolutions whose BNs can run as one: plain Conv2d, plain BN without running statistics,
    one eps and one affine setting."""
    bns = [b for *_, b in items]
    return (
        all(type(c) is nn.Conv2d and c.bias is None for _, _, c, _ in items)
        and all(type(b) is nn.BatchNorm2d and b.running_mean is None for b in bns)
        and len({(b.eps, b.weight is None) for b in bns}) == 1
    )


class NB201SuperNet(PlanCache, SuperNet, nn.Module):
    """Weight-sharing NB201 network; `forward(x, arch)` with arch a 6-tuple of op indices.

    `fast_path` (default True) computes the same ops on the same weights, only
    cheaper: on CPU the input is made channels-last (oneDNN's conv, BN and 3x3
    average pool are 1.5-5x faster in that layout at NB201's sizes), and a cell
    applies the ReLU of a node once for all the conv edges leaving it instead of
    once per edge (`NB201SuperCell.forward_fast`). False keeps the straightforward
    path, the reference the fast path is tested against (equal up to float
    rounding, tests/trainers/test_fast_path.py). Either can be switched at any time; the
    plan cache follows.
    """

    PLAN_CACHE_SIZE = len(OPS) ** len(EDGES)
    """Every encoding fits: random sampling never evicts, a step costs a dict lookup."""
    _fast: bool = True  # class default, for instances pickled before the flag existed

    def __init__(
        self,
        mapping: MappingConfig | None = None,
        lowfi: LowFidelityConfig | None = None,
        num_classes: int = 10,
        fast_path: bool = True,
    ) -> None:
        super().__init__()
        mapping = mapping if mapping is not None else MappingConfig()
        lowfi = lowfi if lowfi is not None else LowFidelityConfig()
        self.mapping, self.lowfi = mapping.model_copy(), lowfi.model_copy()
        C, N = lowfi.channels, lowfi.cells_per_stage
        self.C, self.N, self.num_classes = C, N, num_classes
        bn = bn_factory(mapping.bn_affine, mapping.bn_track_running_stats)
        self.stem, self.cells, self.lastact, c_prev = macro_skeleton(
            C, N, bn, lambda c: NB201SuperCell(c, mapping, bn)
        )
        if mapping.dropout_path_at == "cell":
            for index, rate in enumerate(cell_drop_rates(mapping.dropout_path, len(self.cells))):
                cell = self.cells[index]
                if isinstance(cell, NB201SuperCell):
                    cell.cell_drop_p = rate
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        p = mapping.dropout_global
        self.dropout: nn.Module = nn.Dropout(p) if p > 0 else nn.Identity()
        self.classifier = nn.Linear(c_prev, num_classes)
        self._fast = bool(fast_path)

    @property
    def fast_path(self) -> bool:
        return self._fast

    @fast_path.setter
    def fast_path(self, value: bool) -> None:
        # The cache holds plans of one kind only; a switch rebuilds them lazily.
        if bool(value) != self._fast:
            self._fast = bool(value)
            self.clear_plans()

    def _parse_arch(self, arch: Any) -> Arch:
        key = tuple(int(o) for o in arch)
        check_encoding(key)
        return key

    def _build_plans(self, key: Arch) -> tuple[SuperCellPlan | FastCellPlan | None, ...]:
        """Per layer, the cell's plan of the current kind (None for the residual blocks)."""
        return tuple(
            (layer.fast_plan(key) if self._fast else layer.plan(key))
            if isinstance(layer, NB201SuperCell)
            else None
            for layer in self.cells
        )

    def path_key(self, arch: Arch) -> Any:
        """Archs with equal keys run exactly the same ops on the same weights (pruned plan).

        Evaluation computes one of them and copies its accuracy to the others.
        """
        return cell_plan(tuple(int(o) for o in arch), prune=True)

    def forward(self, x: torch.Tensor, arch: Arch) -> torch.Tensor:
        if type(arch) is not tuple:
            arch = tuple(int(o) for o in arch)
        plans = self.plans(arch)
        fast = self._fast
        if fast and x.device.type == "cpu" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)  # no copy if it already is
        x = self.stem(x)
        for layer, plan in zip(self.cells, plans, strict=True):
            x = layer(x) if plan is None else layer(x, plan, fast)
        x = self.global_pooling(self.lastact(x)).flatten(1)
        return self.classifier(self.dropout(x))

    def forward_mixed(
        self, x: torch.Tensor, weights: Sequence[torch.Tensor | None], active: Sequence[Sequence[int]]
    ) -> torch.Tensor:
        """Logits with every cell's edges mixed ops (`NB201SuperCell.forward_mixed`); all cells share
        WEIGHTS (one row per edge) and ACTIVE, as the search models of DARTS and GDAS do."""
        if x.device.type == "cpu" and x.dim() == 4 and self._fast:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.stem(x)
        for layer in self.cells:
            x = layer.forward_mixed(x, weights, active) if isinstance(layer, NB201SuperCell) else layer(x)
        x = self.global_pooling(self.lastact(x)).flatten(1)
        return self.classifier(self.dropout(x))

    @torch.no_grad()
    def extract_standalone(self, arch: Arch) -> StandaloneNet:
        """A StandaloneNet for `arch` holding copies of this path's weights.

        It has the super-net's BN flags and no dropout, so in eval mode (or in
        train mode without dropout) its forward equals `self(x, arch)`: the check
        that the super-net runs exactly the sampled path's weights. Also a start
        for fine-tuning a found cell.
        """
        check_encoding(arch)
        net = StandaloneNet(
            arch,
            self.C,
            self.N,
            self.num_classes,
            self.mapping.bn_affine,
            self.mapping.bn_track_running_stats,
        )
        param = next(self.parameters())
        net.to(device=param.device, dtype=param.dtype)
        net.stem.load_state_dict(self.stem.state_dict())
        net.lastact.load_state_dict(self.lastact.state_dict())
        net.classifier.load_state_dict(self.classifier.state_dict())
        for mine, theirs in zip(self.cells, net.cells, strict=True):
            if isinstance(mine, ResidualBlock):
                theirs.load_state_dict(mine.state_dict())
                continue
            assert isinstance(mine, NB201SuperCell) and isinstance(theirs, StandaloneCell)
            for e, op in enumerate(net.arch):
                if op not in CONV_OPS:
                    continue
                conv, edge_bn = mine.edge_op(e, op)
                target = theirs.edges[e]
                assert isinstance(target, ReLUConvBN) and target.bn is not None  # make_op of a conv op
                if isinstance(conv, KernelPath):  # the super-kernel at this size, transform applied
                    target.conv.weight.copy_(conv.conv.weight())
                else:
                    assert isinstance(conv, ReLUConvBN)
                    target.conv.load_state_dict(conv.conv.state_dict())
                source_bn = edge_bn if edge_bn is not None else conv.bn
                assert source_bn is not None
                target.bn.load_state_dict(source_bn.state_dict())
        net.train(self.training)
        return net
