"""DARTS genotypes: parse, format, validate and the canonical (unique-cell) id.

A genotype has a normal and a reduction cell. Each cell has 2 input states
(0, 1 = outputs of the previous two cells) and `NUM_NODES` = 4 intermediate
nodes (states 2..5). Node i (0-based) sums two (op, input) pairs whose inputs
are states 0..i+1; the cell's output concatenates the states in its concat list
(all intermediate nodes, [2, 3, 4, 5], in DARTS and NDS).

Accepted notations (`parse_genotype`):
- DARTS: ``Genotype(normal=[('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5],
  reduce=[...], reduce_concat=range(2, 6))`` (keywords or positional fields);
- NDS JSON: ``{"normal": [["sep_conv_3x3", 1], ...], "normal_concat": [2, 3, 4, 5],
  "reduce": [...], "reduce_concat": [...]}`` (as a string or a mapping).

Canonical id (`canonical_id`): two encodings get the same id exactly when they
build the same network, up to these two identities:
- a node's two pairs may be swapped (their sum does not depend on the order);
- a ``none`` edge outputs zeros whatever its input, so its input index is dropped.
Node-level zero propagation (a node fed only by ``none`` edges) is *not*
collapsed: ops applied to that zero state are not exactly zero once BN has an
affine bias, so such cells are distinct networks. The concat list is part of
the id (it changes the cell's output width); it is stored sorted, since concat
order only permutes channels.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wsnas.core.errors import ArchError, did_you_mean

OPS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
NUM_NODES = 4
"""Intermediate nodes per cell."""
PAIRS_PER_NODE = 2
NUM_PAIRS = NUM_NODES * PAIRS_PER_NODE
CELLS: tuple[str, ...] = ("normal", "reduce")
FULL_CONCAT: tuple[int, ...] = tuple(range(2, 2 + NUM_NODES))
FIELDS: tuple[str, ...] = ("normal", "normal_concat", "reduce", "reduce_concat")

Pair = tuple[str, int]


@dataclass(frozen=True)
class Genotype:
    """A DARTS genotype; field names and layout as DARTS's namedtuple, but hashable tuples."""

    normal: tuple[Pair, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Pair, ...]
    reduce_concat: tuple[int, ...]

    def cell(self, kind: str) -> tuple[tuple[Pair, ...], tuple[int, ...]]:
        """(pairs, concat) of the 'normal' or 'reduce' cell."""
        if kind == "normal":
            return self.normal, self.normal_concat
        if kind == "reduce":
            return self.reduce, self.reduce_concat
        raise ArchError(f"DARTS cell kind {kind!r}: expected 'normal' or 'reduce'")

    def to_json(self) -> dict[str, Any]:
        """The NDS JSON dict form (lists, not tuples)."""
        return {
            "normal": [[op, i] for op, i in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [[op, i] for op, i in self.reduce],
            "reduce_concat": list(self.reduce_concat),
        }

    def __str__(self) -> str:
        return format_genotype(self)


# -- validation -------------------------------------------------------------------


def _where(text: Any) -> str:
    s = text if isinstance(text, str) else repr(text)
    return f"DARTS genotype {s if len(s) <= 80 else s[:77] + '...'!r}"


def _check_pairs(pairs: Any, kind: str, where: str) -> tuple[Pair, ...]:
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise ArchError(f"{where}: {kind} must be a list of {NUM_PAIRS} (op, input) pairs, got {pairs!r}")
    if len(pairs) != NUM_PAIRS:
        raise ArchError(
            f"{where}: {kind} cell has {len(pairs)} (op, input) pairs, expected {NUM_PAIRS} "
            f"({NUM_NODES} nodes x {PAIRS_PER_NODE})"
        )
    out: list[Pair] = []
    for k, pair in enumerate(pairs):
        node = k // PAIRS_PER_NODE
        at = f"{kind} cell pair {k} (node {node})"
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ArchError(f"{where}: {at} must be an (op, input) pair, got {pair!r}")
        op, inp = pair
        if not isinstance(op, str) or op not in OPS:
            raise ArchError(
                f"{where}: {at} has unknown op {op!r}; ops are {', '.join(OPS)}{did_you_mean(str(op), OPS)}"
            )
        if isinstance(inp, bool) or not isinstance(inp, int):
            raise ArchError(f"{where}: {at} input {inp!r} is not an integer")
        if not 0 <= inp < node + 2:
            raise ArchError(
                f"{where}: {at} input {inp} out of range; node {node} takes inputs 0..{node + 1} "
                f"(0, 1 = previous cells, 2.. = earlier nodes)"
            )
        out.append((op, int(inp)))
    return tuple(out)


def _check_concat(concat: Any, kind: str, where: str) -> tuple[int, ...]:
    if isinstance(concat, range):
        concat = list(concat)
    if isinstance(concat, (str, bytes)) or not isinstance(concat, Sequence) or not concat:
        raise ArchError(f"{where}: {kind}_concat must be a non-empty list of node states, got {concat!r}")
    lo, hi = FULL_CONCAT[0], FULL_CONCAT[-1]
    for s in concat:
        if isinstance(s, bool) or not isinstance(s, int) or not lo <= s <= hi:
            raise ArchError(
                f"{where}: {kind}_concat entry {s!r} is not an intermediate node state ({lo}..{hi})"
            )
    if len(set(concat)) != len(concat):
        raise ArchError(f"{where}: {kind}_concat {list(concat)} repeats a state")
    return tuple(sorted(int(s) for s in concat))


def make_genotype(fields: Mapping[str, Any], where: str = "DARTS genotype") -> Genotype:
    """Validate the four fields (any sequences) into a `Genotype`; errors name the field and pair."""
    missing = [f for f in FIELDS if f not in fields]
    if missing:
        raise ArchError(f"{where}: missing {', '.join(missing)} (need {', '.join(FIELDS)})")
    extra = [str(k) for k in fields if k not in FIELDS]
    if extra:
        raise ArchError(
            f"{where}: unknown field {extra[0]!r}; fields are {', '.join(FIELDS)}"
            f"{did_you_mean(extra[0], FIELDS)}"
        )
    return Genotype(
        normal=_check_pairs(fields["normal"], "normal", where),
        normal_concat=_check_concat(fields["normal_concat"], "normal", where),
        reduce=_check_pairs(fields["reduce"], "reduce", where),
        reduce_concat=_check_concat(fields["reduce_concat"], "reduce", where),
    )


def check_genotype(g: Genotype) -> Genotype:
    """Re-validate a `Genotype` built by hand; returns it normalised (tuples, sorted concat)."""
    if not isinstance(g, Genotype):
        raise ArchError(f"expected a DARTS Genotype, got {type(g).__name__}")
    return make_genotype({f: getattr(g, f) for f in FIELDS}, _where(g))


# -- parsing ----------------------------------------------------------------------


def _literal(node: ast.expr, field: str, where: str) -> Any:
    """A literal, or `range(a, b)` (DARTS writes concat lists that way)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        try:
            args = [ast.literal_eval(a) for a in node.args]
            if node.keywords or not 1 <= len(args) <= 3:
                raise ValueError
            return list(range(*args))
        except (ValueError, TypeError):
            raise ArchError(f"{where}: {field} has a bad range(...) call") from None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        raise ArchError(f"{where}: {field} is not a literal list ({ast.unparse(node)[:60]})") from None


def _parse_darts(s: str, where: str) -> dict[str, Any]:
    try:
        tree = ast.parse(s, mode="eval").body
    except SyntaxError as e:
        raise ArchError(f"{where}: not a Genotype(...) expression nor JSON ({e.msg})") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, (ast.Name, ast.Attribute))):
        raise ArchError(
            f"{where}: expected Genotype(normal=..., normal_concat=..., reduce=..., reduce_concat=...)"
        )
    name = tree.func.id if isinstance(tree.func, ast.Name) else tree.func.attr
    if name != "Genotype":
        raise ArchError(f"{where}: expected a Genotype(...) call, found {name}(...)")
    if len(tree.args) > len(FIELDS):
        raise ArchError(f"{where}: Genotype takes {len(FIELDS)} fields, got {len(tree.args)} positional")
    fields: dict[str, Any] = {}
    for field, arg in zip(FIELDS, tree.args, strict=False):
        fields[field] = _literal(arg, field, where)
    for kw in tree.keywords:
        if kw.arg is None:
            raise ArchError(f"{where}: **kwargs are not allowed")
        if kw.arg in fields:
            raise ArchError(f"{where}: field {kw.arg} given twice")
        fields[kw.arg] = _literal(kw.value, kw.arg, where)
    return fields


def parse_genotype(text: str | Mapping[str, Any] | Genotype) -> Genotype:
    """DARTS notation, NDS JSON (string or dict) or a Genotype -> validated Genotype."""
    if isinstance(text, Genotype):
        return check_genotype(text)
    if isinstance(text, Mapping):
        return make_genotype(text, _where(text))
    if not isinstance(text, str):
        raise ArchError(f"DARTS genotype: expected a string or mapping, got {type(text).__name__}")
    s = text.strip()
    where = _where(s)
    if not s:
        raise ArchError("DARTS genotype: empty string")
    if s.startswith("{"):
        try:
            obj = json.loads(s)
        except (ValueError, RecursionError):
            try:
                obj = ast.literal_eval(s)
            except (ValueError, SyntaxError, RecursionError, MemoryError):
                raise ArchError(f"{where}: starts with '{{' but is neither JSON nor a Python dict") from None
        if not isinstance(obj, Mapping):
            raise ArchError(f"{where}: expected a JSON object with {', '.join(FIELDS)}")
        return make_genotype(obj, where)
    return make_genotype(_parse_darts(s, where), where)


# -- formatting and canonical id --------------------------------------------------


def _pairs_str(pairs: Sequence[Pair]) -> str:
    return "[" + ", ".join(f"('{op}', {i})" for op, i in pairs) + "]"


def format_genotype(g: Genotype) -> str:
    """Canonical formatting of the DARTS notation (concat as lists, one space after commas)."""
    g = check_genotype(g)
    return (
        f"Genotype(normal={_pairs_str(g.normal)}, normal_concat={list(g.normal_concat)}, "
        f"reduce={_pairs_str(g.reduce)}, reduce_concat={list(g.reduce_concat)})"
    )


def canonical_pair(op: str, inp: int) -> str:
    """'op~input', or 'none' (a none edge's input does not matter)."""
    return "none" if op == "none" else f"{op}~{inp}"


def canonical_cell(pairs: Sequence[Pair], concat: Sequence[int]) -> str:
    """Nodes '|'-separated, each its two canonical pairs sorted and '+'-joined; then '/concat'."""
    nodes = []
    for n in range(NUM_NODES):
        a, b = pairs[2 * n : 2 * n + 2]
        nodes.append("+".join(sorted((canonical_pair(*a), canonical_pair(*b)))))
    return "|".join(nodes) + "/" + "".join(str(s) for s in sorted(concat))


def canonical_id(g: Genotype | str) -> str:
    """Unique-cell id: 'normal:<cell>;reduce:<cell>' (see the module doc for the rule)."""
    g = parse_genotype(g)
    normal = canonical_cell(g.normal, g.normal_concat)
    return f"normal:{normal};reduce:{canonical_cell(g.reduce, g.reduce_concat)}"
