"""What the docs tell a new user in more than one place says the same thing there (issue 35)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE_TIME = "about 25 minutes for the whole suite on a 2-core machine"
"""The one measured figure for the test suite's time (README and CONTRIBUTING quote it)."""


def _docs() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_test_suite_time_is_one_figure():
    for name in ("README.md", "CONTRIBUTING.md"):
        text = " ".join((ROOT / name).read_text().split())
        assert SUITE_TIME in text, name
    for path in _docs():  # no other figure for the suite or its tiers
        text = " ".join(path.read_text().split())
        for m in re.finditer(r"(fast tier|test suite|whole suite)[^.]{0,80}?(\d+(-\d+)?) minutes", text):
            assert m.group(0).endswith("25 minutes"), f"{path.name}: {m.group(0)!r}"


def test_where_the_notebook_is_mentioned_it_says_how_to_run_it():
    places = [p for p in _docs() if "quickstart.ipynb" in p.read_text()]
    assert places, "the docs mention examples/quickstart.ipynb somewhere"
    for path in places:
        text = path.read_text()
        assert 'pip install -e ".[notebook]"' in text and "jupyter" in text.lower(), path.name
