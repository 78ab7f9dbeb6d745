"""NB101's search moves: the benchmark's edge/op mutations, kept only when the spec stays valid.

A cell is first padded to `max_vertices` with isolated vertices (inserted before the
output), so an edge may be flipped between any two of the V vertices, as NAS-Bench-101's
own regularised-evolution example mutates its 7x7 matrices. A result is kept only if
`validate` accepts it (input reaches output, limits after pruning): search never sees an
invalid cell.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wsnas.core.errors import ArchError
from wsnas.spaces.nb101.graph import OPS, OUTPUT, CellSpec, hash_graph, labels, prune, validate

MAX_TRIES = 1000
"""Mutation draws before giving up on a cell (none valid and new is practically impossible)."""


def pad(spec: CellSpec, n: int, new_ops: Sequence[str]) -> CellSpec:
    """SPEC with isolated vertices inserted before its output until it has N vertices (ops NEW_OPS)."""
    extra = n - spec.num_vertices
    if extra <= 0:
        return spec
    m = spec.num_vertices
    rows = [[0] * n for _ in range(n)]
    for i in range(m):
        for j in range(m):
            if spec.matrix[i][j]:
                rows[_moved(i, m, n)][_moved(j, m, n)] = 1
    ops = (*spec.ops[:-1], *new_ops[:extra], OUTPUT)
    return CellSpec(tuple(tuple(r) for r in rows), ops)


def _moved(v: int, m: int, n: int) -> int:
    """Vertex V of an M-vertex cell in its N-vertex padding (only the output moves)."""
    return n - 1 if v == m - 1 else v


def pruned_hash(spec: CellSpec) -> str:
    p = prune(spec)
    return hash_graph(p.matrix, labels(p.ops))


def _flipped(spec: CellSpec, i: int, j: int) -> CellSpec:
    rows = [list(r) for r in spec.matrix]
    rows[i][j] = 1 - rows[i][j]
    return CellSpec(tuple(tuple(r) for r in rows), spec.ops)


def _relabelled(spec: CellSpec, v: int, op: str) -> CellSpec:
    return CellSpec(spec.matrix, (*spec.ops[:v], op, *spec.ops[v + 1 :]))


def _is_valid(spec: CellSpec, max_vertices: int, max_edges: int) -> bool:
    try:
        validate(spec, max_vertices, max_edges)
    except ArchError:
        return False
    return True


def neighbours(spec: CellSpec, max_vertices: int, max_edges: int) -> list[CellSpec]:
    """One edge flip or one op change, pruned; valid cells of a new hash only, one per hash.

    Order: edge flips row by row, then op changes vertex by vertex in OPS order.
    """
    full = pad(prune(spec), max_vertices, [OPS[0]] * max_vertices)
    n = full.num_vertices
    moves: list[CellSpec] = [_flipped(full, i, j) for i in range(n) for j in range(i + 1, n)]
    moves += [_relabelled(full, v, op) for v in range(1, n - 1) for op in OPS if op != full.ops[v]]
    seen = {pruned_hash(spec)}
    out = []
    for m in moves:
        if not _is_valid(m, max_vertices, max_edges):
            continue
        h = pruned_hash(m)
        if h not in seen:
            seen.add(h)
            out.append(prune(m))
    return out


def mutate(spec: CellSpec, rng: np.random.Generator, max_vertices: int, max_edges: int) -> CellSpec:
    """NAS-Bench-101's mutation: flip each edge w.p. 1/#pairs, change each op w.p. 1/#ops slots.

    Redrawn until the spec is valid and differs from SPEC (as padded); the result keeps its
    dangling vertices, whose ops later mutations may connect.
    """
    n = max_vertices
    full = pad(spec, n, [OPS[int(k)] for k in rng.integers(len(OPS), size=n)])
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    for _ in range(MAX_TRIES):
        rows = [list(r) for r in full.matrix]
        for i, j in pairs:
            if rng.random() < 1.0 / len(pairs):
                rows[i][j] = 1 - rows[i][j]
        ops = list(full.ops)
        for v in range(1, n - 1):
            if n > 2 and rng.random() < 1.0 / (n - 2):
                ops[v] = [o for o in OPS if o != ops[v]][int(rng.integers(len(OPS) - 1))]
        child = CellSpec(tuple(tuple(r) for r in rows), tuple(ops))
        if child != full and _is_valid(child, max_vertices, max_edges):
            return child
    raise ArchError(f"NB101 spec {spec.to_json()}: no valid mutation in {MAX_TRIES} draws")


def distance(a: CellSpec, b: CellSpec, max_vertices: int) -> int:
    """Differing matrix entries plus differing ops of the two pruned cells padded to MAX_VERTICES."""
    pa, pb = (pad(prune(s), max_vertices, [OPS[0]] * max_vertices) for s in (a, b))
    pairs = zip(pa.matrix, pb.matrix, strict=True)
    edges = sum(x != y for ra, rb in pairs for x, y in zip(ra, rb, strict=True))
    return edges + sum(x != y for x, y in zip(pa.ops, pb.ops, strict=True))
