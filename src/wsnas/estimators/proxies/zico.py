"""ZiCo (Li et al., ICLR 2023): the inverse coefficient of variation of the weight gradients over batches.

SLDGroup/ZiCo `ZeroShotProxy/compute_zico.py`: per batch a train-mode forward, cross-entropy and
backward with the gradients zeroed first (`getzico`, lines 47-63); per conv/linear layer, over the
batches, the mean |g| and the standard deviation (numpy's, ddof 0) of every weight's gradient; a
layer adds log(sum over weights with nonzero deviation of mean|g| / std) unless that sum is 0
(`caculate_zico`, lines 27-45). The authors search with two batches (`evolution_search.py`:
`--maxbatch` default 2); here the two batches are the two halves of the run's minibatch, as MeCo's
NB201 port of ZiCo (HamsterMimi/MeCo `measures/zico.py`, `split_data = 2`) takes them.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from wsnas.estimators.proxies.common import check_names, layers, logits_of
from wsnas.estimators.zero_cost import Score, nan
from wsnas.nn.pool import conv_avg_pools

ZICO = ("zico",)


def compute(net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str]) -> dict[str, Score]:
    """zico of NET (fresh, initialised, train mode) on the two halves of the minibatch (X, Y)."""
    check_names(names, ZICO, "ZiCo")
    conv_avg_pools(net)  # the same pooling, faster on a CPU (wsnas.nn.pool)
    if x.shape[0] < 2:
        return {"zico": nan("zico: needs a minibatch of at least 2 images (two batches)")}
    half = x.shape[0] // 2
    batches = [(x[:half], y[:half]), (x[half:], y[half:])]
    return {"zico": zico(net, batches)}


def zico(net: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> Score:
    """ZiCo of NET over BATCHES (module doc). A layer whose weight gets no gradient (not on any path)
    is left out, as MeCo's port does (the reference would fail on it)."""
    net.train()
    mods = layers(net)
    grads: list[list[torch.Tensor | None]] = []
    for xb, yb in batches:
        loss = F.cross_entropy(logits_of(net(xb)), yb)
        ws = [cast(torch.Tensor, m.weight) for m in mods]
        if not loss.requires_grad:
            return nan("zico: the network has no trainable parameter on any path")
        g = torch.autograd.grad(loss, ws, allow_unused=True)
        grads.append([None if gi is None else gi.detach() for gi in g])
    total, used = 0.0, 0
    with torch.no_grad():
        for per_batch in zip(*grads, strict=True):
            if any(g is None for g in per_batch):
                continue
            stack = torch.stack([g.reshape(-1) for g in per_batch if g is not None]).to(torch.float64)
            std = stack.std(dim=0, unbiased=False)
            mean_abs = stack.abs().mean(dim=0)
            nz = std != 0
            tmpsum = float((mean_abs[nz] / std[nz]).sum())
            if tmpsum != 0:
                total += math.log(tmpsum)
                used += 1
    if used == 0:
        return nan("zico: no layer's gradient varies between the batches (every log term is skipped)")
    return Score.checked(total, "zico")
