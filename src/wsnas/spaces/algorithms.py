"""Search algorithms as declarations: what each needs of a space and of the config, and its defaults.

An algorithm learns an architecture distribution beside the super-net's weights (DARTS, GDAS, SETN,
DrNAS; the controller-based ENAS and NAO). Here is only what a config check needs, without torch: the
name, the reference its defaults come from, the settings it reads (`algorithm.*` fields) with those
defaults, and the rules that refuse a combination before anything is written. The implementation is a
class named by a `"module:Class"` target (`wsnas.algorithms`, built by the trainer), so another package
adds one by registering an `AlgorithmSpec` whose target is its own class (entry-point group
`wsnas.algorithms`).

Every factor that acts on the super-net means the same under every algorithm because a mixed op
runs the very modules single-path training runs (`SuperNet.forward_mixed`); what cannot hold is
refused here, one line each, naming why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wsnas.config import RunConfig
from wsnas.core.errors import ConfigError
from wsnas.core.registry import Registry
from wsnas.spaces.base import SearchSpace
from wsnas.spaces.grammar import GrammarError, token_grammar

NONE = "none"
"""`algorithm.name` of a run trained by its sampler alone (Random-NAS, Random-A, FairNAS)."""

SETTINGS = (
    "arch_lr",
    "arch_betas",
    "arch_weight_decay",
    "tau_max",
    "tau_min",
    "select_num",
    "entropy_weight",
    "baseline_decay",
    "controller_steps",
    "controller_aggregate",
    "tanh_constant",
    "logit_temperature",
    "rounds",
    "seed_archs",
    "new_archs",
    "controller_epochs",
    "trade_off",
    "expand",
)
"""`algorithm.*` fields an algorithm may read (None in the config: its reference default)."""

ADAM = {"arch_lr": 3e-4, "arch_betas": (0.5, 0.999), "arch_weight_decay": 1e-3}
"""The architecture optimiser of xautodl's NB201 scripts (Adam, lr 3e-4, betas (0.5, 0.999), wd 1e-3)."""


@dataclass(frozen=True)
class AlgorithmSpec:
    """One registered algorithm: its implementation target, reference, settings and needs."""

    name: str
    target: str
    """`module:Class` of the implementation (a `wsnas.algorithms.base.Algorithm`)."""
    summary: str
    reference: str
    """The paper and the code its defaults and steps follow."""
    defaults: dict[str, Any] = field(default_factory=dict)
    """Its settings (`SETTINGS` names) with the reference's values; the others are refused if set."""
    mixed_op: bool = True
    """It runs the super-net's mixed-op forward (`SearchSpace.mixed_op`)."""
    uses_sampler: bool = False
    """Its weight step draws single paths from `sampler` (SETN); else the sampler is not used."""
    why_not: Callable[[SearchSpace], str | None] | None = None
    """Its own refusal of a space (None: it runs wherever the checks above allow), naming why."""


ALGORITHMS: Registry[AlgorithmSpec] = Registry("search algorithm", "wsnas.algorithms")
"""Search algorithms by name; other packages add theirs through the `wsnas.algorithms` entry-point group."""


def _builtin(spec: AlgorithmSpec) -> None:
    ALGORITHMS.register(spec.name)(spec)


_XAUTODL = "xautodl (D-X-Y/AutoDL-Projects) exps/NAS-Bench-201-algos/{} and models/cell_searchs/"
_MIXED = (
    "; on darts_nds DARTS's search cell and genotype() (quark0/darts cnn/model_search.py), on nb101 "
    "the authors' relaxation (kcyu2014/eval-nas darts_policy/model_search_nasbench.py)"
)
_builtin(
    AlgorithmSpec(
        "darts_v1",
        "wsnas.algorithms.darts:DartsV1",
        "every decision (an edge; an NB101 vertex's op and input) a softmax-weighted mixed op; "
        "architecture first-order on the validation split",
        "Liu et al., ICLR 2019; " + _XAUTODL.format("DARTS-V1.py") + _MIXED,
        dict(ADAM),
    )
)
_builtin(
    AlgorithmSpec(
        "darts_v2",
        "wsnas.algorithms.darts:DartsV2",
        "DARTS with the second-order (unrolled) architecture gradient",
        "Liu et al., ICLR 2019; " + _XAUTODL.format("DARTS-V2.py") + _MIXED,
        dict(ADAM),
    )
)
_builtin(
    AlgorithmSpec(
        "gdas",
        "wsnas.algorithms.gdas:GDAS",
        "one op per edge per step by a hard Gumbel-softmax sample, temperature annealed",
        "Dong and Yang, CVPR 2019; " + _XAUTODL.format("GDAS.py") + _MIXED,
        {**ADAM, "tau_max": 10.0, "tau_min": 0.1},
    )
)
_builtin(
    AlgorithmSpec(
        "setn",
        "wsnas.algorithms.setn:SETN",
        "uniform one-shot weights, a learnt template distribution, the best of candidates sampled from it",
        "Dong and Yang, NeurIPS 2019; " + _XAUTODL.format("SETN.py") + _MIXED,
        {**ADAM, "select_num": 100},
        uses_sampler=True,
    )
)
_builtin(
    AlgorithmSpec(
        "drnas",
        "wsnas.algorithms.drnas:DrNAS",
        "mixed-op weights drawn from a learnt Dirichlet per edge (pathwise gradient), l2 on its parameters",
        "Chen et al., ICLR 2021; xiangning-chen/DrNAS 201-space/train_search.py (k=1, reg_type l2)" + _MIXED,
        dict(ADAM),
    )
)


def _token_grammar_why_not(space: SearchSpace) -> str | None:
    """ENAS's and NAO's controllers write an architecture as the space's token sequence
    (`wsnas.spaces.grammar`): one op per edge (NB201), or per node its inputs and ops (NB101, DARTS)."""
    try:
        token_grammar(space)
    except GrammarError as e:
        return f"its controller writes an architecture as the space's token sequence, and {e}"
    return None


_builtin(
    AlgorithmSpec(
        "enas",
        "wsnas.algorithms.enas:ENAS",
        "an LSTM controller samples one path per step; REINFORCE on its samples' validation accuracy "
        "after each epoch",
        "Pham et al., ICML 2018; " + _XAUTODL.format("ENAS.py") + " (search_model_enas_utils.py), "
        "configs/nas-benchmark/algos/ENAS.config, scripts-search/algos/ENAS.sh; on nb101 and darts_nds "
        "a node-based token sequence: melodyguan/enas micro_controller.py (darts_nds), "
        "kcyu2014/eval-nas ControllerNASbench (nb101)",
        {
            "arch_lr": 1e-3,
            "arch_betas": (0.0, 0.999),
            "arch_weight_decay": 0.0,
            "entropy_weight": 1e-4,
            "baseline_decay": 0.99,
            "controller_steps": 50,
            "controller_aggregate": 20,
            "tanh_constant": 2.5,
            "logit_temperature": 5.0,
            "select_num": 100,
        },
        mixed_op=False,
        why_not=_token_grammar_why_not,
    )
)
_builtin(
    AlgorithmSpec(
        "nao",
        "wsnas.algorithms.nao:NAO",
        "single paths from a candidate pool; an encoder-predictor-decoder trained on their one-shot "
        "accuracies moves the best in its embedding space to new candidates, each round",
        "Luo et al., NeurIPS 2018; renqianluo/NAO_pytorch NAO_V1/train_search.py (weight sharing), "
        "controller.py, encoder.py, decoder.py; on nb101 and darts_nds a node-based token sequence: "
        "NAO_V1 utils.py (darts_nds), kcyu2014/eval-nas nao_policy (nb101)",
        {
            "arch_lr": 1e-3,
            "arch_betas": (0.9, 0.999),
            "arch_weight_decay": 0.0,
            "rounds": 4,
            "seed_archs": 600,
            "new_archs": 300,
            "controller_epochs": 1000,
            "trade_off": 0.8,
            "expand": 10,
        },
        mixed_op=False,
        why_not=_token_grammar_why_not,
    )
)


def get_algorithm(name: str) -> AlgorithmSpec:
    return ALGORITHMS.get(name)


def resolved_settings(cfg: RunConfig) -> dict[str, Any]:
    """The algorithm's settings: the config's values over the reference defaults (what a run uses)."""
    spec = get_algorithm(cfg.algorithm.name)
    out = dict(spec.defaults)
    for key in spec.defaults:
        value = getattr(cfg.algorithm, key)
        if value is not None:
            out[key] = tuple(value) if isinstance(value, list) else value
    return out


def check_algorithm(space: SearchSpace, cfg: RunConfig) -> None:
    """ConfigError naming the first combination of algorithm, space and factors that cannot hold."""
    a = cfg.algorithm
    if a.name == NONE:
        given = [k for k in SETTINGS if getattr(a, k) is not None]
        if given or a.arch_split != "valid":
            keys = ", ".join(f"algorithm.{k}" for k in given or ["arch_split"])
            raise ConfigError(
                f"{keys}: set, but algorithm.name is none (the sampler alone); name an algorithm"
            )
        return
    spec = get_algorithm(a.name)
    where = f"key 'algorithm.name': {a.name}"
    unused = [k for k in SETTINGS if k not in spec.defaults and getattr(a, k) is not None]
    if unused:
        raise ConfigError(
            f"algorithm.{unused[0]}: {a.name} does not read it "
            f"(its settings: {', '.join(spec.defaults) or 'none'})"
        )
    if spec.mixed_op and space.mixed_op_why_not:
        raise ConfigError(f"{where} cannot run on {space.name}: {space.mixed_op_why_not}")
    refusal = space.mixed_op_refusal(cfg.mapping) if spec.mixed_op else None
    if refusal:
        raise ConfigError(f"{where} cannot run on {space.name} with this mapping: {refusal}")
    why = spec.why_not(space) if spec.why_not is not None else None
    if why:
        raise ConfigError(f"{where} cannot run on {space.name}: {why}")
    if not spec.uses_sampler and cfg.sampler.name != "random_nas":
        raise ConfigError(
            f"key 'sampler.name': {cfg.sampler.name}, but {a.name} draws its own paths from its learnt "
            f"distribution (a sampler's per-step rule, e.g. FairNAS's fairness, has no meaning for a mixed "
            f"op or a learnt sampler); leave sampler.name at random_nas"
        )
    if cfg.landmark.num_archs:
        raise ConfigError(
            f"key 'landmark.num_archs': landmark regularisation ranks single paths of a super-net trained by "
            f"a sampler; with {a.name} it would change what the algorithm optimises, which neither paper "
            f"defines; set landmark.num_archs=0"
        )
    if cfg.fewshot.split != "off":
        raise ConfigError(
            f"key 'fewshot.split': few-shot sub-super-nets each own part of the space, while {a.name} learns "
            f"one distribution over all of it; set fewshot.split=off"
        )
    if a.arch_split == "valid" and cfg.data.valid_size == 0:
        raise ConfigError(
            f"{where} updates its architecture on the validation split, but data.valid_size is 0; hold "
            f"images out of the training set (the references use half: data.valid_size=25000 on "
            f"CIFAR-10), or set algorithm.arch_split=train"
        )
    s = resolved_settings(cfg)
    if "tau_max" in s and s["tau_min"] > s["tau_max"]:
        raise ConfigError(f"algorithm.tau_min ({s['tau_min']}) is above algorithm.tau_max ({s['tau_max']})")
    if "new_archs" in s and s["new_archs"] > s["seed_archs"]:
        raise ConfigError(
            f"algorithm.new_archs ({s['new_archs']}) is above algorithm.seed_archs ({s['seed_archs']}): "
            f"each round replaces that many of the pool's worst, so at most the whole pool"
        )
