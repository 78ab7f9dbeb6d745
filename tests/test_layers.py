"""The package's one-way layering (docs/architecture.md), checked on the source.

A module imports only from its own layer or lower ones, at module level; imports
inside functions are allowed only where they are the point (the lazy CLI verbs,
and the
package's own `wsnas/__init__.py`, whose PEP 562 `__getattr__` loads the public API
on first use so `import wsnas` stays light), and, going down the layers only, where a
module defers torch so that commands that need no tensors start fast (`TORCH_DEFERRED`).
Imports under `if TYPE_CHECKING:` are type-only (but for the package `__init__`'s).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "wsnas"

LAYERS: list[tuple[str, ...]] = [
    ("wsnas", "wsnas.core"),
    ("wsnas.config",),
    ("wsnas.nn",),
    ("wsnas.groundtruth", "wsnas.data"),
    ("wsnas.spaces",),
    ("wsnas.engine",),
    ("wsnas.algorithms",),
    ("wsnas.trainers",),
    ("wsnas.execution",),
    ("wsnas.sweep", "wsnas.report", "wsnas.presets", "wsnas.search", "wsnas.estimators"),
    ("wsnas.cli", "wsnas.__main__", "wsnas.api"),
]
"""Lowest first: core -> config -> nn -> groundtruth/data -> spaces -> engine -> trainers -> execution
(where runs execute: pools, Ray, Slurm, the worker; below both studies) -> studies -> CLI and the
Python API (`wsnas.api`).

Each layer is one folder of src/wsnas, so the tree shows the layers."""

LAZY_OK = ("wsnas.cli.commands", "wsnas.cli.main")
"""Where imports inside functions are intended (see the module docstring)."""
LAZY_EXACT = ("wsnas", "wsnas.search")
"""Modules (exactly these, not their sub-modules) whose imports may all be deferred: package
`__init__`s that re-export lazily (their `if TYPE_CHECKING:` imports and `__getattr__`): the
public API, and `wsnas.search`, whose run machinery needs torch but whose algorithm names do not."""

TORCH_DEFERRED = (
    "wsnas.data",
    "wsnas.data.datasets",
    "wsnas.spaces.darts.space",
    "wsnas.spaces.mini.space",
    "wsnas.spaces.nb101.space",
    "wsnas.spaces.nb201.space",
    "wsnas.estimators.registry",
    "wsnas.estimators.proxies",
    "wsnas.execution.worker",
)
"""Modules a light command imports (the registries, the config check) that import their networks,
FLOPs counters and batch loader (torch) where those are used (tests/cli/test_startup.py)."""


def layer_of(module: str) -> int:
    best, depth = None, -1
    for i, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and name.count(".") > depth:
                best, depth = i, name.count(".")
    assert best is not None, f"{module} is in no layer: add it to LAYERS (and docs/architecture.md)"
    return best


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append((name, path))
    return out


def imports(path: Path, module: str) -> tuple[list[str], list[tuple[int, str]]]:
    """(module-level wsnas imports, (line, name) of wsnas imports inside functions)."""
    tree = ast.parse(path.read_text())
    top, nested = [], []
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]

    def names(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        assert isinstance(node, ast.ImportFrom)
        if node.level:  # relative import: resolve against the package
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            return [".".join([*parts, node.module or ""]).strip(".")]
        return [node.module or ""]

    type_only = {
        id(n)
        for node in tree.body
        if module not in LAZY_EXACT  # the package __init__'s re-exports are all deferred
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for n in node.body
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found = [n for n in names(node) if n == "wsnas" or n.startswith("wsnas.")]
            if node in tree.body or id(node) in type_only:
                top += found
            else:
                nested += [(node.lineno, n) for n in found]
    return top, nested


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_go_down_the_layers(module, path):
    top, nested = imports(path, module)
    mine = layer_of(module)
    up = [n for n in top if layer_of(n) > mine]
    assert not up, f"{module} (layer {mine}) imports higher layers: {up}"
    if module in TORCH_DEFERRED:
        up = [n for _, n in nested if layer_of(n) > mine]
        assert not up, f"{module} (layer {mine}) imports higher layers inside functions: {up}"
    elif not module.startswith(LAZY_OK) and module not in LAZY_EXACT:
        assert not nested, f"{module} imports inside functions (hidden cycles?): {nested}"


def test_no_import_cycles():
    """No two modules import each other, directly or round a loop, at module level or for types only
    (a type-only import that closes a loop is a design knot: `sweep.folder_lock` <-> `sweep.runner`
    was one). Imports inside functions are left to the layer rule above."""
    known = {m for m, _ in modules()}
    graph: dict[str, set[str]] = {}
    for module, path in modules():
        top, _ = imports(path, module)
        graph[module] = {n for n in top if n in known and n != module and not module.startswith(n + ".")}
    cycles, state = [], {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append([*stack[stack.index(n) :], n])
            elif n not in state:
                visit(n, [*stack, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_execution_imports_no_study():
    """The execution machinery runs tasks of any kind by name (`execution.tasks`): it imports no study,
    not even inside a function."""
    studies = ("wsnas.sweep", "wsnas.estimators", "wsnas.search", "wsnas.report", "wsnas.presets")
    for module, path in modules():
        if module.startswith("wsnas.execution"):
            top, nested = imports(path, module)
            bad = [n for n in [*top, *(n for _, n in nested)] if n.startswith(studies)]
            assert not bad, f"{module} imports studies: {bad}"


def test_no_module_imports_the_package_root():
    """`wsnas/__init__.py` re-exports the public API lazily; a module that imports it for a constant
    (the version was one: `core.version` holds it) ties itself to the whole API."""
    for module, path in modules():
        if module == "wsnas":
            continue
        top, nested = imports(path, module)
        assert "wsnas" not in [*top, *(n for _, n in nested)], f"{module} imports the package root"
