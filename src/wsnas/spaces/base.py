"""The search-space interface and its registry.

A new space is one sub-package that implements `SearchSpace` and registers it
with `@SPACES.register(name)`; the trainer, samplers, ground-truth cache,
metrics and CLI only speak this interface (docs/architecture.md: adding a space).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterable
from itertools import product
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.core.errors import ArchError
from wsnas.core.registry import Registry
from wsnas.groundtruth.loaders import BenchLoader
from wsnas.spaces.factors import ANY, Above, Factor, Not, check_factors
from wsnas.spaces.relax import EdgeRelaxation, Relaxation

if TYPE_CHECKING:  # the interface needs no torch; the super-nets import it
    import torch
    from torch import nn

SPACES: Registry[type[SearchSpace]] = Registry("search space", "wsnas.spaces")


COMMON_FACTORS: dict[str, Factor] = {
    "mapping.bn_track_running_stats": Factor((False, True)),
    "mapping.bn_affine": Factor((True, False)),
    "mapping.dropout_global": Factor(ANY),
    "mapping.dropout_path": Factor(ANY),
    "lowfi.channels": Factor(ANY),
    "lowfi.cells_per_stage": Factor(ANY),
}
"""Factors every built-in super-net honours (BN flags, dropout, width, depth)."""

_LANDMARK_ON = (("landmark.num_archs", Above(0)),)
LANDMARK_FACTORS: dict[str, Factor] = {
    "landmark.num_archs": Factor(ANY),
    **{
        f"landmark.{k}": Factor(ANY, requires=_LANDMARK_ON, why="no landmarks, no ranking term")
        for k in ("archs_file", "loss", "coef", "schedule", "warmup_fraction", "pairs")
    },
}
"""Landmark regularisation (beyond the paper): it needs only forward passes of architectures with ground
truth, so every space with a benchmark honours it."""

FEWSHOT_FACTORS: dict[str, Factor] = {
    "fewshot.split": Factor(ANY),
    "fewshot.warmup_fraction": Factor(
        ANY, requires=(("fewshot.split", Not("off")),), why="the super-net is never split"
    ),
}
"""Few-shot super-nets (beyond the paper), for spaces with one op choice per edge (`EdgeOpSpace`)."""

FEWSHOT_WHY_NOT = (
    "few-shot splitting needs one op choice per edge of a fixed cell, and this space's choices change "
    "its graph (an op's input or a vertex's existence), so a sub-super-net would not own a fixed set of paths"
)


class SearchSpace(ABC):
    """A cell search space: everything wsnas knows of it, behind one interface.

    Codec (`parse`/`format`), canonical id, samplers, the super-net (f_ws) and
    stand-alone net (f_proxy), architecture facts, the benchmark's P_proxy
    defaults, its ground-truth loader and the factors its super-net honours.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    """The benchmark's own name, for reports (e.g. NASBench-201)."""
    proxy: ClassVar[dict[str, Any]] = {}
    """The benchmark's stand-alone protocol P_proxy: lr, epochs, batch_size, weight_decay,
    nesterov, channels, cells (what `ProxyConfig` fields left None become)."""
    loader: ClassVar[BenchLoader]
    """How its ground truth is read (sources, default metric, schedule and shipped source)."""
    factors: ClassVar[dict[str, Factor]] = {}
    """Mapping and low-fidelity fields (`section.field`) its super-net honours, with the values
    that act; an undeclared field must keep its default (`wsnas.spaces.factors`)."""
    why_not: ClassVar[dict[str, str]] = {}
    """Why an undeclared factor field has no effect here, for its error message."""
    samplers: ClassVar[tuple[str, ...]] = ("random_nas", "random_a", "fairnas")
    """Registered path samplers that work on this space (FairNAS needs `fair_paths`)."""
    mixed_op_why_not: ClassVar[str | None] = (
        "its super-net has no mixed-op forward (SuperNet.forward_mixed), which DARTS-type algorithms run"
    )
    """Why the super-net cannot run every edge as a weighted mixed op (None: it can; the search
    algorithms that need one are refused on this space with this reason, `spaces.algorithms`)."""

    def mixed_op_refusal(self, mapping: MappingConfig) -> str | None:
        """Why MAPPING cannot hold under this super-net's mixed op (None: it holds), one line."""
        return None

    def relaxation(self) -> Relaxation:
        """The decision slots a learnt-distribution algorithm puts logits on (`spaces.relax`)."""
        raise NotImplementedError(f"{self.name} has no relaxation for learnt-distribution algorithms")

    @property
    @abstractmethod
    def num_archs(self) -> int:
        """Number of distinct encodings (what Random-NAS samples from)."""

    @property
    @abstractmethod
    def num_unique(self) -> int:
        """Number of unique architectures (what Random-A samples from)."""

    @abstractmethod
    def parse(self, text: str) -> Any:
        """Arch string in the benchmark's own notation -> encoding."""

    @abstractmethod
    def format(self, arch: Any) -> str:
        """Encoding -> arch string in the benchmark's own notation."""

    @abstractmethod
    def canonical(self, arch: Any) -> str:
        """Isomorphism-invariant id: equal for encodings of the same network."""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """Uniform over encodings (Random-NAS)."""

    @abstractmethod
    def sample_unique(self, rng: np.random.Generator) -> Any:
        """Uniform over unique architectures (Random-A)."""

    training_factors: ClassVar[dict[str, Factor]] = LANDMARK_FACTORS
    """Training-heuristic fields (`landmark.*`, `fewshot.*`) it honours; like `factors`, an undeclared
    field must keep its default (`why_not` says why)."""
    fewshot_default: ClassVar[tuple[int, ...]] = ()
    """Edges `fewshot.split=default` splits on (indices into `edges`); empty where few-shot is refused."""

    def check_factors(self, mapping: MappingConfig, lowfi: LowFidelityConfig, extra: Any = None) -> None:
        """ConfigError naming every factor this space's super-net would silently ignore; EXTRA: the
        run config's other factor sections by name (`landmark`, `fewshot`)."""
        factors = {**self.factors, **self.training_factors} if extra else self.factors
        check_factors(self.name, factors, mapping, lowfi, self.why_not, extra)

    def supernet(self, mapping: MappingConfig, lowfi: LowFidelityConfig, num_classes: int = 10) -> SuperNet:
        """The super-net (f_ws) for the mapping and low-fidelity factors; refuses factors it ignores."""
        self.check_factors(mapping, lowfi)
        return self.build_supernet(mapping, lowfi, num_classes)

    @abstractmethod
    def build_supernet(self, mapping: MappingConfig, lowfi: LowFidelityConfig, num_classes: int) -> SuperNet:
        """The super-net itself (called by `supernet` once the factors are checked)."""

    @abstractmethod
    def standalone(self, arch: Any, channels: int, cells: int, num_classes: int = 10) -> nn.Module:
        """The benchmark's stand-alone network (f_proxy) of one architecture."""

    @abstractmethod
    def arch_facts(self, arch: Any) -> dict[str, Any]:
        """Stand-alone network facts: at least params_m and flops_m."""

    def arch_facts_on(self, arch: Any, data: str) -> dict[str, Any] | None:
        """`arch_facts` of the network for data set DATA (its classes, input size); None where the
        space knows only its own network and DATA is not the data set of its ground truth."""
        own = self.loader.measured_on(self.loader.resolve_metric(None))
        return self.arch_facts(arch) if own is not None and data in own.data else None

    def fair_num_ops(self) -> int:
        """Ops per slot, i.e. FairNAS's K."""
        raise NotImplementedError(f"{self.name} has no FairNAS sampler")

    def fair_paths(self, rng: np.random.Generator) -> list[Any]:
        """K paths in which every slot takes every op exactly once (FairNAS)."""
        raise NotImplementedError(f"{self.name} has no FairNAS sampler")

    # ---- moves of a search over the space (wsnas.search) ----------------------------------

    def neighbours(self, arch: Any) -> list[Any]:
        """Every valid architecture one mutation step from ARCH (never ARCH itself), in a fixed order.

        What local search walks and, by default, what `mutate` draws from.
        """
        raise NotImplementedError(f"{self.name} has no neighbourhood for search")

    def mutate(self, arch: Any, rng: np.random.Generator) -> Any:
        """One random mutation of ARCH: valid, and a different encoding (default: a uniform neighbour)."""
        options = self.neighbours(arch)
        if not options:
            raise ArchError(f"{self.name} arch {self.format(arch)}: no valid neighbour to mutate to")
        return options[int(rng.integers(len(options)))]

    def arch_distance(self, a: Any, b: Any) -> int:
        """Mutation steps between two encodings (0: the same encoding).

        Used where the ground truth covers only a sample of the space, so a search moves to
        the benchmark's architectures nearest to the current one.
        """
        raise NotImplementedError(f"{self.name} has no architecture distance for search")

    def info(self) -> dict[str, Any]:
        """The space's facts as plain data (`wsnas space info`): name, title, sizes."""
        return {
            "space": self.name,
            "title": self.title,
            "num_archs": self.num_archs,
            "num_unique": self.num_unique,
        }


def group_by_canonical(
    archs: Iterable[Any], canonical: Callable[[Any], str]
) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...]]:
    """(sorted canonical ids, the encodings of each id, in the order given)."""
    groups: dict[str, list[Any]] = {}
    for a in archs:
        groups.setdefault(canonical(a), []).append(a)
    ids = tuple(sorted(groups))
    return ids, tuple(tuple(groups[k]) for k in ids)


class EdgeOpSpace(SearchSpace):
    """A cell with one op per edge from a fixed list (NB201 and its family).

    Encodings are tuples of op indices in `edges` order; subclasses give the
    codec and `unique_classes()` (sorted canonical ids, the encodings of each).
    """

    ops: tuple[str, ...] = ()
    edges: tuple[tuple[int, int], ...] = ()
    training_factors: ClassVar[dict[str, Factor]] = {**LANDMARK_FACTORS, **FEWSHOT_FACTORS}
    fewshot_default: ClassVar[tuple[int, ...]] = (0,)
    """Few-shot NAS's released NB201 code splits on the first edge (0 -> 1)."""

    @abstractmethod
    def unique_classes(self) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...]]:
        """(sorted canonical ids, the encodings of each id)."""

    @property
    def num_archs(self) -> int:
        return len(self.ops) ** len(self.edges)

    @property
    def num_unique(self) -> int:
        return len(self.unique_classes()[0])

    def sample(self, rng: np.random.Generator) -> Any:
        return tuple(int(o) for o in rng.integers(0, len(self.ops), size=len(self.edges)))

    def sample_unique(self, rng: np.random.Generator) -> Any:
        """Pick a unique cell uniformly, then one of its encodings uniformly.

        The class is what Random-A makes uniform; drawing the encoding at random
        (rather than a fixed representative) keeps every isomorphic weight path
        in training.
        """
        _, members = self.unique_classes()
        group = members[int(rng.integers(len(members)))]
        return group[int(rng.integers(len(group)))]

    def relaxation(self) -> Relaxation:
        """One slot per edge, its ops the choices (`EdgeRelaxation`)."""
        return EdgeRelaxation(len(self.edges), self.ops)

    def all_archs(self) -> list[Any]:
        """Every encoding, base-len(ops) digits with the first edge most significant."""
        return list(product(range(len(self.ops)), repeat=len(self.edges)))

    def fair_num_ops(self) -> int:
        return len(self.ops)

    def fair_paths(self, rng: np.random.Generator) -> list[Any]:
        """Each edge runs through an independent permutation of the ops."""
        perms = [rng.permutation(len(self.ops)) for _ in self.edges]
        return [tuple(int(p[k]) for p in perms) for k in range(len(self.ops))]

    def neighbours(self, arch: Any) -> list[Any]:
        """Change one edge's op: len(edges) x (len(ops) - 1) encodings, edge by edge, op by op."""
        a = tuple(int(o) for o in arch)
        return [a[:e] + (o,) + a[e + 1 :] for e in range(len(a)) for o in range(len(self.ops)) if o != a[e]]

    def arch_distance(self, a: Any, b: Any) -> int:
        """Edges whose ops differ."""
        return sum(int(x) != int(y) for x, y in zip(a, b, strict=True))

    def info(self) -> dict[str, Any]:
        """The base facts plus the cell's ops and edges."""
        return {**super().info(), "ops": list(self.ops), "edges": [list(e) for e in self.edges]}


# ---- the super-net contract --------------------------------------------------------------

_UNHASHABLE = object()
"""Tags the default path key of an unhashable arch (never equal to an arch)."""


if TYPE_CHECKING:  # a type checker sees a Module (to, parameters, train, ...); at run time no torch
    _ModuleForTypes = nn.Module
else:
    _ModuleForTypes = object


class SuperNet(ABC, _ModuleForTypes):
    """The weight-sharing network (f_ws) of a space: shared weights, one architecture's path per call.

    A mixin for `torch.nn.Module` subclasses (`class NB201SuperNet(SuperNet, nn.Module)`,
    SuperNet first): the interface itself needs no torch.
    """

    @abstractmethod
    def forward(self, x: torch.Tensor, arch: Any) -> torch.Tensor:
        """Logits of batch `x` through the path of `arch`, with the shared weights."""

    def path_key(self, arch: Any) -> Hashable:
        """Archs with equal keys run exactly the same ops on the same weights (so the same logits).

        Evaluation computes one arch per key and copies its accuracy to the others.
        Default: the arch itself (an unhashable arch gets a key of its own), so no two
        different archs ever share a key.
        """
        try:
            hash(arch)
        except TypeError:
            return (_UNHASHABLE, id(arch))
        return arch

    def extract_standalone(self, arch: Any) -> nn.Module:
        """The stand-alone network of `arch` holding copies of the weights this path runs."""
        raise NotImplementedError(f"{type(self).__name__} cannot extract a stand-alone network")
