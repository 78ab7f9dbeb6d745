"""NAS-Bench-101 cell wiring: the benchmark's vertex-channel rule and a per-spec cell plan.

The rules follow the official model builder (google-research/nasbench,
`nasbench/lib/model_builder.py`), applied to the *pruned* spec:

- a cell with output channels C splits C evenly over the k interior vertices
  that feed the output (q = C // k each; the first C % k of them, in vertex
  order, get q + 1); every other interior vertex takes the max of its interior
  successors' channels, so channels never increase along an edge;
- interior vertices sum their inputs: an input->vertex edge is a 1x1
  conv-BN-ReLU projection to the vertex's channels, a vertex->vertex edge keeps
  the first channels of the source (truncation; only ever one channel is cut);
- the output concatenates the vertices that feed it (in vertex order) and adds
  a 1x1 projection of the cell input when input->output exists; a cell with
  only input->output is that projection.

Ops: conv3x3-bn-relu / conv1x1-bn-relu = Conv(no bias, 'same' padding) -> BN ->
ReLU with c -> c channels; maxpool3x3 = 3x3 max pool, stride 1, padding 1
(parameter-free, keeps c channels). The benchmark's BN: momentum 0.997 in
TensorFlow's convention (= 0.003 in PyTorch's), epsilon 1e-5, center and scale
(affine) on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from wsnas.core.errors import ArchError
from wsnas.nn.bn import BNFactory, bn_factory
from wsnas.spaces.nb101.graph import CONV1X1, CONV3X3, MAX_VERTICES, MAXPOOL3X3, CellSpec, validate

BN_MOMENTUM = 0.003
"""The benchmark's BN momentum 0.997 (TensorFlow: weight of the old average) in PyTorch's convention."""
BN_EPS = 1e-5
KERNEL: dict[str, int] = {CONV3X3: 3, CONV1X1: 1}
"""Op label -> kernel size of the parametric ops."""
MAX_INTERIOR = MAX_VERTICES - 2
"""Interior vertices a cell can have (the super-net's weight slots per cell)."""


class VertexStep(NamedTuple):
    """How one interior vertex is computed (vertex index = its weight slot in a super-net)."""

    vertex: int
    op: str
    width: int
    """Output channels (official rule)."""
    srcs: tuple[int, ...]
    """Interior source vertices, summed after truncation to `width`."""
    from_input: bool
    """Whether the input->vertex edge exists (a 1x1 projection of the cell input)."""
    mask: int
    """Bitmask of the vertex's inputs (bit i = edge i->vertex); keys WSBN."""


class CellPlan(NamedTuple):
    """The computation of one cell for one (pruned) spec; pure data, picklable."""

    in_channels: int
    channels: int
    vertices: tuple[VertexStep, ...]
    concat: tuple[int, ...]
    """Vertices concatenated into the output, in order (their widths sum to `channels`)."""
    out_proj: bool
    """Whether the input->output projection is added."""
    widths: tuple[int, ...]
    """Distinct vertex widths, ascending."""


def as_spec(spec: CellSpec | str | Mapping[str, Any]) -> CellSpec:
    """A CellSpec, its JSON text or dict -> the validated, pruned CellSpec."""
    if isinstance(spec, CellSpec):
        return validate(spec)
    if isinstance(spec, (str, Mapping)):
        return validate(CellSpec.from_json(spec))
    raise ArchError(f"NB101 spec must be a CellSpec or its JSON, got {type(spec).__name__}")


def vertex_channels(in_channels: int, out_channels: int, matrix: Sequence[Sequence[int]]) -> list[int]:
    """Channels of every vertex of a pruned cell (the benchmark's rule; see the module doc)."""
    n = len(matrix)
    ch = [0] * n
    ch[0], ch[-1] = in_channels, out_channels
    if n == 2:
        return ch
    feeders = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    if not feeders:
        raise ArchError(f"NB101 matrix {json.dumps([list(r) for r in matrix])}: no vertex feeds the output")
    q, extra = divmod(out_channels, len(feeders))
    for i, v in enumerate(feeders):
        ch[v] = q + (1 if i < extra else 0)
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            ch[v] = max((ch[d] for d in range(v + 1, n - 1) if matrix[v][d]), default=0)
    bad = [v for v in range(1, n - 1) if ch[v] <= 0]
    if bad:
        raise ArchError(
            f"{out_channels} output channels over {len(feeders)} output vertices leave vertex {bad[0]} "
            f"with no channel; use at least {MAX_INTERIOR} channels"
        )
    return ch


def possible_widths(channels: int) -> tuple[int, ...]:
    """Every width a vertex of a cell with `channels` outputs can take (1 to 5 output vertices)."""
    out = set()
    for k in range(1, MAX_INTERIOR + 1):
        q, r = divmod(channels, k)
        if q > 0:
            out.add(q)
        if r:
            out.add(q + 1)
    return tuple(sorted(out))


def cell_plan(spec: CellSpec, in_channels: int, channels: int) -> CellPlan:
    """The cell's computation for a pruned, validated `spec` (see the module doc)."""
    m, ops = spec.matrix, spec.ops
    n = len(ops)
    ch = vertex_channels(in_channels, channels, m)
    steps = []
    for t in range(1, n - 1):
        if ops[t] not in KERNEL and ops[t] != MAXPOOL3X3:
            raise ArchError(f"NB101 vertex {t}: op {ops[t]!r} cannot be computed")
        srcs = tuple(s for s in range(1, t) if m[s][t])
        mask = sum(1 << s for s in range(t) if m[s][t])
        steps.append(VertexStep(t, ops[t], ch[t], srcs, bool(m[0][t]), mask))
    concat = tuple(t for t in range(1, n - 1) if m[t][n - 1])
    widths = tuple(sorted({s.width for s in steps}))
    return CellPlan(in_channels, channels, tuple(steps), concat, bool(m[0][n - 1]), widths)


def benchmark_bn(
    affine: bool = True, track_running_stats: bool = True, momentum: float = BN_MOMENTUM
) -> BNFactory:
    """NB101's BN (`wsnas.nn.bn`) with the benchmark's eps; the defaults are the benchmark's flags."""
    return bn_factory(affine, track_running_stats, momentum, eps=BN_EPS)


class ConvBNReLU(nn.Module):
    """Conv2d (no bias, 'same' padding) -> BN -> ReLU: the benchmark's conv op and projection.

    `bn` makes the BN (default: the benchmark's, `benchmark_bn()`)."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, bn: BNFactory | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(C_in, C_out, kernel_size, padding=kernel_size // 2, bias=False)
        self.bn = (bn or benchmark_bn())(C_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def max_pool_3x3() -> nn.MaxPool2d:
    """The maxpool3x3 op ('same' padding pads with -inf in both frameworks)."""
    return nn.MaxPool2d(3, stride=1, padding=1)


def downsample() -> nn.MaxPool2d:
    """Max pool 2x2 stride 2 between stacks; ceil mode = TensorFlow's 'same' padding for odd sizes."""
    return nn.MaxPool2d(2, stride=2, ceil_mode=True)


def stacks(
    C0: int, num_stacks: int, cells: int, make_cell: Callable[[int, int], nn.Module]
) -> tuple[nn.ModuleList, int]:
    """NB101's stacks after the stem: `cells` cells `make_cell(c_in, c_out)` per stack at C0,
    2*C0, ..., a `downsample` between stacks; returns (layers, channels out)."""
    layers: list[nn.Module] = []
    c_prev = c = C0
    for stack in range(num_stacks):
        if stack > 0:
            layers.append(downsample())
            c *= 2
        for _ in range(cells):
            layers.append(make_cell(c_prev, c))
            c_prev = c
    return nn.ModuleList(layers), c_prev


__all__ = [
    "stacks",
    "BN_EPS",
    "BN_MOMENTUM",
    "KERNEL",
    "MAX_INTERIOR",
    "CellPlan",
    "ConvBNReLU",
    "VertexStep",
    "as_spec",
    "benchmark_bn",
    "cell_plan",
    "downsample",
    "max_pool_3x3",
    "possible_widths",
    "vertex_channels",
]
