"""Zero-cost proxies: architectures per second, wsnas (one shared pass) vs a plain reference-style loop.

The second round's families (`--only new`: suite_zero, zico, meco, swap, te_nas, az_nas; latency has
no reference) each against a loop written after its released code (NASLib's measures, ZiCo, MeCo,
SWAP, TENAS, AZ-NAS; the `ref_*` functions name what each re-creates), with the same random draws.

The reference loop does what SamsungLabs/zero-cost-nas's `find_measures` does per measure: a deep copy
of the network (BN bypassed for synflow), its own forward/backward passes (SNIP through weight masks,
Fisher through hooked identities, GraSP with two forward passes), one measure at a time. wsnas computes
the same numbers from one forward pass (`wsnas.estimators.zero_cost`). Both score the same NB201
networks (same init) on the same minibatch; the JSON gives archs/s per estimator alone and for all
together, median over repeats (A/B interleaved, order reversed every other repeat), and the largest
relative difference between the two implementations' values.

    python benchmarks/estimators.py --threads 1 --archs 3 --repeats 2 [--channels 16 --cells 5 --batch 64]
    python benchmarks/estimators.py --threads 1 --archs 2 --repeats 2 --only new
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

import wsnas.estimators  # noqa: F401  (registers the estimators)
from wsnas.estimators.registry import ESTIMATORS
from wsnas.estimators.zero_cost import JACOB_COV_K, ZERO_COST, zero_cost_scores
from wsnas.spaces import get_space


def _layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


def ref_grad_norm(net, x, y):
    net = copy.deepcopy(net).train()
    F.cross_entropy(net(x), y).backward()
    return sum(float(m.weight.grad.norm()) for m in _layers(net) if m.weight.grad is not None)


def ref_snip(net, x, y):
    net = copy.deepcopy(net).train()
    masks = []
    for m in _layers(net):
        mask = nn.Parameter(torch.ones_like(m.weight))
        masks.append(mask)
        m.weight.requires_grad = False
        if isinstance(m, nn.Conv2d):
            m.forward = lambda i, m=m, k=mask: F.conv2d(
                i, m.weight * k, m.bias, m.stride, m.padding, m.dilation, m.groups
            )
        else:
            m.forward = lambda i, m=m, k=mask: F.linear(i, m.weight * k, m.bias)
    F.cross_entropy(net(x), y).backward()
    return sum(float(k.grad.abs().sum()) for k in masks if k.grad is not None)


def ref_grasp(net, x, y):
    net = copy.deepcopy(net).train()
    ws = [m.weight for m in _layers(net)]
    g1 = torch.autograd.grad(F.cross_entropy(net(x), y), ws, allow_unused=True)
    g2 = torch.autograd.grad(F.cross_entropy(net(x), y), ws, create_graph=True, allow_unused=True)
    z = sum((a.detach() * b).sum() for a, b in zip(g1, g2, strict=True) if a is not None and b is not None)
    z.backward()
    return sum(float((-w.detach() * w.grad).sum()) for w in ws if w.grad is not None)


def ref_fisher(net, x, y):
    net = copy.deepcopy(net).train()
    acc: dict[nn.Module, torch.Tensor] = {}
    for m in _layers(net):
        m.dummy = nn.Identity()
        m.act = None
        orig = m.forward

        def fwd(i, m=m, orig=orig):
            m.act = m.dummy(orig(i))
            return m.act

        m.forward = fwd

        def hook(mod, gin, gout, m=m):
            a, g = m.act.detach(), gout[0].detach()
            g_nk = (a * g).sum(dim=tuple(range(2, a.dim()))) if a.dim() > 2 else a * g
            d = 0.5 * g_nk.pow(2).mean(0)
            acc[m] = acc[m] + d if m in acc else d

        m.dummy.register_full_backward_hook(hook)
    F.cross_entropy(net(x), y).backward()
    return sum(float(d.sum()) * math.prod(m.weight.shape[1:]) for m, d in acc.items())


def ref_synflow(net, x, y):
    net = copy.deepcopy(net)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.forward = lambda i: i
    net = net.double()
    with torch.no_grad():
        for p in net.state_dict().values():
            if p.is_floating_point():
                p.abs_()
    net(torch.ones(1, *x.shape[1:], dtype=torch.float64, device=x.device)).sum().backward()
    return sum(
        float((m.weight.detach() * m.weight.grad).abs().sum())
        for m in _layers(net)
        if m.weight.grad is not None
    )


def ref_jacob_cov(net, x, y):
    net = copy.deepcopy(net).train()
    x = x.clone().requires_grad_(True)
    out = net(x)
    out.backward(torch.ones_like(out))
    if x.grad is None:
        return math.nan
    j = x.grad.reshape(len(x), -1).cpu().numpy()
    try:
        v, _ = np.linalg.eig(np.corrcoef(j))
        return float(-np.sum(np.log(v.real + JACOB_COV_K) + 1.0 / (v.real + JACOB_COV_K)))
    except Exception:  # noqa: BLE001 - as the reference: any failure is NaN
        return math.nan


def ref_nwot(net, x, y):
    net = copy.deepcopy(net).train()
    k = np.zeros((len(x), len(x)))

    def hook(mod, inp, out):
        c = (inp[0].detach().reshape(len(x), -1) > 0).float()
        k[:] += (c @ c.t()).cpu().numpy() + ((1 - c) @ (1 - c).t()).cpu().numpy()

    class EveryRelu(TorchFunctionMode):
        """The reference hooks nn.ReLU modules (its networks use one per ReLU); the wsnas blocks call
        F.relu, so the reference-style loop sees those calls instead."""

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in (F.relu, torch.relu):
                hook(None, (args[0],), None)
            return func(*args, **(kwargs or {}))

    with EveryRelu():
        net(x)
    return float(np.linalg.slogdet(k)[1])


def _relu_outputs(net, x):
    """Every ReLU output with a 4-D input of one forward (the references hook `nn.ReLU` modules; the
    wsnas blocks call F.relu, so the loop sees those calls, as in `ref_nwot`)."""
    outs = []

    class EveryRelu(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if func in (F.relu, torch.relu) and args[0].dim() == 4:
                outs.append(out.detach())
            return out

    with EveryRelu():
        net(x)
    return outs


def _gauss_init(net):  # Zen-NAS's network_weight_gaussian_init (also SWAP's)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm) and m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)


def ref_suite_zero(net, x, y):
    """NASLib's measures, each on its own copy: l2_norm, plain, epe_nas (`get_batch_jacobian`,
    `eval_score_perclass`), zen (`network_weight_gaussian_init`, two forwards, BN term)."""
    out = {"l2_norm": sum(float(m.weight.norm()) for m in _layers(copy.deepcopy(net)))}
    n = copy.deepcopy(net).train()
    F.cross_entropy(n(x), y).backward()
    out["plain"] = sum(
        float((m.weight.grad * m.weight).sum()) for m in _layers(n) if m.weight.grad is not None
    )
    n = copy.deepcopy(net).train()
    xin = x.clone().requires_grad_(True)
    o = n(xin)
    o.backward(torch.ones_like(o))
    jac = xin.grad.reshape(len(x), -1).numpy()
    labels = y.numpy()
    total = 0.0
    for c in dict.fromkeys(labels.tolist()):
        rows = jac[labels == c]
        corrs = np.corrcoef(rows) if len(rows) > 1 else np.array(1.0)
        total += abs(float(np.sum(np.log(np.absolute(corrs) + 1e-5))))
    out["epe_nas"] = total
    n = copy.deepcopy(net)
    _gauss_init(n)
    n.train()
    feats = []
    for m in n.modules():
        if isinstance(m, nn.AdaptiveAvgPool2d):
            m.register_forward_hook(lambda _m, i, o: feats.append(i[0]))
    with torch.no_grad():
        z, z2 = torch.randn(x.shape), torch.randn(x.shape)
        n(z)
        n(z + 1e-2 * z2)
        nas = torch.sum(torch.abs(feats[0] - feats[1]), dim=[1, 2, 3]).mean()
        bn = sum(float(torch.log(torch.sqrt(torch.mean(m.running_var)))) for m in n.modules()
                 if isinstance(m, nn.BatchNorm2d) and m.running_var is not None)  # fmt: skip
    out["zen"] = math.log(float(nas)) + bn
    return out


def ref_zico(net, x, y):
    """ZiCo's `getgrad` per batch (zero_grad, forward, backward, grads by module) and `caculate_zico`."""
    n = copy.deepcopy(net).train()
    half = len(x) // 2
    grads: dict[int, list[np.ndarray]] = {}
    for xb, yb in ((x[:half], y[:half]), (x[half:], y[half:])):
        n.zero_grad()
        F.cross_entropy(n(xb), yb).backward()
        for i, m in enumerate(_layers(n)):
            if m.weight.grad is not None:
                grads.setdefault(i, []).append(m.weight.grad.reshape(-1).numpy().copy())
    total = 0.0
    for g in grads.values():
        g = np.array(g, dtype=np.float64)
        std, mean_abs = np.std(g, axis=0), np.mean(np.abs(g), axis=0)
        nz = std != 0
        tmpsum = np.sum(mean_abs[nz] / std[nz])
        if tmpsum != 0:
            total += float(np.log(tmpsum))
    return {"zico": total}


def ref_meco(net, x, y):
    """MeCo's `get_score`: a forward hook on every module (and the functional ReLUs), `torch.corrcoef`
    of the first image's channels, `torch.linalg.eig`, the smallest real eigenvalue, summed."""
    n = copy.deepcopy(net).train()
    vals = []

    def score(o):
        if not isinstance(o, torch.Tensor) or o.dim() < 2:
            return
        f = o[0].reshape(o.shape[1], -1).detach()
        corr = torch.nan_to_num(torch.corrcoef(f), nan=0.0, posinf=0.0, neginf=0.0)
        v = torch.min(torch.real(torch.linalg.eig(corr)[0]))
        if math.isfinite(float(v)):
            vals.append(float(v))

    for m in n.modules():
        m.register_forward_hook(lambda _m, _i, o: score(o))

    class EveryRelu(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if func in (F.relu, torch.relu) and not isinstance(args[0], nn.Module):
                score(out)
            return out

    with torch.no_grad(), EveryRelu():
        n(x[:1])
    return {"meco": sum(vals)}


def ref_swap(net, x, y):
    """SWAP's `correlation.py` loop: 32 x (Gaussian re-init, a forward of 16 images with the ReLU
    outputs kept, `torch.sign`, transpose, `torch.unique(dim=0)`), averaged."""
    n = copy.deepcopy(net).train()
    counts = []
    for _ in range(32):
        _gauss_init(n)
        with torch.no_grad():
            acts = _relu_outputs(n, x[:16])
        a = torch.sign(torch.cat([o.reshape(16, -1) for o in acts], dim=1)).t()
        counts.append(torch.unique(a, dim=0).shape[0])
    return {"swap": sum(counts) / len(counts)}


def ref_te_nas(net, x, y):
    """TENAS `get_ntk_n` (one backward per image into `.grad`, the `weight` parameters) and
    `Linear_Region_Collector` on the thin network (`calc_LR`'s matrix trick), 3 repeats."""
    from wsnas.estimators.proxies import te_nas

    n = copy.deepcopy(net).train()
    xs = x[:16]
    logit = n(xs)
    rows = []
    for i in range(len(xs)):
        n.zero_grad()
        logit[i : i + 1].backward(torch.ones_like(logit[i : i + 1]), retain_graph=True)
        rows.append(torch.cat([w.grad.view(-1).detach() for k, w in n.named_parameters()
                               if "weight" in k and w.grad is not None]))  # fmt: skip
    g = torch.stack(rows).double()
    ev = torch.linalg.eigvalsh(g @ g.t())
    ntk = -float(np.nan_to_num((ev[-1] / ev[0]).item(), nan=100000.0))
    thin = te_nas.thin_network(n).train()
    lrs = []
    for _ in range(3):
        acts = []
        with torch.no_grad():
            for _ in range(3):
                z = te_nas.crops(x, 1000)
                acts.append(torch.sign(torch.cat([o.reshape(len(z), -1) for o in _relu_outputs(thin, z)], 1)))
        a = torch.cat(acts)
        res = a @ (1 - a).T
        res += res.clone().T
        lrs.append(float((1.0 / (1 - torch.sign(res)).sum(1)).sum()))
    return {"te_nas_ntk": ntk, "te_nas_lr": sum(lrs) / len(lrs)}


def ref_az_nas(net, x, y):
    """AZ-NAS's `compute_nas_score`: Kaiming fan-in re-init, Gaussian images, stem and cell features
    by hooks, expressivity/progressivity from each feature's covariance eigenvalues, trainability from
    Rademacher backprop between consecutive features, FLOPs by layer hooks."""
    n = copy.deepcopy(net)
    with torch.no_grad():
        for m in n.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d) and m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
    n.train()
    z = torch.randn(x.shape)
    feats, macs = [], [0]
    for m in [n.stem, *n.cells]:
        m.register_forward_hook(lambda _m, _i, o: feats.append(o))
    for m in _layers(n):

        def count(m, _i, o):
            if isinstance(m, nn.Conv2d):
                macs[0] += (
                    m.kernel_size[0]
                    * m.kernel_size[1]
                    * m.in_channels
                    * m.out_channels
                    // m.groups
                    * o.shape[2]
                    * o.shape[3]
                )
            else:
                macs[0] += m.in_features * m.out_features + m.out_features

        m.register_forward_hook(count)
    n(z)
    ent = []
    for f in feats:
        m = f.detach().permute(0, 2, 3, 1).reshape(-1, f.shape[1])
        m = m - m.mean(0, keepdim=True)
        s = torch.linalg.eigh(m.t() @ m / m.shape[0])[0]
        p = s / s.sum()
        ent.append(float((-p * torch.log(p + 1e-8)).sum()))
    tr = []
    for i in reversed(range(1, len(feats))):
        fo, fi = feats[i], feats[i - 1]
        go = (torch.bernoulli(torch.full_like(fo, 0.5)) - 0.5) * 2
        gi = torch.autograd.grad(fo, fi, go, retain_graph=True)[0]
        if go.shape == gi.shape and torch.equal(gi, go):
            tr.append(-math.inf)
            continue
        if go.shape[2:] != gi.shape[2:]:
            gi = F.pixel_unshuffle(gi, gi.shape[2] // go.shape[2])
        a = go.permute(0, 2, 3, 1).reshape(-1, go.shape[1])
        b = gi.permute(0, 2, 3, 1).reshape(a.shape[0], -1)
        sv = float(torch.linalg.svdvals(b.t() @ a / a.shape[0]).max())
        tr.append(-sv - 1 / (sv + 1e-6) + 2)
    return {
        "az_nas_expressivity": float(np.sum(ent)),
        "az_nas_progressivity": float(np.min(np.diff(ent))),
        "az_nas_trainability": float(np.mean(tr)),
        "az_nas_complexity": macs[0] / 1e6,
    }


NEW_FAMILIES = {
    "suite_zero": (("epe_nas", "l2_norm", "plain", "zen"), ref_suite_zero),
    "zico": (("zico",), ref_zico),
    "meco": (("meco",), ref_meco),
    "swap": (("swap",), ref_swap),
    "te_nas": (("te_nas_ntk", "te_nas_lr"), ref_te_nas),
    "az_nas": (("az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability", "az_nas_complexity"),
               ref_az_nas),
}  # fmt: skip
"""The second round's families: (names, the reference-style loop); latency has no reference."""


REFERENCE = {
    "grad_norm": ref_grad_norm, "snip": ref_snip, "grasp": ref_grasp, "fisher": ref_fisher,
    "synflow": ref_synflow, "jacob_cov": ref_jacob_cov, "nwot": ref_nwot,
}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--archs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--cells", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (a GPU session: what all 15,625 cells take)")
    ap.add_argument(
        "--only",
        choices=("all", "first", "new"),
        default="all",
        help="first: the first seven proxies; new: the second round's families (docs/estimators.md)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    space = get_space("nb201")
    rng = np.random.default_rng(args.seed)
    archs = [space.sample(rng) for _ in range(args.archs)]
    g = torch.Generator().manual_seed(args.seed)
    x, y = torch.randn(args.batch, 3, 32, 32, generator=g), torch.randint(0, 10, (args.batch,), generator=g)
    x, y = x.to(device), y.to(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def nets() -> list[nn.Module]:
        out = []
        for i, a in enumerate(archs):
            torch.manual_seed(1000 + i)
            out.append(space.standalone(a, args.channels, args.cells, 10).to(device))
        sync()
        return out

    def run_wsnas(names: list[str]) -> tuple[float, list[dict[str, float]]]:
        ns = nets()
        t0 = time.perf_counter()
        vals = [{k: s.value for k, s in zero_cost_scores(n, x, y, names).items()} for n in ns]
        sync()
        return time.perf_counter() - t0, vals

    def run_ref(names: list[str]) -> tuple[float, list[dict[str, float]]]:
        ns = nets()
        t0 = time.perf_counter()
        vals = [{k: REFERENCE[k](n, x, y) for k in names} for n in ns]
        sync()
        return time.perf_counter() - t0, vals

    def run_family(fam: str) -> tuple[float, list[dict[str, float]]]:
        names = list(NEW_FAMILIES[fam][0])
        compute = ESTIMATORS.get(names[0]).compute
        ns = nets()
        t0 = time.perf_counter()
        vals = []
        for i, n in enumerate(ns):
            torch.manual_seed(2000 + i)  # the same draws (inits, Gaussian inputs, crops) as the reference
            vals.append({k: s.value for k, s in compute(n, x, y, names).items()})
        sync()
        return time.perf_counter() - t0, vals

    def ref_family(fam: str) -> tuple[float, list[dict[str, float]]]:
        ns = nets()
        t0 = time.perf_counter()
        vals = []
        for i, n in enumerate(ns):
            torch.manual_seed(2000 + i)
            vals.append(NEW_FAMILIES[fam][1](n, x, y))
        sync()
        return time.perf_counter() - t0, vals

    cases: list[tuple[str, Any, Any, Any]] = []
    if args.only in ("all", "first"):
        cases += [(n, [n], run_wsnas, run_ref) for n in ZERO_COST] + [
            ("all", list(ZERO_COST), run_wsnas, run_ref)
        ]
    if args.only in ("all", "new"):
        for fam in NEW_FAMILIES:
            cases.append((fam, fam, run_family, ref_family))
    times: dict[str, dict[str, list[float]]] = {}
    worst: dict[str, float] = {}
    for rep in range(args.repeats):
        for key, names, mine_fn, ref_fn in cases:
            order = [("wsnas", mine_fn), ("reference", ref_fn)]
            for impl, fn in order if rep % 2 == 0 else order[::-1]:
                sec, vals = fn(names)
                times.setdefault(key, {}).setdefault(impl, []).append(sec)
                if impl == "wsnas":
                    mine = vals
                else:
                    ref = vals
            for a, b in zip(mine, ref, strict=True):
                for k in b if key in NEW_FAMILIES else names:
                    if math.isfinite(a[k]) and math.isfinite(b[k]) and b[k] != 0:
                        worst[k] = max(worst.get(k, 0.0), abs(a[k] - b[k]) / abs(b[k]))
    result: dict[str, Any] = {
        "benchmark": "estimators",
        "space": "nb201",
        "channels": args.channels,
        "cells": args.cells,
        "batch": args.batch,
        "archs": args.archs,
        "repeats": args.repeats,
        "threads": args.threads,
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "torch": torch.__version__,
        "archs_per_s": {
            k: {impl: args.archs / statistics.median(v) for impl, v in t.items()} for k, t in times.items()
        },
        "seconds": times,
        "speedup_median": {
            k: statistics.median(t["reference"]) / statistics.median(t["wsnas"]) for k, t in times.items()
        },
        "at_least_as_fast": {
            k: statistics.median(t["wsnas"]) <= statistics.median(t["reference"]) for k, t in times.items()
        },
        "max_relative_difference": worst,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
