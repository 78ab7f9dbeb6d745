"""NAS-Bench-101 cell specs: validation, pruning and the benchmark's graph hash.

A cell is a DAG given by an upper-triangular 0/1 adjacency `matrix` (row = source,
column = target) and one op label per vertex; vertex 0 is the input and the last
vertex the output. The benchmark prunes vertices that are not on an input->output
path before checking the limits (7 vertices, 9 edges) and before hashing, so the
same rule is applied here: every function that judges or identifies a cell looks
at the pruned spec.

`spec_hash` reproduces the official isomorphism-invariant MD5 fingerprint, so the
hashes equal the `module_hash` keys of the official tfrecord.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wsnas.core.errors import ArchError, did_you_mean

INPUT = "input"
OUTPUT = "output"
CONV3X3 = "conv3x3-bn-relu"
CONV1X1 = "conv1x1-bn-relu"
MAXPOOL3X3 = "maxpool3x3"
OPS: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)
"""The benchmark's `available_ops`, in its order (the order defines the hash labels)."""
MAX_VERTICES = 7
MAX_EDGES = 9

INPUT_LABEL = -1
OUTPUT_LABEL = -2

Matrix = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class CellSpec:
    """One cell as the benchmark writes it (hashable, so usable as a dict key)."""

    matrix: Matrix
    ops: tuple[str, ...]

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(sum(row) for row in self.matrix)

    @classmethod
    def from_json(cls, data: str | Mapping[str, Any]) -> CellSpec:
        """Build from `{"matrix": [[...]], "ops": [...]}` (text or dict); shape only, no validation."""
        where = _brief(data) if isinstance(data, str) else _shown(data)
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as e:
                raise ArchError(f"NB101 spec {where!r}: not JSON ({e.msg} at char {e.pos})") from None
            except ValueError as e:  # an integer of more digits than Python converts
                why = str(e).split(":")[0]
                raise ArchError(f"NB101 spec {where!r}: not a cell spec ({why})") from None
            except RecursionError:
                raise ArchError(f"NB101 spec {where!r}: nested too deeply for a cell spec") from None
        if not isinstance(data, Mapping):
            raise ArchError(f"NB101 spec {where!r}: expected an object with keys 'matrix' and 'ops'")
        missing = [k for k in ("matrix", "ops") if k not in data]
        if missing:
            raise ArchError(f"NB101 spec {where!r}: missing key(s) {', '.join(missing)}")
        extra = sorted(set(data) - {"matrix", "ops"})
        if extra:
            raise ArchError(
                f"NB101 spec {where!r}: unknown key {extra[0]!r}"
                f"{did_you_mean(extra[0], ('matrix', 'ops'))}; keys are 'matrix' and 'ops'"
            )
        matrix, ops = data["matrix"], data["ops"]
        if (
            not isinstance(matrix, Sequence)
            or isinstance(matrix, str)
            or not all(isinstance(r, Sequence) and not isinstance(r, str) for r in matrix)
        ):
            raise ArchError(f"NB101 spec {where!r}: 'matrix' must be a list of rows (lists of 0/1)")
        if not isinstance(ops, Sequence) or isinstance(ops, str) or not all(isinstance(o, str) for o in ops):
            raise ArchError(f"NB101 spec {where!r}: 'ops' must be a list of op-label strings")
        try:
            rows = tuple(tuple(_as_int(v) for v in row) for row in matrix)
        except (TypeError, ValueError):
            raise ArchError(f"NB101 spec {where!r}: matrix entries must be 0 or 1") from None
        return cls(rows, tuple(ops))

    @classmethod
    def of(cls, matrix: Any, ops: Sequence[str]) -> CellSpec:
        """From any nested sequence / numpy array of 0/1 and a list of labels."""
        return cls(tuple(tuple(int(v) for v in row) for row in matrix), tuple(str(o) for o in ops))

    def to_json(self) -> str:
        """The compact arch string used in benchmark tables (exact format matters)."""
        return json.dumps(
            {"matrix": [list(r) for r in self.matrix], "ops": list(self.ops)}, separators=(",", ":")
        )


def _brief(text: str, limit: int = 400) -> str:
    """TEXT, cut to LIMIT characters for messages (a spec can be megabytes of brackets)."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _shown(data: Any) -> str:
    """A mapping given as a spec, as JSON for messages (brief; repr if it is no JSON)."""
    try:
        return _brief(json.dumps(data, default=str))
    except (ValueError, RecursionError):
        return f"a mapping with keys {list(data)[:4]}" if isinstance(data, Mapping) else _brief(repr(data))


def _as_int(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    raise ValueError(v)


def _check_shape(spec: CellSpec) -> None:
    """Checks that do not depend on pruning (the official ModelSpec constructor's, plus 0/1)."""
    n = len(spec.matrix)
    name = f"NB101 spec {_brief(spec.to_json())}"
    if n == 0 or any(len(row) != n for row in spec.matrix):
        lens = sorted({len(r) for r in spec.matrix})
        raise ArchError(f"{name}: matrix must be square, got {n} rows of length(s) {lens}")
    if len(spec.ops) != n:
        raise ArchError(f"{name}: ops has {len(spec.ops)} labels but the matrix is {n}x{n}")
    bad = [(i, j, v) for i, row in enumerate(spec.matrix) for j, v in enumerate(row) if v not in (0, 1)]
    if bad:
        i, j, v = bad[0]
        shown = _brief(str(v), 20)
        raise ArchError(f"{name}: matrix entries must be 0 or 1, got {shown} at row {i}, column {j}")
    below = [(i, j) for i in range(n) for j in range(i + 1) if spec.matrix[i][j]]
    if below:
        i, j = below[0]
        raise ArchError(
            f"{name}: matrix must be strictly upper-triangular (edges go from a lower to a "
            f"higher vertex), got an edge {i}->{j}"
        )
    if n < 2:
        raise ArchError(f"{name}: a cell needs at least the input and output vertices")
    if spec.ops[0] != INPUT:
        hint = did_you_mean(spec.ops[0], (INPUT,))
        raise ArchError(f"{name}: first op must be {INPUT!r}, got {spec.ops[0]!r}{hint}")
    if spec.ops[-1] != OUTPUT:
        hint = did_you_mean(spec.ops[-1], (OUTPUT,))
        raise ArchError(f"{name}: last op must be {OUTPUT!r}, got {spec.ops[-1]!r}{hint}")
    for v, op in enumerate(spec.ops[1:-1], start=1):
        if op not in OPS:
            raise ArchError(
                f"{name}: vertex {v} has unknown op {op!r}; ops are {', '.join(OPS)}"
                f"{did_you_mean(op, OPS + (INPUT, OUTPUT))}"
            )


def _kept_vertices(matrix: Matrix) -> list[int]:
    """Vertices reachable from the input and reaching the output, in order."""
    n = len(matrix)
    fwd = [False] * n
    fwd[0] = True
    for v in range(n):
        if fwd[v]:
            for w in range(v + 1, n):
                if matrix[v][w]:
                    fwd[w] = True
    bwd = [False] * n
    bwd[n - 1] = True
    for v in range(n - 1, -1, -1):
        if bwd[v]:
            for u in range(v):
                if matrix[u][v]:
                    bwd[u] = True
    return [v for v in range(n) if fwd[v] and bwd[v]]


def prune(spec: CellSpec) -> CellSpec:
    """Drop vertices not on an input->output path (as the benchmark does before lookup).

    Raises ArchError when the input does not reach the output: such a cell computes
    nothing and is not in the benchmark.
    """
    _check_shape(spec)
    keep = _kept_vertices(spec.matrix)
    if len(keep) < 2:
        raise ArchError(f"NB101 spec {spec.to_json()}: no path from input to output")
    if len(keep) == len(spec.ops):
        return spec
    matrix = tuple(tuple(spec.matrix[i][j] for j in keep) for i in keep)
    return CellSpec(matrix, tuple(spec.ops[i] for i in keep))


def validate(spec: CellSpec, max_vertices: int = MAX_VERTICES, max_edges: int = MAX_EDGES) -> CellSpec:
    """Check that `spec` is in the space; return its pruned form.

    Like the official API, the vertex and edge limits apply after pruning (a
    dangling vertex or edge costs nothing, since it is not computed).
    """
    pruned = prune(spec)
    name = f"NB101 spec {_brief(spec.to_json())}"
    if pruned.num_vertices > max_vertices:
        raise ArchError(f"{name}: {pruned.num_vertices} vertices after pruning, more than {max_vertices}")
    if pruned.num_edges > max_edges:
        raise ArchError(f"{name}: {pruned.num_edges} edges after pruning, more than {max_edges}")
    return pruned


def labels(ops: Sequence[str]) -> list[int]:
    """Integer labels of the official hash: input -1, output -2, ops their `OPS` index."""
    return [INPUT_LABEL] + [OPS.index(o) for o in ops[1:-1]] + [OUTPUT_LABEL]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def hash_graph(matrix: Sequence[Sequence[int]], labeling: Sequence[int]) -> str:
    """The benchmark's graph fingerprint of a (pruned) matrix and integer labels.

    Each vertex starts from the MD5 of the text of its (out-degree, in-degree, label)
    tuple; then, as many rounds as there are vertices, a vertex's hash becomes the
    MD5 of its sorted in-neighbour hashes, '|', its sorted out-neighbour hashes, '|',
    its own hash; the fingerprint is the MD5 of the text of the sorted list of
    hashes. The texts mimic Python's tuple/list reprs because that is what the
    official generator hashed.
    """
    n = len(labeling)
    ins = [[u for u in range(n) if matrix[u][v]] for v in range(n)]
    outs = [[w for w in range(n) if matrix[v][w]] for v in range(n)]
    h = [_md5(f"({len(outs[v])}, {len(ins[v])}, {labeling[v]})") for v in range(n)]
    for _ in range(n):
        h = [
            _md5(
                "".join(sorted(h[u] for u in ins[v]))
                + "|"
                + "".join(sorted(h[w] for w in outs[v]))
                + "|"
                + h[v]
            )
            for v in range(n)
        ]
    return _md5("[" + ", ".join(f"'{x}'" for x in sorted(h)) + "]")


def spec_hash(spec: CellSpec) -> str:
    """Isomorphism-invariant id of a cell, equal to the official tfrecord's module hash."""
    pruned = validate(spec)
    return hash_graph(pruned.matrix, labels(pruned.ops))
