"""TE-NAS (Chen et al., ICLR 2021): the condition number of the neural tangent kernel and the number
of linear regions, each scored alone, and their rank combination over the scored pool.

Per architecture as AZ-NAS's NB201 port scores it (cvlab-yonsei/AZ-NAS
`NB201/ZeroShotProxy/compute_te_nas_score.py`, after VITA-Group/TENAS `lib/procedures/ntk.py` and
`linear_region_counter.py`):
- te_nas_ntk = -cond(NTK), NTK = J J^T with J the per-image gradients of the image's summed logits
  w.r.t. every parameter named `weight` (conv, BN scale, linear), the network in train mode and the
  batch's BN statistics shared (`get_ntk_n`, lines 205-260: one backward per image); cond =
  largest / smallest eigenvalue, NaN read as 100000 (`np.nan_to_num(..., nan=100000.0)`, which
  also turns +-inf into +-1.8e308). The NTK is taken on the first `TE_NAS_NTK_BATCH` training
  images: TENAS `prune_tenas.py`'s `--batch_size` default ("batch size for ntk", 16) and Zen-NAS's
  port's; AZ-NAS's port passes its loader's 64, at 16x the cost (docs/estimators.md).
- te_nas_lr = the number of distinct ReLU activation patterns among the images of one batch of
  Gaussian images of the minibatch's shape (`LinearRegionCount.calc_LR`: sum over images of 1 / the
  number of images sharing its pattern, i.e. the distinct patterns), after the NTK, same weights.
`te_nas` itself is `te_nas_aggregate` of the two columns over the pool (AZ-NAS `tss_general.ipynb`:
rank(ntk) + rank(lr), as TENAS `prune_tenas.py` sums the two rankings).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from wsnas.estimators.proxies.aggregate import TE_NAS_COMPONENTS, te_nas_aggregate
from wsnas.estimators.proxies.common import check_names, logits_of, relu_codes
from wsnas.estimators.zero_cost import Score, nan
from wsnas.nn.pool import conv_avg_pools

TE_NAS_NTK_BATCH = 16
"""Images the NTK is taken on (TENAS `prune_tenas.py` `--batch_size` default, 'batch size for ntk')."""

NTK_NAN_COND = 100000.0
"""The condition number the reference reads for a NaN (`np.nan_to_num(..., nan=100000.0)`)."""


def compute(net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str]) -> dict[str, Score]:
    """te_nas_ntk / te_nas_lr of NET (fresh, initialised, train mode) on X (NTK: its first images;
    linear regions: Gaussian images of its shape)."""
    names = check_names(names, TE_NAS_COMPONENTS, "TE-NAS component")
    conv_avg_pools(net)  # the same pooling, faster on a CPU (wsnas.nn.pool)
    net.train()
    out: dict[str, Score] = {}
    if "te_nas_ntk" in names:
        out["te_nas_ntk"] = ntk_score(net, x[:TE_NAS_NTK_BATCH])
    if "te_nas_lr" in names:
        z = torch.randn(x.shape, device=x.device, dtype=x.dtype)
        codes = relu_codes(net, z)
        if codes.shape[1] == 0:
            out["te_nas_lr"] = nan("te_nas_lr: the forward applies no ReLU to a 4-D tensor")
        else:
            out["te_nas_lr"] = Score(float(distinct_rows(codes)))
    return {n: out[n] for n in names}


def ntk_jacobian(net: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """(images, weights) per-image gradients of each image's summed logits w.r.t. every parameter
    named `weight`, one shared train-mode forward; None if no such parameter is on a path."""
    params = [p for n, p in net.named_parameters() if "weight" in n and p.requires_grad]
    logits = logits_of(net(x))
    if not params or not logits.requires_grad:
        return None
    rows = []
    for i in range(x.shape[0]):
        g = torch.autograd.grad(logits[i].sum(), params, retain_graph=i + 1 < x.shape[0], allow_unused=True)
        used = [gi.reshape(-1) for gi in g if gi is not None]  # the reference keeps W.grad not None
        rows.append(torch.cat(used) if used else torch.zeros(0, device=x.device, dtype=x.dtype))
    return torch.stack(rows)


def ntk_score(net: nn.Module, x: torch.Tensor) -> Score:
    """-cond(J J^T) (module doc); the Gram matrix and its eigenvalues in float64."""
    if x.shape[0] < 2:
        return nan("te_nas_ntk: needs at least 2 images")
    jac = ntk_jacobian(net, x)
    if jac is None or jac.shape[1] == 0:
        return nan("te_nas_ntk: the network has no trainable weight on any path")
    with torch.no_grad():
        j = jac.to(torch.float64)
        ev = torch.linalg.eigvalsh(j @ j.t())
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.float64(ev[-1].item()) / np.float64(ev[0].item())
    return Score(-float(np.nan_to_num(ratio, nan=NTK_NAN_COND)))


def distinct_rows(codes: torch.Tensor) -> int:
    """How many distinct rows (images' activation patterns) the booleans CODES hold."""
    packed = np.packbits(codes.cpu().numpy(), axis=1)
    return len({row.tobytes() for row in packed})


__all__ = ["TE_NAS_COMPONENTS", "compute", "distinct_rows", "ntk_score", "te_nas_aggregate"]
