"""Small helpers shared by the CLI verbs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wsnas.errors import WsnasError


def read_lines(file: str | None) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) for non-empty lines of FILE, or of stdin for None/'-'."""
    if file in (None, "-"):
        yield from _numbered(sys.stdin)
        return
    try:
        with Path(file).open() as stream:
            yield from _numbered(stream)
    except OSError as e:
        raise WsnasError(f"cannot read {file}: {e.strerror}") from None


def _numbered(stream: Any) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(stream, start=1):
        line = line.strip()
        if line:
            yield number, line


def print_record(record: dict[str, Any], as_json: bool) -> None:
    """One JSON object, or aligned `key: value` lines."""
    if as_json:
        print(json.dumps(record))
        return
    width = max(len(k) for k in record)
    for k, v in record.items():
        print(f"{k:<{width}}  {v}")
