"""Dynamic channels: layers whose weights are sized for C channels and run with c <= C of them.

A `ChannelMap` says how c of a layer's C channels are taken (`fixed`, `shuffle`,
`shuffle_consistent`, `interpolate`: the super-net's `mapping.dynamic_channels`);
`None` means all C. `ConvMaps` says which map cuts each axis of one conv call and
its BN. What each policy does: `docs/factors.md`, dynamic channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class ChannelMap:
    """How `size` of a layer's `full` channels are taken; apply with `take(tensor, dim)`."""

    __slots__ = ("kind", "size", "full", "index", "matrix")

    def __init__(
        self,
        kind: str,
        size: int,
        full: int,
        index: torch.Tensor | None = None,
        matrix: torch.Tensor | None = None,
    ) -> None:
        if not 0 < size <= full:
            raise ValueError(f"channel map takes {size} of {full} channels")
        self.kind, self.size, self.full, self.index, self.matrix = kind, size, full, index, matrix

    def take(self, t: torch.Tensor, dim: int) -> torch.Tensor:
        """`t` with its `dim` axis (of length `full`) reduced to `size` channels."""
        if self.kind == "prefix":
            return t.narrow(dim, 0, self.size)
        if self.kind == "index":
            assert self.index is not None
            return t.index_select(dim, self.index)
        assert self.matrix is not None
        if dim == 0:
            return (self.matrix.to(t.dtype) @ t.reshape(self.full, -1)).reshape(self.size, *t.shape[1:])
        return torch.movedim(torch.tensordot(self.matrix.to(t.dtype), t, dims=([1], [dim])), 0, dim)

    def __repr__(self) -> str:
        return f"ChannelMap({self.kind}, {self.size}/{self.full})"


def prefix_map(full: int, size: int) -> ChannelMap:
    """The `fixed` policy: channels [0:size]."""
    return ChannelMap("prefix", size, full)


@lru_cache(maxsize=1024)
def interp_matrix(full: int, size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The size x full averaging matrix of adaptive average pooling (rows sum to 1); cached per device."""
    rows = torch.zeros(size, full, dtype=torch.float64)
    for j in range(size):
        lo = (j * full) // size
        hi = -((-(j + 1) * full) // size)  # ceil((j + 1) * full / size)
        rows[j, lo:hi] = 1.0 / (hi - lo)
    return rows.to(device=device, dtype=dtype)


def interp_map(full: int, size: int, device: torch.device | str = "cpu") -> ChannelMap:
    """The `interpolate` policy: `size` bin averages of the `full` channels."""
    return ChannelMap(
        "matrix", size, full, matrix=interp_matrix(full, size, torch.device(device), torch.float32)
    )


def random_map(full: int, size: int, device: torch.device | str = "cpu") -> ChannelMap:
    """The authors' `shuffle` (their `channel_select_dropout`): the first `size` entries of a fresh
    random permutation of `full` channels, unsorted, drawn from torch's RNG on `device`.

    At `size == full` it is still a permutation, not the identity: every call reorders the axis.
    """
    return ChannelMap("index", size, full, index=torch.randperm(full, device=device)[:size])


class ConvMaps(NamedTuple):
    """The maps of one conv call: its weight's output axis, its input axis, and the BN after it."""

    out: ChannelMap | None
    inp: ChannelMap | None
    bn: ChannelMap | None


def shuffle_maps(
    full: int, widths: Sequence[int], device: torch.device | str = "cpu"
) -> dict[int, ChannelMap]:
    """Random nested channel subsets for the widths of one cell, drawn from torch's RNG on `device`.

    One random permutation p of the `full` channels serves all widths w1 < w2 <
    ...: width w1 takes sorted(p[:w1]), width w2 that followed by
    sorted(p[w1:w2]), and so on. So each width's subset is uniform, a wider
    map's first channels are exactly a narrower one's (NB101's truncation keeps
    the first channels), and the full width is the identity (None).
    """
    out: dict[int, ChannelMap] = {}
    ws = sorted(set(int(w) for w in widths))
    if not ws or ws == [full]:
        return out
    perm = torch.randperm(full, device=device)
    index: torch.Tensor | None = None
    prev = 0
    for w in ws:
        if w == full:
            break
        block = perm[prev:w].sort().values
        index = block if index is None else torch.cat((index, block))
        out[w] = ChannelMap("index", w, full, index=index)
        prev = w
    return out


class DynamicConv2d(nn.Conv2d):
    """Conv2d with 'same' padding whose output/input channels can be cut by ChannelMaps per call."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, bias: bool = False
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=bias)

    def weight_for(self, out_map: ChannelMap | None = None, in_map: ChannelMap | None = None) -> torch.Tensor:
        """The weight the layer runs with for these maps (what a stand-alone copy would hold)."""
        w = self.weight
        if out_map is not None:
            w = out_map.take(w, 0)
        if in_map is not None:
            w = in_map.take(w, 1)
        return w

    def bias_for(self, out_map: ChannelMap | None = None) -> torch.Tensor | None:
        if self.bias is None or out_map is None:
            return self.bias
        return out_map.take(self.bias, 0)

    def forward(
        self, x: torch.Tensor, out_map: ChannelMap | None = None, in_map: ChannelMap | None = None
    ) -> torch.Tensor:
        return self._conv_forward(x, self.weight_for(out_map, in_map), self.bias_for(out_map))


class DynamicBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d for C channels that normalises c <= C of them, taken by a ChannelMap.

    Scale/shift are taken with the map. Running statistics (when tracked): a
    prefix map updates a view of the first c entries; an index map gathers the c
    entries and writes them back after a training step; a matrix (interpolate)
    map uses separate statistics per width, registered for each width in
    `width_stats` (buffers `running_mean_w{c}` / `running_var_w{c}`), because
    averaged channels have no per-channel statistics to share.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = False,
        width_stats: Sequence[int] = (),
    ) -> None:
        if momentum is None:
            raise ValueError("DynamicBatchNorm2d needs a float momentum (a cumulative average would sync)")
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.width_stats = tuple(sorted({int(c) for c in width_stats if 0 < int(c) < num_features}))
        if track_running_stats:
            for c in self.width_stats:
                self.register_buffer(f"running_mean_w{c}", torch.zeros(c))
                self.register_buffer(f"running_var_w{c}", torch.ones(c))

    def stats_for(self, cmap: ChannelMap | None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Running (mean, var) a c-channel call uses: views, gathered copies or per-width buffers."""
        if not self.track_running_stats or cmap is None:
            return self.running_mean, self.running_var
        assert self.running_mean is not None and self.running_var is not None
        if cmap.kind == "prefix":
            return self.running_mean[: cmap.size], self.running_var[: cmap.size]
        if cmap.kind == "index":
            return cmap.take(self.running_mean, 0), cmap.take(self.running_var, 0)
        if cmap.size not in self.width_stats:
            raise ValueError(f"{type(self).__name__}: no running statistics for width {cmap.size}")
        return getattr(self, f"running_mean_w{cmap.size}"), getattr(self, f"running_var_w{cmap.size}")

    def forward(self, x: torch.Tensor, cmap: ChannelMap | None = None) -> torch.Tensor:
        if cmap is None:
            return super().forward(x)
        weight = None if self.weight is None else cmap.take(self.weight, 0)
        bias = None if self.bias is None else cmap.take(self.bias, 0)
        batch_stats = self.training or not self.track_running_stats
        mean, var = self.stats_for(cmap)
        update = self.training and self.track_running_stats
        if update:
            assert self.num_batches_tracked is not None
            self.num_batches_tracked.add_(1)
        assert self.momentum is not None  # refused in __init__
        y = F.batch_norm(x, mean, var, weight, bias, batch_stats, self.momentum, self.eps)
        if update and cmap.kind == "index":
            assert cmap.index is not None and mean is not None and var is not None
            with torch.no_grad():
                self.running_mean.index_copy_(0, cmap.index, mean)  # type: ignore[union-attr]
                self.running_var.index_copy_(0, cmap.index, var)  # type: ignore[union-attr]
        return y

    def export(self, cmap: ChannelMap | None) -> dict[str, torch.Tensor]:
        """State of a plain c-channel BatchNorm2d equivalent to this layer under `cmap`."""
        out: dict[str, torch.Tensor] = {}
        if self.affine:
            out["weight"] = self.weight if cmap is None else cmap.take(self.weight, 0)
            out["bias"] = self.bias if cmap is None else cmap.take(self.bias, 0)
        if self.track_running_stats:
            mean, var = self.stats_for(cmap)
            assert mean is not None and var is not None and self.num_batches_tracked is not None
            out["running_mean"], out["running_var"] = mean, var
            out["num_batches_tracked"] = self.num_batches_tracked
        return {k: v.detach().clone() for k, v in out.items()}


__all__ = [
    "ChannelMap",
    "DynamicBatchNorm2d",
    "DynamicConv2d",
    "interp_map",
    "interp_matrix",
    "prefix_map",
    "random_map",
    "shuffle_maps",
    "ConvMaps",
]
