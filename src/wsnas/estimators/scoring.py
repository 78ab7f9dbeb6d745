"""One architecture's row of a `wsnas estimate` run: every column's value, its NaN reasons, seconds.

Zero-cost estimators are computed per registered `compute` function: each distinct function is
called once per architecture with every requested name that shares it, on a fresh network
initialised from a seed of (seed, arch string), so a score does not depend on order, resume,
which process computed it, or which other estimators ran beside it.

Building an NB201 network costs more than some proxies (hundreds of modules, each initialised), so
wsnas's own families share one build per architecture (`FreshNets`): each gets the network reset to
the state it was built in (parameters and buffers copied back, gradients cleared, train mode) with the
RNG state the build left, which is what a new build from the same seed gives; a family that changed
the network in a way a reload cannot undo (a dtype, a module, a hook, an attribute) leaves the next
family a new build. Estimators of other packages always get a new build.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

import torch

from wsnas.core.errors import BenchmarkError
from wsnas.estimators.networks import build_network
from wsnas.estimators.plan import Plan, minibatch
from wsnas.estimators.registry import ESTIMATORS, Compute, _shared_pass
from wsnas.estimators.zero_cost import Score
from wsnas.nn.pool import conv_avg_pools


def arch_seed(seed: int, arch: str) -> int:
    """The init seed of ARCH's network: the same whatever the order or process."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{arch}".encode()).digest()[:4], "little") & 0x7FFFFFFF


def score_arch(plan: Plan, i: int) -> dict[str, Any]:
    """The row of pool architecture I: every column's value, the reasons of its NaNs, seconds."""
    arch, arch_str = plan.pool.archs[i], plan.pool.arch_strs[i]
    values: dict[str, Score] = {}
    secs: dict[str, float] = {}
    groups = zero_cost_groups(plan)
    if groups:
        t0 = time.perf_counter()
        nets = FreshNets(plan, arch, arch_str)
        # (the first seven's pass changes the network beyond a reload, synflow's float64 and BN
        # bypass: it goes last, so that the others share one build; the order changes no value)
        for compute, names in sorted(groups, key=lambda g: g[0] is _shared_pass):
            values.update(_zero_cost(plan, nets, compute, names))
        secs["zero_cost"] = time.perf_counter() - t0
    facts = [e.name for e in plan.estimators if e.kind == "baseline"]
    if facts:
        t0 = time.perf_counter()
        f = plan.space.arch_facts_on(arch, plan.cfg.data.name) or plan.space.arch_facts(arch)
        for c in facts:
            key = f"{c}_m"
            values[c] = Score.checked(f[key], c) if key in f else Score(math.nan, f"{c}: not in arch_facts")
        secs["facts"] = time.perf_counter() - t0
    for c, table in plan.reduced.items():
        t0 = time.perf_counter()
        try:
            values[c] = Score.checked(table.acc_of(arch_str), c)
        except BenchmarkError:
            values[c] = Score(math.nan, f"{c}: the architecture is not in the {table.schedule}-epoch table")
        secs[c] = time.perf_counter() - t0
    return {
        "values": {c: values[c] for c in plan.columns},
        "seconds": secs,
    }


def zero_cost_groups(plan: Plan) -> list[tuple[Compute, list[str]]]:
    """The run's zero-cost columns grouped by their registered compute function, in column order."""
    groups: dict[int, tuple[Compute, list[str]]] = {}
    for est in plan.estimators:
        if est.kind != "zero_cost":
            continue
        assert est.compute is not None  # Estimator checks it
        groups.setdefault(id(est.compute), (est.compute, []))[1].append(est.name)
    asked = {n for g in groups.values() for n in g[1]}
    derived = [n for n in plan.columns if n not in asked and n in ESTIMATORS]
    for n in derived:  # the proxies of vote / of a pool estimator, when only it asked for them
        est = ESTIMATORS.get(n)
        if est.kind != "zero_cost":
            continue
        assert est.compute is not None
        groups.setdefault(id(est.compute), (est.compute, []))[1].append(n)
    return list(groups.values())


def _zero_cost(plan: Plan, nets: FreshNets, compute: Compute, names: list[str]) -> dict[str, Score]:
    """NAMES of one compute function on a fresh network seeded by (seed, arch): the same network
    whichever other estimators ran, so a score depends on its architecture and the run's seed only."""
    if plan.batch is None:
        plan.batch, plan.num_classes = minibatch(plan.cfg, plan.opts.batch, plan.device, plan.opts.network)
    x, y = plan.batch
    try:
        net = nets.get(shared=own_family(compute))
        out = compute(net, x, y, list(names))
    except (RuntimeError, ValueError, ArithmeticError) as e:  # a network the proxies cannot run
        nets.discard()
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        return {n: Score(math.nan, f"{n}: {type(e).__name__}: {first}") for n in names}
    return {
        n: out[n] if n in out else Score(math.nan, f"{n}: its compute function gave no value") for n in names
    }


def own_family(compute: Compute) -> bool:
    """Whether COMPUTE is one of wsnas's families: each swaps the average pools for their convolution
    form first (`wsnas.nn.pool`), so a shared network may come with them swapped."""
    return str(getattr(compute, "__module__", "")).startswith("wsnas.")


class FreshNets:
    """One architecture's network for each compute family, as a new build from the seed gives it."""

    def __init__(self, plan: Plan, arch: Any, arch_str: str) -> None:
        self.plan, self.arch, self.seed = plan, arch, arch_seed(plan.cfg.seed, arch_str)
        self.net: Any = None
        self.state: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.rng: torch.Tensor | None = None
        self.sig: Any = None

    def build(self) -> Any:
        """A new network from the seed; the RNG is left as the build leaves it."""
        torch.manual_seed(self.seed)
        p = self.plan
        return build_network(p.opts.network, p.space, self.arch, p.channels, p.cells, p.num_classes).to(
            p.device
        )

    def get(self, shared: bool) -> Any:
        """The network for the next family: a new build, or (SHARED) the shared one reset."""
        if not shared:
            return self.build()
        if self.net is not None and signature(self.net) == self.sig:
            with torch.no_grad():  # (the same tensors as at the build: the signature holds their ids)
                for t, saved in self.state:
                    t.copy_(saved)
            for prm in self.net.parameters():
                prm.grad = None
            self.net.train()
            torch.manual_seed(self.seed)  # every device's generator, as a build seeds them
            assert self.rng is not None
            torch.set_rng_state(self.rng)  # the CPU generator as the build left it
            return self.net
        net = self.build()
        self.rng = torch.get_rng_state()
        conv_avg_pools(net)  # (every wsnas family does this first: the same function)
        self.state = [(t, t.detach().clone()) for t in _tensors(net)]
        self.sig = signature(net)
        self.net = net
        return net

    def discard(self) -> None:
        """Build anew for the next family (after a failed one)."""
        self.net = None


_SIMPLE = (bool, int, float, str, type(None))


def _tensors(net: Any) -> list[torch.Tensor]:
    """Every parameter and buffer of NET (what its state dict holds), each once."""
    return [*net.parameters(), *(b for b in net.buffers() if b is not None)]


def signature(net: Any) -> Any:
    """What a state reload does not restore: every module's type, plain attributes and hooks, and every
    parameter's and buffer's identity, dtype, device, shape, memory layout (strides) and requires_grad."""
    mods = []
    for name, m in net.named_modules():
        attrs = tuple(
            sorted(
                (k, v if isinstance(v, _SIMPLE) else tuple(v))
                for k, v in vars(m).items()
                if not k.startswith("_")
                and k != "training"
                and (
                    isinstance(v, _SIMPLE)
                    or (isinstance(v, tuple) and all(isinstance(i, _SIMPLE) for i in v))
                )
            )
        )
        hooks = tuple(len(d) for k, d in vars(m).items() if "hook" in k and isinstance(d, dict))
        mods.append((name, type(m), attrs, hooks))
    tensors = [
        (
            name,
            id(t),
            t.dtype,
            t.device,
            tuple(t.shape),
            t.stride(),
            t.requires_grad,
            isinstance(t, torch.nn.Parameter),
        )
        for name, t in (
            *net.named_parameters(remove_duplicate=False),
            *net.named_buffers(remove_duplicate=False),
        )
    ]
    keys = tuple(sorted(k for m in net.modules() for k in vars(m) if not k.startswith("_")))
    return tuple(mods), tuple(tensors), keys
