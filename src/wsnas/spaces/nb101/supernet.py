"""The NB101 super-net (f_ws): every cell owns shared weights, `forward(x, spec)` runs one cell's path.

The macro skeleton is the stand-alone network's (`ops.stacks`); ops live on nodes,
vertex channels follow the benchmark's rule (so they depend on the spec) and are
cut from weights sized for the cell's output channels. What each mapping and
low-fidelity factor does here: `docs/factors.md` (NB101 subsections). Only the
sampled path runs; per-spec plans (pure data) are cached (`PlanCache`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.core.errors import ConfigError
from wsnas.nn.bn import DynamicBNFactory, dynamic_bn_factory
from wsnas.nn.drop import drop_path
from wsnas.nn.dynamic import (
    ChannelMap,
    ConvMaps,
    DynamicBatchNorm2d,
    DynamicConv2d,
    interp_map,
    prefix_map,
    random_map,
    shuffle_maps,
)
from wsnas.nn.superkernel import SuperKernelConv2d
from wsnas.spaces.base import SuperNet
from wsnas.spaces.nb101.graph import CONV1X1, CONV3X3, MAXPOOL3X3, CellSpec
from wsnas.spaces.nb101.mixed import mixed_cell
from wsnas.spaces.nb101.ops import (
    BN_EPS,
    KERNEL,
    MAX_INTERIOR,
    CellPlan,
    ConvBNReLU,
    as_spec,
    benchmark_bn,
    cell_plan,
    max_pool_3x3,
    possible_widths,
    stacks,
)
from wsnas.spaces.nb101.standalone import StandaloneCell, StandaloneNet
from wsnas.spaces.plan_cache import PlanCache

SpecLike = CellSpec | str | Mapping[str, Any]
SUPER_KERNEL = "conv"
"""Op-set key of the merged conv3x3/conv1x1 under `super_kernel`."""
NUM_STACKS = 3


def _bn_factory(mapping: MappingConfig, width_stats: tuple[int, ...]) -> DynamicBNFactory:
    """The super-net's cuttable BNs (`wsnas.nn.bn`): the mapping's flags, the benchmark's eps,
    PyTorch's momentum; `width_stats`: widths with running statistics of their own (interpolate)."""
    return dynamic_bn_factory(
        mapping.bn_affine, mapping.bn_track_running_stats, eps=BN_EPS, width_stats=width_stats
    )


class DynamicConvBNReLU(nn.Module):
    """1x1 (or kxk) conv -> BN -> ReLU whose output channels a ChannelMap can cut (the projections)."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, bn: DynamicBNFactory) -> None:
        super().__init__()
        self.conv = DynamicConv2d(C_in, C_out, kernel_size)
        self.bn = bn(C_out)

    def forward(self, x: torch.Tensor, maps: ConvMaps | None = None) -> torch.Tensor:
        if maps is None:
            return F.relu(self.bn(self.conv(x)))
        return F.relu(self.bn(self.conv(x, maps.out, maps.inp), maps.bn))


class NB101Slot(nn.Module):
    """Weights of one vertex position of a cell: input projection, conv op set, BN(s)."""

    def __init__(
        self, slot: int, C_in: int, C: int, mapping: MappingConfig, width_stats: tuple[int, ...]
    ) -> None:
        super().__init__()
        self.slot, self.C = slot, C
        self.super_kernel, self.wsbn = mapping.super_kernel, mapping.wsbn
        bn = _bn_factory(mapping, width_stats)
        self.proj = DynamicConvBNReLU(C_in, C, 1, bn)
        self.convs = nn.ModuleDict()
        if self.super_kernel:
            self.convs[SUPER_KERNEL] = SuperKernelConv2d(C, C, tuple(sorted(KERNEL.values())))
        else:
            for op in (CONV3X3, CONV1X1):
                self.convs[op] = DynamicConv2d(C, C, KERNEL[op])
        self.bns = nn.ModuleDict()
        for key in self.convs:
            if self.wsbn:
                self.bns[key] = nn.ModuleDict({f"m{mask}": bn(C) for mask in range(1, 2**slot)})
            else:
                self.bns[key] = bn(C)
        self.pool = max_pool_3x3()

    def conv_key(self, op: str) -> str:
        return SUPER_KERNEL if self.super_kernel else op

    def conv(self, op: str) -> DynamicConv2d:
        conv = self.convs[self.conv_key(op)]
        assert isinstance(conv, DynamicConv2d)
        return conv

    def bn(self, op: str, mask: int) -> DynamicBatchNorm2d:
        """The BN that follows `op`'s conv for a vertex whose in-edges are `mask`."""
        bn = self.bns[self.conv_key(op)]
        if self.wsbn:
            assert isinstance(bn, nn.ModuleDict)
            bn = bn[f"m{mask}"]
        assert isinstance(bn, DynamicBatchNorm2d)
        return bn

    def conv_weight(self, op: str, cmap: ChannelMap | None) -> torch.Tensor:
        """The kernel `op` runs with for channel map `cmap`."""
        conv = self.conv(op)
        if isinstance(conv, SuperKernelConv2d):
            return conv.weight_for(cmap, cmap, KERNEL[op])
        return conv.weight_for(cmap, cmap)

    def forward(self, h: torch.Tensor, op: str, mask: int, maps: ConvMaps | None) -> torch.Tensor:
        if op == MAXPOOL3X3:
            return self.pool(h)
        assert maps is not None
        conv = self.conv(op)
        if isinstance(conv, SuperKernelConv2d):
            y = conv(h, maps.out, maps.inp, KERNEL[op])
        else:
            y = conv(h, maps.out, maps.inp)
        return F.relu(self.bn(op, mask)(y, maps.bn))


class NB101SuperCell(nn.Module):
    """One cell's shared weights: 5 slots and the input->output projection."""

    def __init__(self, C_in: int, C: int, mapping: MappingConfig) -> None:
        super().__init__()
        self.C_in, self.C = C_in, C
        self.policy = mapping.dynamic_channels
        self.drop_path_p = float(mapping.dropout_path)
        widths = possible_widths(C) if self.policy == "interpolate" and mapping.bn_track_running_stats else ()
        self.slots = nn.ModuleList(NB101Slot(i, C_in, C, mapping, widths) for i in range(1, MAX_INTERIOR + 1))
        self.out_proj = DynamicConvBNReLU(C_in, C, 1, _bn_factory(mapping, ()))
        self.in_dim, self.out_dim = C_in, C

    def slot(self, vertex: int) -> NB101Slot:
        s = self.slots[vertex - 1]
        assert isinstance(s, NB101Slot)
        return s

    def plan(self, spec: CellSpec) -> CellPlan:
        return cell_plan(spec, self.C_in, self.C)

    def channel_maps(
        self, plan: CellPlan, device: torch.device, training: bool
    ) -> dict[int, ChannelMap | None]:
        """Width -> ChannelMap for this call (None = full width)."""
        C = self.C
        if self.policy == "shuffle_consistent" and training:
            maps: dict[int, ChannelMap | None] = dict(shuffle_maps(C, plan.widths, device))
            return {w: maps.get(w) for w in plan.widths}
        if self.policy == "interpolate":
            return {w: None if w == C else interp_map(C, w, device) for w in plan.widths}
        return {w: None if w == C else prefix_map(C, w) for w in plan.widths}

    def conv_maps(self, cmap: ChannelMap | None, width: int, proj: bool, device: torch.device) -> ConvMaps:
        """The maps of one conv call of a vertex of `width` channels: its input projection
        (`proj`: reads all C_in channels of the cell input) or its op (reads `width` channels).

        Under `shuffle` in training, the authors' variant: each weight axis draws its own random
        subset (`random_map`: a fresh permutation per call and axis, unrelated to the channels the
        previous layer produced; a full-width axis is permuted too) and the BN takes its first
        `width` channels. Otherwise one map (`channel_maps`) cuts the output axis, the BN and,
        for an op, the input axis.
        """
        if self.policy == "shuffle" and self.training:
            bn = None if width == self.C else prefix_map(self.C, width)
            inp = random_map(self.C_in, self.C_in, device) if proj else random_map(self.C, width, device)
            return ConvMaps(random_map(self.C, width, device), inp, bn)
        return ConvMaps(cmap, None if proj else cmap, cmap)

    def forward(self, x: torch.Tensor, plan: CellPlan) -> torch.Tensor:
        p = self.drop_path_p if self.training else 0.0
        maps = self.channel_maps(plan, x.device, self.training)
        outs = [x]
        for v in plan.vertices:
            cmap = maps[v.width]
            slot = cast(NB101Slot, self.slots[v.vertex - 1])
            h: torch.Tensor | None = None
            for s in v.srcs:  # interior inputs first, then the projection (the benchmark's order)
                t = outs[s]
                if t.shape[1] != v.width:
                    t = t[:, : v.width]
                if p > 0.0:
                    t = drop_path(t, p)
                h = t if h is None else h + t
            if v.from_input:
                t = slot.proj(x, self.conv_maps(cmap, v.width, True, x.device))
                if p > 0.0:
                    t = drop_path(t, p)
                h = t if h is None else h + t
            assert h is not None
            op_maps = None if v.op == MAXPOOL3X3 else self.conv_maps(cmap, v.width, False, x.device)
            outs.append(slot(h, v.op, v.mask, op_maps))
        out: torch.Tensor | None = None
        if plan.concat:
            parts = [outs[t] for t in plan.concat]
            if p > 0.0:
                parts = [drop_path(t, p) for t in parts]
            out = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
        if plan.out_proj:
            t = self.out_proj(x)
            if p > 0.0:
                t = drop_path(t, p)
            out = t if out is None else out + t
        assert out is not None
        return out


class NB101SuperNet(PlanCache, SuperNet, nn.Module):
    """Weight-sharing NB101 network; `forward(x, spec)` with a CellSpec (or its JSON text/dict).

    `plans(spec)`: per layer, the cell plan (None for the max pools), cached (PlanCache).
    """

    def __init__(
        self,
        mapping: MappingConfig | None = None,
        lowfi: LowFidelityConfig | None = None,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        mapping = mapping if mapping is not None else MappingConfig(ops_on="nodes")
        lowfi = lowfi if lowfi is not None else LowFidelityConfig(channels=128, cells_per_stage=3)
        if mapping.ops_on != "nodes":
            raise ConfigError(
                f"mapping.ops_on={mapping.ops_on!r} has no meaning for nb101: its ops live on nodes "
                "(a vertex sums its inputs, then applies one op); set mapping.ops_on=nodes"
            )
        if lowfi.channels < MAX_INTERIOR:
            raise ConfigError(
                f"lowfi.channels={lowfi.channels} is too small for nb101: a cell's output channels are "
                f"split over up to {MAX_INTERIOR} vertices; use at least {MAX_INTERIOR}"
            )
        self.mapping, self.lowfi = mapping.model_copy(), lowfi.model_copy()
        C0, N = lowfi.channels, lowfi.cells_per_stage
        self.C, self.N, self.num_classes = C0, N, num_classes
        self.stem = ConvBNReLU(
            3, C0, 3, benchmark_bn(mapping.bn_affine, mapping.bn_track_running_stats, momentum=0.1)
        )
        self.layers, c_prev = stacks(C0, NUM_STACKS, N, lambda c_in, c: NB101SuperCell(c_in, c, mapping))
        p = mapping.dropout_global
        self.dropout: nn.Module = nn.Dropout(p) if p > 0 else nn.Identity()
        self.classifier = nn.Linear(c_prev, num_classes)

    def cells(self) -> list[NB101SuperCell]:
        return [m for m in self.layers if isinstance(m, NB101SuperCell)]

    def _parse_arch(self, spec: SpecLike) -> CellSpec:
        return as_spec(spec)

    def _build_plans(self, pruned: CellSpec) -> tuple[CellPlan | None, ...]:
        """Per layer, the cell plan for `pruned` (None for the max pools); one plan per cell shape."""
        by_shape: dict[tuple[int, int], CellPlan] = {}
        out: list[CellPlan | None] = []
        for layer in self.layers:
            if isinstance(layer, NB101SuperCell):
                key = (layer.C_in, layer.C)
                if key not in by_shape:
                    by_shape[key] = layer.plan(pruned)
                out.append(by_shape[key])
            else:
                out.append(None)
        return tuple(out)

    def forward(self, x: torch.Tensor, spec: SpecLike) -> torch.Tensor:
        plans = self.plans(spec)
        x = self.stem(x)
        for layer, plan in zip(self.layers, plans, strict=True):
            x = layer(x) if plan is None else layer(x, plan)
        return self.classifier(self.dropout(x.mean((2, 3))))

    def forward_mixed(
        self, x: torch.Tensor, weights: Sequence[torch.Tensor | None], active: Sequence[Sequence[int]]
    ) -> torch.Tensor:
        """Logits with every cell eval-nas's relaxed cell (`nb101.mixed`): WEIGHTS and ACTIVE hold the
        n vertices' op rows, then their input rows (`nb101.relax`); all cells share them."""
        n = len(weights) // 2
        x = self.stem(x)
        for layer in self.layers:
            if isinstance(layer, NB101SuperCell):
                x = mixed_cell(layer, x, weights[:n], weights[n:], active[:n], active[n:])
            else:
                x = layer(x)
        return self.classifier(self.dropout(x.mean((2, 3))))

    @torch.no_grad()
    def extract_standalone(self, spec: SpecLike) -> StandaloneNet:
        """A StandaloneNet for `spec` holding copies of the weights this path runs in eval mode.

        Channel maps are the eval-mode ones (`fixed` and both shuffles: [0:c];
        `interpolate`: the averaged weights), super-kernels are materialised for
        the op's kernel size and WSBN picks the BN of the vertex's input set. The
        copy has the super-net's BN flags and no dropout, so in eval mode (and
        in train mode under `fixed`, without dropout) its forward equals
        `self(x, spec)`: the check that the super-net runs exactly the sampled
        weights. Also a start for fine-tuning a found cell.
        """
        pruned = as_spec(spec)
        m = self.mapping
        net = StandaloneNet(
            pruned,
            self.C,
            NUM_STACKS,
            self.N,
            self.num_classes,
            m.bn_affine,
            m.bn_track_running_stats,
            bn_momentum=0.1,
        )
        param = next(self.parameters())
        net.to(device=param.device, dtype=param.dtype)
        net.stem.load_state_dict(self.stem.state_dict())
        net.classifier.load_state_dict(self.classifier.state_dict())
        for mine, theirs in zip(self.layers, net.layers, strict=True):
            if not isinstance(mine, NB101SuperCell):
                continue
            assert isinstance(theirs, StandaloneCell)  # the same skeleton (ops.stacks)
            plan = theirs.plan
            maps = mine.channel_maps(plan, param.device, training=False)
            for v in plan.vertices:
                cmap, slot = maps[v.width], mine.slot(v.vertex)
                key = str(v.vertex)
                if v.from_input:
                    proj = theirs.proj[key]
                    assert isinstance(proj, ConvBNReLU)
                    proj.conv.weight.copy_(slot.proj.conv.weight_for(cmap))
                    proj.bn.load_state_dict(slot.proj.bn.export(cmap))
                if v.op != MAXPOOL3X3:
                    op = theirs.ops[key]
                    assert isinstance(op, ConvBNReLU)
                    op.conv.weight.copy_(slot.conv_weight(v.op, cmap))
                    op.bn.load_state_dict(slot.bn(v.op, v.mask).export(cmap))
            if theirs.out_proj is not None:
                theirs.out_proj.conv.weight.copy_(mine.out_proj.conv.weight)
                theirs.out_proj.bn.load_state_dict(mine.out_proj.bn.export(None))
        net.train(self.training)
        return net


__all__ = [
    "DynamicConvBNReLU",
    "NB101Slot",
    "NB101SuperCell",
    "NB101SuperNet",
]
