"""The docs that code and README point at exist: `docs/PAGE.md#anchor` citations in the source,
tests and benchmarks name a page and a heading that are there, and the README's set-up commands
are the ones CI runs. (Links between the docs pages themselves are checked by `mkdocs build
--strict`; a comment in the code is not.)"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITATION = re.compile(r"docs/([\w-]+\.md)(?:#([\w-]+))?")


def slug(heading: str) -> str:
    """The anchor Python-Markdown's toc extension gives a heading (its default slugify)."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (m := re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)):
            base, k = slug(m.group(1)), 1
            name = base
            while name in found:  # repeated headings get _1, _2, ... as toc numbers them
                name, k = f"{base}_{k}", k + 1
            found.add(name)
    return found


def citations() -> list[tuple[str, str, str | None]]:
    out = []
    for folder in ("src", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in {".py", ".yaml", ".md"} or path == Path(__file__).resolve():
                continue
            for m in CITATION.finditer(path.read_text()):
                out.append((str(path.relative_to(ROOT)), m.group(1), m.group(2)))
    return out


def test_slug_matches_the_toc_rule():
    assert slug("Sparse Kendall-Tau (s-KdT)") == "sparse-kendall-tau-s-kdt"
    assert slug("P>R") == "pr"
    assert slug("Stand-alone protocol P_proxy") == "stand-alone-protocol-p_proxy"


def test_cited_docs_pages_and_anchors_exist():
    cites = citations()
    assert any(anchor for _, _, anchor in cites), "no docs/PAGE.md#anchor citation found: the scan is broken"
    bad = []
    for where, page, anchor in cites:
        path = ROOT / "docs" / page
        if not path.exists():
            bad.append(f"{where}: docs/{page} does not exist")
        elif anchor and anchor not in anchors(path):
            bad.append(f"{where}: docs/{page} has no heading with anchor #{anchor}")
    assert not bad, "\n".join(bad)


def test_readme_setup_commands_are_the_ones_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    block = ci.split("# --- README set-up commands (keep identical to README.md) ---\n")[1]
    commands = block.split("\n# ---")[0].strip().splitlines()
    assert commands == ['pip install -e ".[test]"', "python -m pytest"]
    readme = (ROOT / "README.md").read_text()
    assert "```bash\n" + "\n".join(commands) + "\n```" in readme


def test_docs_hook_finds_undocumented_public_names(tmp_path, monkeypatch):
    """The mkdocs hook (tools/docs_public_api.py) that fails a strict build on an undocumented
    public name: it sees functions, classes and their own methods, and skips plain data."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_public_api", ROOT / "tools" / "docs_public_api.py")
    assert spec and spec.loader
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    pkg = tmp_path / "fakepkg_docs"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        '"""A package."""\n__all__ = ["VERSION", "good", "bad", "Thing"]\nVERSION = "1"\n'
        'def good():\n    """Documented."""\n'
        "def bad():\n    pass\n"
        'class Thing:\n    """Documented."""\n'
        '    def ok(self):\n        """Documented."""\n'
        "    def missing(self):\n        pass\n"
        "    def _private(self):\n        pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert hook.undocumented("fakepkg_docs") == ["fakepkg_docs.bad", "fakepkg_docs.Thing.missing"]
    assert hook.undocumented("wsnas") == []
