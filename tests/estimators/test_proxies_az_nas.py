"""AZ-NAS's components against `compute_az_nas_score` written out (features by calling the stem and
cells in turn, numpy covariance eigenvalues, `torch.autograd.functional.vjp` per cell, numpy
singular values) with the same random state; complexity by hand; the aggregation against scipy."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as F
from test_proxies_common import _float64, batch, tiny_pair  # noqa: F401  (the float64 fixture)
from torch import nn

from wsnas.estimators.proxies import az_nas
from wsnas.estimators.proxies.aggregate import AZ_NAS_COMPONENTS, az_nas_aggregate


def az_reference(net: nn.Module, shape: torch.Size) -> dict[str, float]:
    def init(m: nn.Module) -> None:
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    net.train()
    net.apply(init)
    z = torch.randn(size=list(shape))
    feats = [net.stem(z)]
    for cell in net.cells:
        feats.append(cell(feats[-1]))
    ent = []
    for f in feats:
        b, c, h, w = f.shape
        m = f.detach().permute(0, 2, 3, 1).reshape(b * h * w, c).numpy()
        s = np.linalg.eigvalsh(np.cov(m, rowvar=False, bias=True))
        p = s / s.sum()
        ent.append(float((-p * np.log(p + 1e-8)).sum()))
    ent_a = np.array(ent)
    scores = []
    for i in reversed(range(1, len(feats))):
        g_out = (torch.bernoulli(torch.ones_like(feats[i]) * 0.5) - 0.5) * 2
        _, g_in = torch.autograd.functional.vjp(net.cells[i - 1], feats[i - 1].detach(), g_out)
        if g_in.shape == g_out.shape and torch.all(g_in == g_out):
            scores.append(-np.inf)
            continue
        if g_in.shape[2] != g_out.shape[2]:
            g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
        go = g_out.permute(0, 2, 3, 1).reshape(-1, g_out.shape[1]).numpy()
        gi = g_in.detach().permute(0, 2, 3, 1).reshape(-1, g_in.shape[1]).numpy()
        top = np.linalg.svd(gi.T @ go / go.shape[0], compute_uv=False).max()
        scores.append(-top - 1 / (top + 1e-6) + 2)
    return {
        "az_nas_expressivity": float(np.sum(ent_a)),
        "az_nas_progressivity": float(np.min(ent_a[1:] - ent_a[:-1])),
        "az_nas_trainability": float(np.mean(scores)),
    }


def test_components_equal_the_written_out_reference_with_the_same_random_state():
    net, _ = tiny_pair()
    x, y = batch()
    torch.manual_seed(9)
    want = az_reference(copy.deepcopy(net), x.shape)
    torch.manual_seed(9)
    got = az_nas.compute(copy.deepcopy(net), x, y, list(AZ_NAS_COMPONENTS))
    for name, value in want.items():
        assert got[name].value == pytest.approx(value, rel=1e-9), name
        assert got[name].reason == ""


def test_complexity_is_the_multiply_adds_of_one_image_by_hand():
    net, _ = tiny_pair()  # 6x6 images: stem 2->3, cell 3->3, down 3->4 (to 3x3), cell 4->4, linear 4->5
    x, y = batch(side=6)
    want = 9 * 2 * 3 * 36 + 9 * 3 * 3 * 36 + 9 * 3 * 4 * 9 + 9 * 4 * 4 * 9 + (4 * 5 + 5)
    got = az_nas.compute(net, x, y, ["az_nas_complexity"])["az_nas_complexity"]
    assert got.value == pytest.approx(want / 1e6, rel=1e-12)


def test_an_identity_cell_makes_trainability_minus_inf_and_zero_features_the_entropies():
    x, y = batch()
    ident, _ = tiny_pair(kinds=("conv", "skip", "down"))
    t = az_nas.compute(ident, x, y, ["az_nas_trainability"])["az_nas_trainability"]
    assert t.value == -math.inf and "identity" in t.reason
    zero, _ = tiny_pair(kinds=("zero",))
    res = az_nas.compute(zero, x, y, list(AZ_NAS_COMPONENTS))
    for name in ("az_nas_expressivity", "az_nas_progressivity"):
        assert res[name].value == -math.inf and "is NaN" in res[name].reason
    assert math.isfinite(res["az_nas_trainability"].value)  # a zero gradient: s = 0, a finite score


def test_a_network_without_stem_and_cells_is_nan_with_the_reason():
    x, y = batch()
    res = az_nas.compute(nn.Sequential(nn.Conv2d(2, 2, 1)), x, y, ["az_nas_expressivity"])
    e = res["az_nas_expressivity"]
    assert math.isnan(e.value) and "stem and cells" in e.reason


def test_aggregate_is_the_sum_of_log_rank_fractions():
    rng = np.random.default_rng(1)
    cols = {c: rng.integers(0, 4, 9).astype(float) for c in AZ_NAS_COMPONENTS}
    cols["az_nas_trainability"][2] = -math.inf
    cols["az_nas_progressivity"][5] = math.nan  # left out; the other 8 ranked among themselves
    ok = np.arange(9) != 5
    want = sum(np.log(scipy.stats.rankdata(cols[c][ok]) / 8) for c in AZ_NAS_COMPONENTS)
    got = az_nas_aggregate(cols)
    assert np.isnan(got[5]) and np.allclose(got[ok], want, rtol=1e-12)
