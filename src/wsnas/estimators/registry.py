"""The estimators a `wsnas estimate` run can score, each declared with the spaces it acts on.

An estimator is one of: a zero-cost proxy of the stand-alone network at initialisation
(`wsnas.estimators.zero_cost`), a baseline read from the space's own facts (`params`,
`flops`), a reduced-training accuracy read from the benchmark's own files (`bench:E`, E a
shorter schedule the files hold), or `vote` (a majority of synflow, jacob_cov and snip over
the scored pool). A space where one cannot act refuses it when the command starts, before
anything is written (`check_estimators`), as `spaces.factors` refuses a factor.

This registry is the only list of estimators: `wsnas estimate --help`, `wsnas list estimators`,
validation and the runner read it. Another package adds estimators through the `wsnas.estimators`
entry-point group (value: a module that registers them; CONTRIBUTING.md has a complete example).
A zero-cost estimator is a `compute(net, x, y, names) -> {name: Score}` function: the runner
calls each distinct function once per architecture, with every requested name registered with
it, on a freshly built network initialised from the run's per-architecture seed, in train mode,
given to that call alone (it may change it), with the run's minibatch (x, y) on the run's device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wsnas.core.errors import ConfigError, did_you_mean
from wsnas.core.registry import Registry
from wsnas.spaces.base import SearchSpace

if TYPE_CHECKING:
    from wsnas.estimators.zero_cost import Score

Compute = Callable[[Any, Any, Any, list[str]], "dict[str, Score]"]
"""compute(net, x, y, names) -> {name: Score} for every name of NAMES (torch module and tensors)."""

BENCH_PREFIX = "bench:"

BENCH_SCHEDULES: dict[str, tuple[str, ...]] = {"nb201": ("12",), "nb101": ("4", "12", "36")}
"""Shorter training schedules a space's benchmark files hold (NB201: the 12-epoch 'less' records of
the official .pth / NATS files; NB101: the 4/12/36-epoch records of nasbench_full.tfrecord). A space
not named here has none (DARTS-NDS: one schedule per model; nb201_mini: its shipped table)."""

VOTE_OF = ("synflow", "jacob_cov", "snip")
"""The proxies `vote` takes the majority of (Abdelfattah et al., section 5)."""


@dataclass(frozen=True)
class Estimator:
    """One registered estimator: its kind, and why a space cannot run it (None: it can)."""

    name: str
    kind: str
    """'zero_cost' (one network at init), 'baseline' (space facts), 'bench' (benchmark files), 'vote',
    'pool' (its per-network components ranked over the scored pool, in the summary)."""
    summary: str
    refuses: Callable[[Any], str | None] = lambda space: None
    """Why SPACE (a SearchSpace) cannot run it, or None."""
    compute: Compute | None = None
    """zero_cost: the function that scores it (shared by the names computed in one pass)."""
    components: tuple[str, ...] = ()
    """pool: the registered zero-cost estimators whose columns it combines (scores.csv holds them)."""
    aggregate: Callable[[dict[str, Any]], Any] | None = None
    """pool: {component: the pool's column (NumPy)} -> one score per architecture (NaN: none)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"estimator {self.name!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "vote" and self.name != "vote":
            raise ValueError(f"estimator {self.name!r}: kind 'vote' is the built-in vote's alone")
        if self.kind == "zero_cost" and self.compute is None:
            raise ValueError(f"zero-cost estimator {self.name!r} needs a compute function")
        if self.kind == "pool" and (not self.components or self.aggregate is None):
            raise ValueError(f"pool estimator {self.name!r} needs components and an aggregate function")


KINDS = ("zero_cost", "baseline", "bench", "vote", "pool")
"""What the runner knows how to score: a network at init (`compute`), a space fact (`arch_facts`
key NAME_m), a shorter schedule of the benchmark (`bench:E`), the vote, a pool aggregate."""

ESTIMATORS: Registry[Estimator] = Registry("estimator", "wsnas.estimators")
"""Estimators by name; other packages add theirs through the `wsnas.estimators` entry-point group."""


def needs_standalone(space: Any) -> str | None:
    """The refusal of an estimator that scores the benchmark's stand-alone network."""
    impl = getattr(type(space), "standalone", None)
    if impl is None or getattr(impl, "__isabstractmethod__", False) or impl is SearchSpace.standalone:
        return f"space {space.name} has no stand-alone network (SearchSpace.standalone)"
    return None


def _shared_pass(net: Any, x: Any, y: Any, names: list[str]) -> dict[str, Score]:
    """The first seven proxies from one shared pass (`zero_cost.zero_cost_scores`)."""
    from wsnas.estimators.zero_cost import zero_cost_scores  # torch: only where a network is scored

    return zero_cost_scores(net, x, y, names)


def _zc(name: str, summary: str) -> None:
    ESTIMATORS.register(name)(Estimator(name, "zero_cost", summary, needs_standalone, _shared_pass))


_zc("grad_norm", "sum over conv/linear layers of ||dL/dW||_2 (Abdelfattah et al.)")
_zc("snip", "sum of |W * dL/dW| (SNIP saliency, Lee et al.; Abdelfattah et al.)")
_zc("grasp", "sum of -W * (H dL/dW) (GraSP, Wang et al.; Abdelfattah et al.'s sign)")
_zc("fisher", "sum of per-channel 0.5 E[(sum act*dL/dact)^2] (Turner et al.; Abdelfattah et al.)")
_zc("synflow", "sum of |W * dR/dW|, R = output sum of |W| net on ones, float64 (Tanaka et al.)")
_zc("jacob_cov", "-sum(log(v+k)+1/(v+k)), v eigenvalues of the input-Jacobian correlation")
_zc("nwot", "log|det K|, K the ReLU binary-code kernel (Mellor et al., v2)")


def _facts_refusal(key: str) -> Callable[[Any], str | None]:
    def refuses(space: Any) -> str | None:
        if not callable(getattr(space, "arch_facts", None)):
            return f"space {space.name} gives no arch_facts ({key})"
        return None

    return refuses


ESTIMATORS.register("params")(
    Estimator("params", "baseline", "parameters (M) of the benchmark's network", _facts_refusal("params_m"))
)
ESTIMATORS.register("flops")(
    Estimator("flops", "baseline", "FLOPs (M) of the benchmark's network", _facts_refusal("flops_m"))
)
ESTIMATORS.register("vote")(
    Estimator(
        "vote",
        "vote",
        "2-of-3 majority of synflow, jacob_cov, snip per pair: ranked by wins (Copeland); pairwise_acc "
        "is the authors' vote",
        needs_standalone,
    )
)


def bench_schedule(name: str) -> str | None:
    """E of a `bench:E` name, else None."""
    return name[len(BENCH_PREFIX) :] if name.startswith(BENCH_PREFIX) else None


def known_names() -> list[str]:
    return [*ESTIMATORS.names(), f"{BENCH_PREFIX}E"]


def get_estimator(name: str, space: Any) -> Estimator:
    """The estimator NAME on SPACE, or a ConfigError saying what is wrong (unknown, refused)."""
    schedule = bench_schedule(name)
    if schedule is not None:
        offered = BENCH_SCHEDULES.get(space.name, ())
        if schedule not in offered:
            held = f"schedules {', '.join(offered)}" if offered else "no shorter schedule"
            raise ConfigError(
                f"estimator {name!r}: the {space.name} benchmark files hold {held}"
                f"{did_you_mean(schedule, offered) if offered else ''}"
            )
        return Estimator(name, "bench", f"accuracy after the benchmark's {schedule}-epoch schedule")
    if name not in ESTIMATORS:
        ESTIMATORS.get(name)  # raises with the known names and a did-you-mean
    est = ESTIMATORS.get(name)
    why = est.refuses(space)
    if why:
        raise ConfigError(f"estimator {name!r} cannot act on space {space.name}: {why}")
    return est


def check_estimators(names: list[str], space: Any) -> list[Estimator]:
    """Every name as an Estimator on SPACE (in order, no repeats); refusals name each problem."""
    if not names:
        raise ConfigError(f"--estimators: name at least one; known: {', '.join(known_names())}")
    seen = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    errors, out = [], []
    for n in seen:
        try:
            out.append(get_estimator(n, space))
        except ConfigError as e:
            errors.append(str(e))
    if errors:
        raise ConfigError("; ".join(errors))
    return out


def provenance(est: Estimator) -> str | None:
    """`distribution==version` of the package an estimator's code comes from, when that is not wsnas
    (a plugin): a plugin upgraded between a run and its resume must not mix two versions' scores."""
    fn = est.compute or est.aggregate
    module = getattr(fn, "__module__", None) or ""
    top = module.split(".", 1)[0]
    if not top or top == "wsnas":
        return None
    from importlib.metadata import packages_distributions, version

    dists = packages_distributions().get(top, [])
    if not dists:
        return f"{top} (no installed distribution)"
    return f"{dists[0]}=={version(dists[0])}"
