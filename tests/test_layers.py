"""The package's one-way layering (docs/architecture.md), checked on the source.

A module imports only from its own layer or lower ones, at module level; imports
inside functions are allowed only where they are the point (the lazy CLI verbs,
and the sweep worker, which must set thread variables before torch is imported).
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
    ("wsnas.trainers",),
    ("wsnas.sweep", "wsnas.report", "wsnas.presets", "wsnas.search", "wsnas.estimators"),
    ("wsnas.cli", "wsnas.__main__"),
]
"""Lowest first: core -> config -> nn -> groundtruth/data -> spaces -> engine -> trainers -> studies -> CLI.

Each layer is one folder of src/wsnas, so the tree shows the layers."""

LAZY_OK = ("wsnas.cli.commands", "wsnas.cli.main", "wsnas.sweep.worker")
"""Where imports inside functions are intended (see the module docstring)."""


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

    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found = [n for n in names(node) if n == "wsnas" or n.startswith("wsnas.")]
            if node in tree.body:
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
    if not module.startswith(LAZY_OK):
        assert not nested, f"{module} imports inside functions (hidden cycles?): {nested}"
