"""The `nb101` search space: NAS-Bench-101 cells as `CellSpec`s.

Arch strings are the compact JSON of `CellSpec.to_json()`; the canonical id is
the benchmark's module hash of the pruned cell.

Counting (see `NB101Space.num_archs`): an *encoding* is what Random-NAS draws,
a 7x7 upper-triangular 0/1 matrix plus one op per middle vertex, kept when the
pruned cell is in the space; there are 1,538,083 such matrices, times 3^5 op
labellings = 373,754,169 encodings. They map onto 423,624 unique cells very
unevenly (small cells have many more encodings), which is why Random-NAS and
Random-A differ on NB101 (the paper's Figure 8).
"""

from __future__ import annotations

import os
from functools import cache
from itertools import permutations
from typing import TYPE_CHECKING, Any

import numpy as np

from wsnas.config import LowFidelityConfig, MappingConfig
from wsnas.core.errors import ArchError
from wsnas.spaces.base import COMMON_FACTORS, FEWSHOT_WHY_NOT, SPACES, SearchSpace, SuperNet
from wsnas.spaces.factors import Factor
from wsnas.spaces.nb101 import moves
from wsnas.spaces.nb101.benchmark import LOADER
from wsnas.spaces.nb101.enumerate import (
    Enumeration,
    count_valid_matrices,
    edge_pairs,
    enumerate_cells,
    mask_to_matrix,
    unique_cells,
)
from wsnas.spaces.nb101.graph import (
    INPUT,
    MAX_EDGES,
    MAX_VERTICES,
    OPS,
    OUTPUT,
    CellSpec,
    hash_graph,
    labels,
    prune,
    validate,
)
from wsnas.spaces.nb101.relax import NB101Relaxation

if TYPE_CHECKING:
    from wsnas.spaces.nb101.standalone import StandaloneNet
    from wsnas.spaces.nb101.tokens import NB101Grammar


@cache
def _num_valid_matrices(n: int, max_edges: int) -> int:
    return count_valid_matrices(n, max_edges)


def _topological_relabellings(matrix: tuple[tuple[int, ...], ...]) -> list[tuple[int, ...]]:
    """Vertex maps (old -> new, input/output fixed) under which the matrix stays upper-triangular."""
    n = len(matrix)
    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if matrix[i][j]]
    out = []
    for mid in permutations(range(1, n - 1)):
        p = (0, *mid, n - 1)
        if all(p[i] < p[j] for i, j in edges):
            out.append(p)
    return out


def relabel(spec: CellSpec, perm: tuple[int, ...]) -> CellSpec:
    """The same cell with vertex v renamed perm[v]."""
    n = len(spec.ops)
    rows = [[0] * n for _ in range(n)]
    ops = [""] * n
    for i in range(n):
        ops[perm[i]] = spec.ops[i]
        for j in range(n):
            if spec.matrix[i][j]:
                rows[perm[i]][perm[j]] = 1
    return CellSpec(tuple(tuple(r) for r in rows), tuple(ops))


NB101_FACTORS: dict[str, Factor] = {
    **COMMON_FACTORS,
    "mapping.ops_on": Factor(
        ("nodes",), why="its ops live on nodes (a vertex sums its inputs, then applies one op)"
    ),
    "mapping.wsbn": Factor((False, True)),
    "mapping.dynamic_channels": Factor(("fixed", "shuffle", "shuffle_consistent", "interpolate")),
    "mapping.super_kernel": Factor((False, True)),
}
"""The NB101 super-net's factors (docs/factors.md)."""


@SPACES.register("nb101")
class NB101Space(SearchSpace):
    """NAS-Bench-101: DAGs of up to 7 vertices and 9 edges over 3 ops; 423,624 unique cells.

    `max_vertices` / `max_edges` shrink the space (tests use tiny ones so that the
    unique cells can be enumerated in milliseconds); only the official limits use
    the on-disk cache of unique cells. `cells` injects a precomputed enumeration.
    """

    proxy = {  # docs/background.md#stand-alone-protocol-p_proxy; batch and weight decay: the NB101 paper's
        "lr": 0.2,
        "epochs": 108,
        "batch_size": 256,
        "weight_decay": 1e-4,
        "nesterov": False,
        "channels": 128,
        "cells": 3,
    }

    name = "nb101"
    title = "NASBench-101"
    loader = LOADER
    factors = NB101_FACTORS
    why_not = {"fewshot.split": FEWSHOT_WHY_NOT}
    mixed_op_why_not = None  # NB101SuperNet.forward_mixed: eval-nas's relaxation (spaces/nb101/mixed.py)
    ops = OPS

    def __init__(
        self,
        max_vertices: int = MAX_VERTICES,
        max_edges: int = MAX_EDGES,
        cache_dir: str | os.PathLike | None = None,
        cells: Enumeration | None = None,
    ) -> None:
        if not 2 <= max_vertices <= MAX_VERTICES or max_edges < 1:
            raise ArchError(
                f"NB101 limits: max_vertices must be in 2..{MAX_VERTICES} and max_edges >= 1, "
                f"got {max_vertices} / {max_edges}"
            )
        self.max_vertices = max_vertices
        self.max_edges = max_edges
        self.cache_dir = cache_dir
        self._cells = cells

    @property
    def official(self) -> bool:
        return (self.max_vertices, self.max_edges) == (MAX_VERTICES, MAX_EDGES)

    def relaxation(self) -> NB101Relaxation:
        """eval-nas's relaxation: per vertex an op row and an input row (`nb101.relax`)."""
        return NB101Relaxation(self.max_vertices, self.max_edges)

    # -- counting -----------------------------------------------------------------------

    def cells(self) -> Enumeration:
        """The unique cells (cached on disk for the official limits, enumerated in memory otherwise)."""
        if self._cells is None:
            if self.official:
                self._cells = unique_cells(self.cache_dir)
            else:
                self._cells = enumerate_cells(self.max_vertices, self.max_edges, processes=1)
                self._cells.meta["source"] = f"enumerated in {self._cells.meta['seconds']} s (not cached)"
        return self._cells

    @property
    def num_archs(self) -> int:
        """Encodings Random-NAS samples uniformly: valid V x V matrices (V = max_vertices) times 3^(V-2).

        A matrix is valid when its pruned cell is in the space (input reaches output,
        at most `max_edges` edges). Op labels of pruned vertices still count, since
        the encoding carries them.
        """
        return _num_valid_matrices(self.max_vertices, self.max_edges) * len(OPS) ** (self.max_vertices - 2)

    @property
    def num_unique(self) -> int:
        """Unique cells after pruning and isomorphism (what Random-A samples uniformly)."""
        return len(self.cells())

    # -- codec --------------------------------------------------------------------------

    def parse(self, text: str) -> CellSpec:
        """JSON `{"matrix": ..., "ops": ...}` -> validated spec (as written, not pruned)."""
        spec = CellSpec.from_json(text.strip()) if isinstance(text, str) else CellSpec.from_json(text)
        validate(spec, self.max_vertices, self.max_edges)
        return spec

    def format(self, arch: CellSpec) -> str:
        validate(arch, self.max_vertices, self.max_edges)
        return arch.to_json()

    def canonical(self, arch: CellSpec | str) -> str:
        """The benchmark's module hash of the pruned cell."""
        spec = self.parse(arch) if isinstance(arch, str) else arch
        pruned = validate(spec, self.max_vertices, self.max_edges)
        return hash_graph(pruned.matrix, labels(pruned.ops))

    # -- samplers -----------------------------------------------------------------------

    def _sample_matrix(self, rng: np.random.Generator) -> tuple[tuple[int, ...], ...]:
        """A uniform V x V upper-triangular matrix whose pruned cell is valid (rejection sampling).

        Validity does not depend on the ops, so the matrix can be drawn on its own.
        """
        n = self.max_vertices
        m = len(edge_pairs(n))
        placeholder = (INPUT, *[OPS[0]] * (n - 2), OUTPUT)
        while True:
            matrix = mask_to_matrix(int(rng.integers(0, 1 << m)), n)
            try:
                validate(CellSpec(matrix, placeholder), n, self.max_edges)
            except ArchError:
                continue
            return matrix

    def sample(self, rng: np.random.Generator) -> CellSpec:
        """Random-NAS: uniform over encodings (`num_archs`), returned pruned.

        A uniform valid V x V matrix, then one uniform op for each of the V-2 middle
        vertices; pruning keeps the ops of the surviving vertices, so the result is
        the network the benchmark would evaluate for that encoding.
        """
        matrix = self._sample_matrix(rng)
        ops = (INPUT, *(OPS[int(o)] for o in rng.integers(0, len(OPS), size=self.max_vertices - 2)), OUTPUT)
        return prune(CellSpec(matrix, ops))

    def sample_unique(self, rng: np.random.Generator) -> CellSpec:
        """Random-A: a unique cell uniformly, shown in a uniformly random vertex order.

        The random (topological) vertex order keeps every vertex position of the
        super-net in training, as NB201's Random-A draws a random encoding of the class.
        """
        cells = self.cells()
        spec = cells.spec(int(rng.integers(len(cells))))
        perms = _topological_relabellings(spec.matrix)
        return relabel(spec, perms[int(rng.integers(len(perms)))])

    def fair_num_ops(self) -> int:
        return len(OPS)

    def fair_paths(self, rng: np.random.Generator) -> list[CellSpec]:
        """FairNAS: K=3 cells sharing one sampled topology; vertex v gets op perm_v[k] in path k.

        So every (surviving) middle vertex trains each op exactly once per step.
        """
        n = self.max_vertices
        topo = prune(CellSpec(self._sample_matrix(rng), (INPUT, *[OPS[0]] * (n - 2), OUTPUT)))
        n = topo.num_vertices
        perms = [rng.permutation(len(OPS)) for _ in range(n - 2)]
        return [
            CellSpec(topo.matrix, (INPUT, *(OPS[int(p[k])] for p in perms), OUTPUT)) for k in range(len(OPS))
        ]

    def token_grammar(self) -> NB101Grammar:
        """How ENAS's and NAO's controllers write a cell: eval-nas's trees, one (input, op) pair per
        node (`wsnas.spaces.nb101.tokens`)."""
        from wsnas.spaces.nb101.tokens import NB101Grammar

        return NB101Grammar(self.max_vertices, self.max_edges)

    # -- search moves ---------------------------------------------------------------------

    def neighbours(self, arch: CellSpec) -> list[CellSpec]:
        """One edge flip or one op change of the cell padded to max_vertices; valid cells of a new
        module hash only, pruned (`wsnas.spaces.nb101.moves`)."""
        return moves.neighbours(arch, self.max_vertices, self.max_edges)

    def mutate(self, arch: CellSpec, rng: np.random.Generator) -> CellSpec:
        """The benchmark's edge/op mutation, redrawn until valid (`wsnas.spaces.nb101.moves`)."""
        return moves.mutate(arch, rng, self.max_vertices, self.max_edges)

    def arch_distance(self, a: CellSpec, b: CellSpec) -> int:
        return moves.distance(a, b, self.max_vertices)

    # -- networks and facts ---------------------------------------------------------------

    def standalone(
        self, arch: CellSpec, channels: int = 128, cells: int = 3, num_classes: int = 10
    ) -> StandaloneNet:
        """The benchmark's stand-alone network (f_proxy): `cells` cells per stack, 3 stacks."""
        from wsnas.spaces.nb101.standalone import StandaloneNet  # torch: only where a network is built

        return StandaloneNet(arch, stem_channels=channels, cells_per_stack=cells, num_classes=num_classes)

    def build_supernet(
        self, mapping: MappingConfig, lowfi: LowFidelityConfig, num_classes: int = 10
    ) -> SuperNet:
        """The NB101 super-net (f_ws): ops on nodes, dynamic channels, super-kernel, WSBN."""
        from wsnas.spaces.nb101.supernet import NB101SuperNet

        return NB101SuperNet(mapping, lowfi, num_classes=num_classes)

    def arch_facts(self, arch: CellSpec) -> dict[str, Any]:
        """Params and FLOPs (millions) of the benchmark's stand-alone CIFAR-10 network."""
        from wsnas.spaces.nb101.flops import flops_millions, num_params

        return {"params_m": round(num_params(arch) / 1e6, 6), "flops_m": round(flops_millions(arch), 6)}

    def info(self) -> dict[str, Any]:
        cells = self.cells()
        return {
            "space": self.name,
            "num_archs": self.num_archs,
            "num_unique": len(cells),
            "ops": list(OPS),
            "max_vertices": self.max_vertices,
            "max_edges": self.max_edges,
            "num_valid_matrices": _num_valid_matrices(self.max_vertices, self.max_edges),
            "num_archs_rule": (
                f"valid {self.max_vertices}x{self.max_vertices} upper-triangular 0/1 matrices "
                f"(input reaches output, <= {self.max_edges} edges after pruning) x "
                f"{len(OPS)}^{self.max_vertices - 2} op labellings"
            ),
            "unique_rule": "NAS-Bench-101 module hash of the pruned cell (iterative MD5 graph hash)",
            "unique_source": cells.meta.get("source", "enumerated"),
        }
