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
- te_nas_lr = the number of linear regions as TENAS itself counts them (`prune_tenas.py`, which
  AZ-NAS's and Zen-NAS's ports do not follow): the distinct ReLU activation patterns
  (`LinearRegionCount.calc_LR`: sum over samples of 1 / the samples sharing its pattern) among
  `TE_NAS_LR_BATCHES` batches of `TE_NAS_LR_SAMPLES` single-channel 3x3 crops of real images
  (`Linear_Region_Collector(input_size=(1000, 1, 3, 3), sample_batch=3)`, line 396; crops and a
  random channel: `linear_region_counter.py` lines 14-26, 50), through TENAS's "thin" network: the
  architecture's one cell at width 1, no stem, then the last BN-ReLU (`model_config_thin`: C=1, N=1,
  depth=1, use_stem=False, lines 364-370), train mode, as built (the launcher's `--init
  kaiming_normal` matches no branch of `init_model`, so PyTorch's default init stays), averaged
  over `TE_NAS_LR_REPEATS` repeats (`--repeat 3`: the same weights, new batches). The ports count
  one batch of Gaussian images of the minibatch's shape through the full network, where every image
  has its own pattern: the count is always the batch size (docs/estimators.md).
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
from wsnas.nn.bn import bn_factory
from wsnas.nn.pool import conv_avg_pools
from wsnas.spaces.nb201.standalone import StandaloneCell, StandaloneNet
from wsnas.spaces.nb201.zc_reference import ZCReferenceNet

TE_NAS_NTK_BATCH = 16
"""Images the NTK is taken on (TENAS `prune_tenas.py` `--batch_size` default, 'batch size for ntk')."""

TE_NAS_LR_SAMPLES = 1000
"""Crops per batch of the linear-region count (TENAS `Linear_Region_Collector` input_size[0])."""

TE_NAS_LR_BATCHES = 3
"""Batches whose patterns are counted together (TENAS `sample_batch=3`)."""

TE_NAS_LR_REPEATS = 3
"""Counts averaged, each on new batches (TENAS `--repeat` 3, `prune_launch.py`)."""

TE_NAS_LR_CROP = 3
"""Side of the single-channel crops (TENAS input_size (1000, 1, 3, 3))."""

NTK_NAN_COND = 100000.0
"""The condition number the reference reads for a NaN (`np.nan_to_num(..., nan=100000.0)`)."""


def compute(net: nn.Module, x: torch.Tensor, y: torch.Tensor, names: list[str]) -> dict[str, Score]:
    """te_nas_ntk / te_nas_lr of NET (fresh, initialised, train mode) on X (NTK: its first images;
    linear regions: crops of X through the thin network of NET's cell)."""
    names = check_names(names, TE_NAS_COMPONENTS, "TE-NAS component")
    conv_avg_pools(net)  # the same pooling, faster on a CPU (wsnas.nn.pool)
    net.train()
    out: dict[str, Score] = {}
    if "te_nas_ntk" in names:
        out["te_nas_ntk"] = ntk_score(net, x[:TE_NAS_NTK_BATCH])
    if "te_nas_lr" in names:
        out["te_nas_lr"] = lr_score(net, x)
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


def thin_network(net: nn.Module) -> nn.Module | None:
    """TENAS's network for the linear regions (`model_config_thin`): NET's NB201 cell at width 1, no
    stem, then BN-ReLU (the pooling and classifier after the last ReLU change no pattern), newly
    built with PyTorch's default init; None where NET is not an NB201 network of one cell."""
    if not isinstance(net, StandaloneNet | ZCReferenceNet) or net.arch is None:
        return None
    bn = bn_factory(affine=True, track_running_stats=True)  # TENAS: affine, --track_running_stats 1
    return nn.Sequential(StandaloneCell(net.arch, 1, bn), bn(1), nn.ReLU())


def crops(x: torch.Tensor, n: int, side: int = TE_NAS_LR_CROP) -> torch.Tensor:
    """(n, 1, side, side): random single-channel crops of the images X (TENAS: RandomCrop(side,
    padding=0) then RandChannel(1)), image, channel and corner drawn from torch's RNG."""
    b, c, h, w = x.shape
    img = torch.randint(0, b, (n,), device=x.device)
    ch = torch.randint(0, c, (n,), device=x.device)
    top = torch.randint(0, h - side + 1, (n,), device=x.device)
    left = torch.randint(0, w - side + 1, (n,), device=x.device)
    d = torch.arange(side, device=x.device)
    rows = (top[:, None] + d)[:, :, None]
    cols = (left[:, None] + d)[:, None, :]
    return x[img[:, None, None], ch[:, None, None], rows, cols].unsqueeze(1)


def linear_regions(
    thin: nn.Module,
    x: torch.Tensor,
    samples: int = TE_NAS_LR_SAMPLES,
    batches: int = TE_NAS_LR_BATCHES,
    repeats: int = TE_NAS_LR_REPEATS,
) -> float | None:
    """Mean over REPEATS of the distinct ReLU patterns of THIN (train mode, each batch with its own
    BN statistics) among BATCHES batches of SAMPLES crops of X; None if THIN applies no 4-D ReLU."""
    thin.train()
    counts = []
    for _ in range(repeats):
        codes = [relu_codes(thin, crops(x, samples)) for _ in range(batches)]
        if codes[0].shape[1] == 0:
            return None
        counts.append(distinct_rows(torch.cat(codes)))
    return sum(counts) / len(counts)


def lr_score(net: nn.Module, x: torch.Tensor) -> Score:
    """te_nas_lr of NET's cell on crops of X (module doc)."""
    if x.shape[-1] < TE_NAS_LR_CROP or x.shape[-2] < TE_NAS_LR_CROP:
        return nan(f"te_nas_lr: the images are smaller than TENAS's {TE_NAS_LR_CROP}x{TE_NAS_LR_CROP} crops")
    thin = thin_network(net)
    if thin is None:
        return nan(
            "te_nas_lr: TENAS counts linear regions on its thin network of an NB201 cell (width 1, no "
            "stem); this network is not an NB201 network"
        )
    thin = thin.to(device=x.device, dtype=x.dtype)
    value = linear_regions(thin, x)
    if value is None:
        return nan("te_nas_lr: the forward applies no ReLU to a 4-D tensor")
    return Score(float(value))


def distinct_rows(codes: torch.Tensor) -> int:
    """How many distinct rows (images' activation patterns) the booleans CODES hold."""
    packed = np.packbits(codes.cpu().numpy(), axis=1)
    return len({row.tobytes() for row in packed})


__all__ = [
    "TE_NAS_COMPONENTS",
    "compute",
    "crops",
    "distinct_rows",
    "linear_regions",
    "lr_score",
    "ntk_score",
    "te_nas_aggregate",
    "thin_network",
]
