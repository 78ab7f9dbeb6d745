"""The DARTS super-net (f_ws): shared weights for every genotype; `forward(x, genotype)` runs one path.

The macro skeleton is DARTS's search network (`ops.macro_skeleton`, L = 3N + 2
cells, `layers_for`); every cell outputs all 4 nodes, a node outside the concat
being zeros, so shapes never depend on the genotype. What each mapping and
low-fidelity factor does here: `docs/factors.md` (DARTS subsections). Only the
sampled path runs; per-genotype plans (pure data) are cached (`PlanCache`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import nn

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.core.errors import ConfigError
from wsnas.nn.bn import BNFactory, bn_factory
from wsnas.nn.drop import drop_path
from wsnas.nn.superkernel import SuperKernelConv2d
from wsnas.spaces.base import SuperNet
from wsnas.spaces.darts.genotype import FULL_CONCAT, NUM_NODES, PAIRS_PER_NODE, Genotype, parse_genotype
from wsnas.spaces.darts.mixed import mixed_cell
from wsnas.spaces.darts.ops import (
    DIL_CONV,
    DILATION,
    KERNEL,
    NONE,
    POOLS,
    SEP_CONV,
    SKIP,
    DilConv,
    FactorizedReduce,
    ReLUConvBN,
    SepConv,
    cell_pairs,
    live_nodes,
    macro_skeleton,
    op_stride,
    pool,
    reduction_layers,
)
from wsnas.spaces.darts.standalone import StandaloneCell, StandaloneNet
from wsnas.spaces.plan_cache import PlanCache

GenotypeLike = Genotype | str | Mapping[str, Any]
SEP_GROUP, DIL_GROUP = "sep_conv", "dil_conv"
"""Op keys of the two kernel groups under `super_kernel`."""
SHARED_BN = "any"
"""BN key of an op set whose BNs serve every input (no WSBN)."""


def layers_for(cells_per_stage: int) -> int:
    """Total cells for N normal cells per stage: 3N + 2 (two reduction cells between the stages)."""
    if cells_per_stage < 1:
        raise ValueError(f"cells_per_stage must be >= 1, got {cells_per_stage}")
    return 3 * cells_per_stage + 2


def step_keys(ops_on: str, wsbn: bool, reduction: bool, slot: int, src: int) -> tuple[str, str]:
    """(op-set key, BN key) that genotype pair `slot` reading state `src` runs with."""
    stride = op_stride(reduction, src)
    if ops_on == "edges":
        return f"e{src}to{slot // PAIRS_PER_NODE + 2}", SHARED_BN
    if ops_on == "nodes":
        return f"s{slot}" + ("r" if stride == 2 else ""), (f"in{src}" if wsbn else SHARED_BN)
    raise ValueError(f"ops_on must be 'edges' or 'nodes', got {ops_on!r}")


def op_set_specs(ops_on: str, wsbn: bool, reduction: bool) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Every op set a cell owns: key -> (stride, BN keys), from all (slot, input) choices."""
    specs: dict[str, tuple[int, list[str]]] = {}
    for slot in range(NUM_NODES * PAIRS_PER_NODE):
        for src in range(slot // PAIRS_PER_NODE + 2):
            key, bn_key = step_keys(ops_on, wsbn, reduction, slot, src)
            _, keys = specs.setdefault(key, (op_stride(reduction, src), []))
            if bn_key not in keys:
                keys.append(bn_key)
    return {k: (s, tuple(b)) for k, (s, b) in specs.items()}


class Step(NamedTuple):
    """One op of a path: read state `src`, run `op` of op set `set_key` (None: identity) with BN `bn_key`."""

    src: int
    op: str
    set_key: str | None
    bn_key: str
    kernel: int


class CellPlan(NamedTuple):
    """A cell's path for one genotype (pure data; the same for every cell of that kind)."""

    nodes: tuple[tuple[Step, ...], ...]
    """Per node, its non-`none` ops; () for a zero node or one that cannot reach the output."""
    concat: tuple[int, ...]
    inputs: tuple[bool, bool]
    """Whether any step reads cell input 0 / 1 (an unread input is not even preprocessed)."""


def cell_plan(genotype: Genotype, reduction: bool, ops_on: str, wsbn: bool) -> CellPlan:
    """The steps a super-net cell runs for the genotype's normal or reduction cell."""
    pairs, concat = cell_pairs(genotype, reduction)
    live = live_nodes(pairs, concat)
    nodes: list[tuple[Step, ...]] = []
    for node in range(NUM_NODES):
        steps: list[Step] = []
        if live[node]:
            for slot in range(PAIRS_PER_NODE * node, PAIRS_PER_NODE * (node + 1)):
                op, src = pairs[slot]
                if op == NONE:
                    continue
                if op == SKIP and op_stride(reduction, src) == 1:
                    steps.append(Step(src, op, None, SHARED_BN, 0))
                    continue
                set_key, bn_key = step_keys(ops_on, wsbn, reduction, slot, src)
                steps.append(Step(src, op, set_key, bn_key, KERNEL.get(op, 0)))
        nodes.append(tuple(steps))
    reads = {step.src for steps in nodes for step in steps}
    return CellPlan(tuple(nodes), tuple(concat), (0 in reads, 1 in reads))


class SharedConvOp(nn.Module):
    """A sep_conv (2 units) or dil_conv (1 unit) whose BNs are picked per call (WSBN).

    A unit is ReLU -> depthwise conv (stride on the first unit) -> pointwise 1x1
    -> BN. With more than one kernel size the depthwise convs are super-kernels.
    """

    def __init__(
        self,
        C: int,
        kernel_sizes: Sequence[int],
        stride: int,
        dilation: int,
        units: int,
        bn: BNFactory,
        bn_keys: Sequence[str],
    ) -> None:
        super().__init__()
        self.kernel_sizes = tuple(sorted(set(kernel_sizes), reverse=True))
        self.super_kernel = len(self.kernel_sizes) > 1
        dws: list[nn.Conv2d] = []
        for u in range(units):
            s = stride if u == 0 else 1
            if self.super_kernel:
                dws.append(SuperKernelConv2d(C, C, self.kernel_sizes, stride=s, dilation=dilation, groups=C))
            else:
                k = self.kernel_sizes[0]
                dws.append(nn.Conv2d(C, C, k, s, dilation * (k // 2), dilation, groups=C, bias=False))
        self.dws = nn.ModuleList(dws)
        self.pws = nn.ModuleList(nn.Conv2d(C, C, 1, bias=False) for _ in range(units))
        self.bns = nn.ModuleDict({key: nn.ModuleList(bn(C) for _ in range(units)) for key in bn_keys})

    def dw_weight(self, unit: int, kernel_size: int) -> torch.Tensor:
        """The depthwise kernel unit `unit` runs for `kernel_size` (what a stand-alone copy holds)."""
        dw = self.dws[unit]
        if isinstance(dw, SuperKernelConv2d):
            return dw.weight_for(kernel_size=kernel_size)
        assert isinstance(dw, nn.Conv2d)
        return dw.weight

    def forward(self, x: torch.Tensor, kernel_size: int, bn_key: str) -> torch.Tensor:
        bns = cast(nn.ModuleList, self.bns[bn_key])
        for dw, pw, bn in zip(self.dws, self.pws, bns, strict=True):
            x = F.relu(x)
            x = dw(x, kernel_size=kernel_size) if self.super_kernel else dw(x)
            x = bn(pw(x))
        return x


class SharedFactorizedReduce(nn.Module):
    """The stride-2 `skip_connect` (FactorizedReduce) with its BN picked per call (WSBN)."""

    def __init__(self, C: int, bn: BNFactory, bn_keys: Sequence[str]) -> None:
        super().__init__()
        self.conv_1 = nn.Conv2d(C, C // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(C, C // 2, 1, stride=2, bias=False)
        self.bns = nn.ModuleDict({key: bn(C) for key in bn_keys})

    def forward(self, x: torch.Tensor, bn_key: str) -> torch.Tensor:
        x = F.relu(x)
        return self.bns[bn_key](torch.cat((self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])), dim=1))


class DartsOpSet(nn.Module):
    """The weights of one op slot (or edge) at one stride: every parametric op and the pools' BNs."""

    def __init__(self, C: int, stride: int, mapping: MappingConfig, bn: BNFactory, bn_keys: Sequence[str]):
        super().__init__()
        self.stride, self.super_kernel = stride, bool(mapping.super_kernel)
        self.convs = nn.ModuleDict()
        if self.super_kernel:
            self.convs[SEP_GROUP] = SharedConvOp(C, tuple(SEP_CONV.values()), stride, 1, 2, bn, bn_keys)
            self.convs[DIL_GROUP] = SharedConvOp(
                C, tuple(DIL_CONV.values()), stride, DILATION, 1, bn, bn_keys
            )
        else:
            for name, k in SEP_CONV.items():
                self.convs[name] = SharedConvOp(C, (k,), stride, 1, 2, bn, bn_keys)
            for name, k in DIL_CONV.items():
                self.convs[name] = SharedConvOp(C, (k,), stride, DILATION, 1, bn, bn_keys)
        self.pools = nn.ModuleDict({name: pool(name, stride) for name in POOLS})
        self.pool_bns = nn.ModuleDict(
            {name: nn.ModuleDict({key: bn(C) for key in bn_keys}) for name in POOLS}
        )
        self.reduce: SharedFactorizedReduce | None = (
            SharedFactorizedReduce(C, bn, bn_keys) if stride == 2 else None
        )

    def conv_key(self, op: str) -> str:
        if not self.super_kernel:
            return op
        return SEP_GROUP if op in SEP_CONV else DIL_GROUP

    def conv(self, op: str) -> SharedConvOp:
        conv = self.convs[self.conv_key(op)]
        assert isinstance(conv, SharedConvOp)
        return conv

    def forward(self, x: torch.Tensor, op: str, bn_key: str, kernel: int = 0) -> torch.Tensor:
        if kernel:
            return self.convs[self.conv_key(op)](x, kernel, bn_key)
        if op in POOLS:
            return cast(nn.ModuleDict, self.pool_bns[op])[bn_key](self.pools[op](x))
        if op == SKIP and self.reduce is not None:
            return self.reduce(x, bn_key)
        raise ValueError(f"op {op!r} is not computed by a stride-{self.stride} op set")


class DartsSuperCell(nn.Module):
    """One cell's shared weights: preprocessing and the op sets keyed by `step_keys`."""

    def __init__(
        self,
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        mapping: MappingConfig,
        bn: BNFactory,
    ) -> None:
        super().__init__()
        self.C, self.reduction, self.reduction_prev = C, reduction, reduction_prev
        self.drop_path_p = float(mapping.dropout_path)
        self.preprocess0: nn.Module = (
            FactorizedReduce(C_prev_prev, C, bn) if reduction_prev else ReLUConvBN(C_prev_prev, C, bn=bn)
        )
        self.preprocess1 = ReLUConvBN(C_prev, C, bn=bn)
        self.op_sets = nn.ModuleDict(
            {
                key: DartsOpSet(C, stride, mapping, bn, bn_keys)
                for key, (stride, bn_keys) in op_set_specs(mapping.ops_on, mapping.wsbn, reduction).items()
            }
        )
        self.out_dim = NUM_NODES * C

    def op_set(self, key: str) -> DartsOpSet:
        s = self.op_sets[key]
        assert isinstance(s, DartsOpSet)
        return s

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, plan: CellPlan) -> torch.Tensor:
        states: list[torch.Tensor | None] = [
            self.preprocess0(s0) if plan.inputs[0] else None,
            self.preprocess1(s1) if plan.inputs[1] else None,
        ]
        p = self.drop_path_p if self.training else 0.0
        zero: torch.Tensor | None = None
        for steps in plan.nodes:
            out: torch.Tensor | None = None
            for src, op, set_key, bn_key, kernel in steps:
                h = states[src]
                if set_key is None:  # identity skip: a zero state stays zero, no drop-path (DARTS)
                    if h is None:
                        continue
                else:
                    if h is None:  # a node fed only by `none`: its ops still run (BN(0) need not be 0)
                        zero = self._zeros(s1) if zero is None else zero
                        h = zero
                    h = self.op_sets[set_key](h, op, bn_key, kernel)
                    if p > 0.0:
                        h = drop_path(h, p)
                out = h if out is None else out + h
            states.append(out)
        nodes = states[2:]
        if plan.concat == FULL_CONCAT and all(t is not None for t in nodes):
            return torch.cat(nodes, dim=1)  # type: ignore[arg-type]
        zero = self._zeros(s1) if zero is None else zero
        parts = [t if t is not None and 2 + i in plan.concat else zero for i, t in enumerate(nodes)]
        return torch.cat(parts, dim=1)

    def _zeros(self, s1: torch.Tensor) -> torch.Tensor:
        """A zero node state: C channels at the cell's output resolution (`s1`: the raw cell input 1)."""
        n, _, h, w = s1.shape
        if self.reduction:
            h, w = (h + 1) // 2, (w + 1) // 2
        return s1.new_zeros(n, self.C, h, w)


class DartsSuperNet(PlanCache, SuperNet, nn.Module):
    """Weight-sharing DARTS network; `forward(x, genotype)` with a Genotype (or its DARTS/NDS text).

    `plans(genotype)`: the (normal, reduction) cell plans, cached (PlanCache).
    """

    def __init__(
        self,
        mapping: MappingConfig | None = None,
        lowfi: LowFidelityConfig | None = None,
        num_classes: int = 10,
        layers: int | None = None,
    ) -> None:
        super().__init__()
        mapping = mapping if mapping is not None else MappingConfig(ops_on="nodes", bn_affine=False)
        lowfi = lowfi if lowfi is not None else LowFidelityConfig(channels=16, cells_per_stage=2)
        L = layers_for(lowfi.cells_per_stage) if layers is None else int(layers)
        if L < 3:
            raise ConfigError(f"a DARTS super-net needs at least 3 cells, got {L}")
        self.mapping, self.lowfi = mapping.model_copy(), lowfi.model_copy()
        self.C, self.layers, self.num_classes = lowfi.channels, L, num_classes
        bn = bn_factory(mapping.bn_affine, mapping.bn_track_running_stats)
        self.reductions = reduction_layers(L)
        self.stem, self.cells, outs = macro_skeleton(
            self.C,
            L,
            bn,
            lambda c_pp, c_prev, c, reduction, reduction_prev: DartsSuperCell(
                c_pp, c_prev, c, reduction, reduction_prev, mapping, bn
            ),
        )
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        p = mapping.dropout_global
        self.dropout: nn.Module = nn.Dropout(p) if p > 0 else nn.Identity()
        self.classifier = nn.Linear(outs[-1], num_classes)

    # -- plans ------------------------------------------------------------------------

    def _parse_arch(self, genotype: GenotypeLike) -> Genotype:
        return parse_genotype(genotype)

    def _build_plans(self, g: Genotype) -> tuple[CellPlan, CellPlan]:
        """(normal, reduction) cell plans of `g`."""
        m = self.mapping
        return cell_plan(g, False, m.ops_on, m.wsbn), cell_plan(g, True, m.ops_on, m.wsbn)

    def path_key(self, genotype: GenotypeLike) -> tuple[CellPlan, CellPlan]:
        """Genotypes with equal keys run the same ops on the same weights (same logits in eval mode)."""
        return self.plans(genotype)

    # -- forward ----------------------------------------------------------------------

    def forward(self, x: torch.Tensor, genotype: GenotypeLike) -> torch.Tensor:
        normal, reduce = self.plans(genotype)
        if x.device.type == "cpu" and x.dim() == 4:  # oneDNN's depthwise backward: much faster in NHWC
            x = x.contiguous(memory_format=torch.channels_last)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, reduce if cell.reduction else normal)
        return self.classifier(self.dropout(self.global_pooling(s1).flatten(1)))

    def forward_mixed(
        self, x: torch.Tensor, weights: Sequence[torch.Tensor | None], active: Sequence[Sequence[int]]
    ) -> torch.Tensor:
        """Logits with every edge a mixed op (DARTS's search cell, `darts.mixed`): WEIGHTS and ACTIVE
        hold the normal cells' 14 edges, then the reduction cells' (`darts.relax`)."""
        half = len(weights) // 2
        if x.device.type == "cpu" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            assert isinstance(cell, DartsSuperCell)
            lo = half if cell.reduction else 0
            w, act = weights[lo : lo + half], active[lo : lo + half]
            keys = partial(_edge_keys, self.mapping, cell.reduction)
            s0, s1 = s1, mixed_cell(cell, keys, s0, s1, w, act)
        return self.classifier(self.dropout(self.global_pooling(s1).flatten(1)))

    # -- export -----------------------------------------------------------------------

    @torch.no_grad()
    def extract_standalone(self, genotype: GenotypeLike) -> StandaloneNet:
        """A StandaloneNet for `genotype` holding copies of the weights this path runs.

        It has the super-net's BN flags, a BN after each pool (`pool_bn`) and no
        dropout; super-kernels are materialised for the op's kernel size, WSBN
        picks the BN of the slot's input, and the 1x1 convs and classifier after a
        cell keep the input channels of the nodes in that cell's concat. So its
        forward equals `self(x, genotype)` (train mode without dropout, or eval
        mode): the check that the super-net runs exactly the sampled weights.
        """
        g = parse_genotype(genotype)
        m = self.mapping
        net = StandaloneNet(
            g,
            self.C,
            self.layers,
            auxiliary=False,
            num_classes=self.num_classes,
            bn_affine=m.bn_affine,
            bn_track_running_stats=m.bn_track_running_stats,
            pool_bn=True,
        )
        param = next(self.parameters())
        net.to(device=param.device, dtype=param.dtype)
        net.stem.load_state_dict(self.stem.state_dict())
        outs: list[torch.Tensor | None] = [None, None]  # input channels each cell's output keeps; None = all
        for mine, theirs in zip(self.cells, net.cells, strict=True):
            assert isinstance(mine, DartsSuperCell) and isinstance(theirs, StandaloneCell)
            _copy_preprocess(mine.preprocess0, theirs.preprocess0, outs[-2])
            _copy_preprocess(mine.preprocess1, theirs.preprocess1, outs[-1])
            for slot, (op, src) in enumerate(theirs.pairs):
                if op == NONE or (op == SKIP and op_stride(mine.reduction, src) == 1):
                    continue
                set_key, bn_key = step_keys(m.ops_on, m.wsbn, mine.reduction, slot, src)
                _copy_op(mine.op_set(set_key), op, bn_key, theirs.ops[slot])
            idx = torch.cat([torch.arange((s - 2) * mine.C, (s - 1) * mine.C) for s in theirs.concat])
            outs.append(None if theirs.concat == FULL_CONCAT else idx.to(param.device))
        net.classifier.weight.copy_(_cols(self.classifier.weight, outs[-1]))
        net.classifier.bias.copy_(self.classifier.bias)
        net.train(self.training)
        return net


def _edge_keys(mapping: MappingConfig, reduction: bool, node: int, src: int) -> tuple[str, str]:
    """The modules of mixed edge (node, src): those of the node's first slot reading SRC."""
    return step_keys(mapping.ops_on, mapping.wsbn, reduction, PAIRS_PER_NODE * node, src)


def _cols(w: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
    return w if idx is None else w.index_select(1, idx)


def _copy_bn(src: nn.Module | None, dst: nn.Module | None) -> None:
    assert src is not None and dst is not None  # a stand-alone op and its super-net op both have BN
    dst.load_state_dict(src.state_dict())


def _copy_preprocess(src: nn.Module, dst: nn.Module, idx: torch.Tensor | None) -> None:
    if isinstance(src, FactorizedReduce):
        assert isinstance(dst, FactorizedReduce)
        dst.conv_1.weight.copy_(_cols(src.conv_1.weight, idx))
        dst.conv_2.weight.copy_(_cols(src.conv_2.weight, idx))
    else:
        assert isinstance(src, ReLUConvBN) and isinstance(dst, ReLUConvBN)
        dst.conv.weight.copy_(_cols(src.conv.weight, idx))
    _copy_bn(src.bn, dst.bn)


def _copy_op(op_set: DartsOpSet, op: str, bn_key: str, dst: nn.Module) -> None:
    if op in KERNEL:
        conv = op_set.conv(op)
        bns = conv.bns[bn_key]
        k = KERNEL[op]
        convs: tuple[tuple[nn.Conv2d, nn.Conv2d, nn.BatchNorm2d], ...]
        if isinstance(dst, SepConv):
            convs = ((dst.dw1, dst.pw1, dst.bn1), (dst.dw2, dst.pw2, dst.bn2))
        else:
            assert isinstance(dst, DilConv)
            convs = ((dst.dw, dst.pw, dst.bn),)
        for u, (dw, pw, bn) in enumerate(convs):
            dw.weight.copy_(conv.dw_weight(u, k))
            pw.weight.copy_(cast(nn.Conv2d, conv.pws[u]).weight)
            _copy_bn(cast(nn.ModuleList, bns)[u], bn)
    elif op in POOLS:
        assert isinstance(dst, nn.Sequential)
        _copy_bn(cast(nn.ModuleDict, op_set.pool_bns[op])[bn_key], dst[1])
    elif op == SKIP:
        reduce = op_set.reduce
        assert reduce is not None and isinstance(dst, FactorizedReduce)
        dst.conv_1.weight.copy_(reduce.conv_1.weight)
        dst.conv_2.weight.copy_(reduce.conv_2.weight)
        _copy_bn(reduce.bns[bn_key], dst.bn)


__all__ = [
    "CellPlan",
    "DartsOpSet",
    "DartsSuperCell",
    "DartsSuperNet",
    "SharedConvOp",
    "SharedFactorizedReduce",
    "Step",
    "cell_plan",
    "layers_for",
    "op_set_specs",
    "step_keys",
]
