"""A search step per algorithm, wsnas vs the NAS-Bench-201 authors' search models (xautodl), side by side.

For DARTS-V1, DARTS-V2, GDAS and SETN: one step (an architecture step on a batch of the
architecture split plus a weight step on a training batch, in the reference's order) of wsnas's
algorithm through the trainer's own step function (`trainers.search_steps.algorithm_step`), and of
xautodl's search model (`TinyNetworkDarts`, `TinyNetworkGDAS`, `TinyNetworkSETN`) driven as the
authors' scripts drive it (`exps/NAS-Bench-201-algos/*.py`; DARTS-V2's unrolled step re-created
from that script, which the pip package does not ship). Same C, N, batch, initial weights (wsnas's
copied into the reference), architecture parameters and batches; repeats interleaved. Also a
single-path (Random-NAS) step and DrNAS, for the cost of a mixed op next to single-path training,
and the activation memory one forward keeps for the backward (bytes of the tensors autograd saves,
deduplicated: device independent; a GPU's peak adds the weights, gradients and workspace).

    python benchmarks/search_algorithms.py --threads 2 --steps 5 --repeats 5
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from _common import device_name, sync
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_reference import XAUTODL_MISSING, build_reference, copy_weights  # noqa: E402

from wsnas.algorithms.build import build_algorithm  # noqa: E402
from wsnas.config import LowFidelityConfig, MappingConfig, load_config  # noqa: E402
from wsnas.spaces import get_space  # noqa: E402
from wsnas.spaces.nb201.arch import format_arch  # noqa: E402
from wsnas.spaces.nb201.supernet import NB201SuperNet  # noqa: E402
from wsnas.spaces.samplers import build_sampler  # noqa: E402
from wsnas.trainers.search_steps import algorithm_step  # noqa: E402

REFERENCE_NAMES = {"darts_v1": "DARTS-V1", "darts_v2": "DARTS-V1", "gdas": "GDAS", "setn": "SETN"}
"""xautodl model per algorithm (DARTS-V2 uses the DARTS model; its script adds the unrolled step)."""


class _Stats:
    def add(self, *a: Any, **k: Any) -> None: ...

    def note_finite(self, *a: Any) -> None: ...


def search_trainer(name: str, net: nn.Module, args: argparse.Namespace, extra: Sequence[str] = ()) -> Any:
    """What the trainer's step function reads, carrying algorithm NAME ('' or 'none': Random-NAS) on
    NET: the config (nb201, the run's batch, EXTRA overrides), SGD, sampler, RNG; its loader never
    ends an epoch, so no end-of-epoch phase runs inside a timing."""
    cfg = load_config(
        None,
        [
            "space.name=nb201",
            f"algorithm.name={name or 'none'}",
            "data.valid_size=100",
            f"protocol.batch_size={args.batch_size}",
            "runtime.device=cpu",
            *extra,
        ],
    )
    space = get_space("nb201")
    opt = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, weight_decay=5e-4)
    return SimpleNamespace(
        algo=build_algorithm(cfg, space, torch.device(args.device)), model=net, optimizer=opt,
        device=torch.device(args.device), cfg=cfg, rng=np.random.default_rng(args.seed),
        sampler=build_sampler(space, cfg.sampler), stats=_Stats(), params=list(net.parameters()),
        arch_losses=[], loader=range(10**9),
    )  # fmt: skip


def wsnas_stepper(
    name: str, net: nn.Module, args: argparse.Namespace, alphas: torch.Tensor
) -> Callable[[Any], None]:
    """One trainer step of algorithm NAME (None: single path, Random-NAS) on wsnas's super-net."""
    trainer = search_trainer(name, net, args)
    algo, opt, rng, sampler = trainer.algo, trainer.optimizer, trainer.rng, trainer.sampler
    if algo is not None:
        with torch.no_grad():
            algo.alphas.copy_(alphas)
        algo.begin_epoch(0, 250)

    def step(batch: Any) -> None:
        (x, y), (xa, ya) = batch
        if algo is None:
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(x, sampler.step_paths(rng)[0]), y).backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            return
        trainer.arch_batches = SimpleNamespace(next=lambda: (xa, ya))
        algorithm_step(trainer, 0, x, y)

    return step


def _unrolled_v2(ref: nn.Module, x: Any, y: Any, xa: Any, ya: Any, w_opt: Any) -> None:
    """xautodl DARTS-V2.py's backward_step_unrolled, re-created (deepcopy unrolled model, finite-difference
    Hessian-vector product, r = 0.01)."""
    weights = ref.get_weights()
    loss = F.cross_entropy(ref(x)[1], y)
    g = w_opt.param_groups[0]
    lr, wd, mom = g["lr"], g["weight_decay"], g["momentum"]
    with torch.no_grad():
        theta = torch.cat([w.view(-1) for w in weights])
        try:
            moment = torch.cat([w_opt.state[w]["momentum_buffer"].view(-1) for w in weights]) * mom
        except KeyError:
            moment = torch.zeros_like(theta)
        dtheta = torch.cat([d.view(-1) for d in torch.autograd.grad(loss, weights)]) + wd * theta
        params = theta - lr * (moment + dtheta)
    unrolled = copy.deepcopy(ref)
    offset = 0
    with torch.no_grad():
        for w in unrolled.get_weights():
            n = w.numel()
            w.copy_(params[offset : offset + n].view_as(w))
            offset += n
    unrolled.zero_grad()
    F.cross_entropy(unrolled(xa)[1], ya).backward()
    dalpha = unrolled.arch_parameters.grad
    vector = [w.grad if w.grad is not None else torch.zeros_like(w) for w in unrolled.get_weights()]
    R = 0.01 / torch.cat([v.view(-1) for v in vector]).norm()
    grads = []
    for sign in (1.0, -2.0, 1.0):
        with torch.no_grad():
            for p, v in zip(weights, vector, strict=True):
                p.add_(sign * R * v)
        if len(grads) < 2:
            grads.append(torch.autograd.grad(F.cross_entropy(ref(x)[1], y), [ref.arch_parameters])[0])
    ref.arch_parameters.grad = dalpha - lr * (grads[0] - grads[1]) / (2 * R)


def reference_stepper(
    name: str, ref: nn.Module, args: argparse.Namespace, arch_rng: np.random.Generator
) -> Callable[[Any], None]:
    """One step of the authors' search script for NAME on their model."""
    from xautodl.models.cell_searchs.genotypes import Structure

    w_opt = torch.optim.SGD(ref.get_weights(), lr=0.025, momentum=0.9, weight_decay=5e-4)
    a_opt = torch.optim.Adam(ref.get_alphas(), lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3)
    if name == "gdas":
        ref.set_tau(10.0)

    def weights(x: Any, y: Any) -> None:
        w_opt.zero_grad()
        F.cross_entropy(ref(x)[1], y).backward()
        nn.utils.clip_grad_norm_(ref.parameters(), 5)
        w_opt.step()

    def arch(xa: Any, ya: Any) -> None:
        a_opt.zero_grad()
        F.cross_entropy(ref(xa)[1], ya).backward()
        a_opt.step()

    def step(batch: Any) -> None:
        (x, y), (xa, ya) = batch
        if name == "darts_v1":
            arch(xa, ya)
            weights(x, y)
        elif name == "darts_v2":
            a_opt.zero_grad()
            _unrolled_v2(ref, x, y, xa, ya, w_opt)
            a_opt.step()
            weights(x, y)
        elif name == "gdas":
            weights(x, y)
            arch(xa, ya)
        else:  # setn: a uniform path for the weights, the joint mode for the architecture
            genotype = format_arch(tuple(int(o) for o in arch_rng.integers(0, 5, size=6)))
            ref.set_cal_mode("dynamic", Structure.str2structure(genotype))
            weights(x, y)
            ref.set_cal_mode("joint", None)
            arch(xa, ya)

    return step


def saved_activation_mib(fn: Callable[[], torch.Tensor]) -> float:
    """MiB of the tensors autograd saves for the backward during FN (deduplicated by storage)."""
    seen: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        try:
            key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
            seen[key] = t.untyped_storage().nbytes()
        except RuntimeError:
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return round(sum(seen.values()) / 2**20, 1)


def time_steps(step: Callable[[Any], None], batches: list[Any], device: torch.device) -> float:
    sync(device)
    t0 = time.perf_counter()
    for b in batches:
        step(b)
    sync(device)
    return (time.perf_counter() - t0) / len(batches)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--cells", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--algorithms", default="darts_v1,darts_v2,gdas,setn,drnas")
    p.add_argument("--no-reference", action="store_true", help="wsnas only (no xautodl)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    have_ref = not args.no_reference
    if have_ref:
        try:
            import xautodl.models  # noqa: F401
        except ImportError:
            print(XAUTODL_MISSING, file=sys.stderr)
            raise SystemExit(2) from None
    gen = torch.Generator().manual_seed(args.seed)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(args.batch_size, 3, 32, 32, generator=gen).to(device), torch.randint(
            0, 10, (args.batch_size,), generator=gen
        ).to(device)

    batches = [(batch(), batch()) for _ in range(args.steps)]
    lowfi = LowFidelityConfig(channels=args.channels, cells_per_stage=args.cells)
    torch.manual_seed(args.seed)
    base = NB201SuperNet(MappingConfig(), lowfi).to(device)
    alphas = 1e-3 * torch.randn(6, 5, generator=gen).to(device)
    names = [n for n in args.algorithms.split(",") if n]
    fns: dict[str, Callable[[Any], None]] = {
        "single_path": wsnas_stepper("", copy.deepcopy(base), args, alphas)
    }
    for n in names:
        fns[f"wsnas_{n}"] = wsnas_stepper(n, copy.deepcopy(base), args, alphas)
        if have_ref and n in REFERENCE_NAMES:
            ref = build_reference(args.channels, args.cells, name=REFERENCE_NAMES[n]).to(device)
            copy_weights(base, ref)
            with torch.no_grad():
                ref.arch_parameters.copy_(alphas)
            fns[f"xautodl_{n}"] = reference_stepper(n, ref, args, np.random.default_rng(args.seed))
    for f in fns.values():  # warm-up, untimed
        f(batches[0])
    times: dict[str, list[float]] = {k: [] for k in fns}
    order = list(fns)
    for r in range(args.repeats):
        for k in order if r % 2 == 0 else order[::-1]:
            times[k].append(time_steps(fns[k], batches, device))
    med = {k: statistics.median(v) for k, v in times.items()}
    x, _ = batches[0][0]
    full = torch.softmax(alphas, -1)
    mem = {
        "single_path": saved_activation_mib(lambda: base(x, (3, 3, 3, 3, 3, 3))),
        "mixed_op": saved_activation_mib(lambda: base.forward_mixed(x, list(full), [tuple(range(5))] * 6)),
    }
    out = {
        "device": device_name(device),
        "threads": args.threads,
        "C": args.channels,
        "N": args.cells,
        "batch_size": args.batch_size,
        "steps_per_repeat": args.steps,
        "repeats": args.repeats,
        "seconds_per_step_median": {k: round(v, 4) for k, v in med.items()},
        "per_repeat": {k: [round(t, 4) for t in v] for k, v in times.items()},
        "wsnas_over_xautodl": {
            n: round(med[f"wsnas_{n}"] / med[f"xautodl_{n}"], 3) for n in names if f"xautodl_{n}" in med
        },
        "step_over_single_path": {n: round(med[f"wsnas_{n}"] / med["single_path"], 2) for n in names},
        "epoch_over_single_path_at_half_split": {
            n: round(0.5 * med[f"wsnas_{n}"] / med["single_path"], 2) for n in names
        },
        "saved_activations_mib_batch": {"batch": args.batch_size, **mem},
        "saved_activations_mib_batch_256": {k: round(v * 256 / args.batch_size, 1) for k, v in mem.items()},
        "note": "a step = architecture step + weight step (single path: a weight step); an epoch with the "
        "references' split (half the training set for the architecture) has half the steps",
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
