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
        stream = sys.stdin
    else:
        try:
            stream = Path(file).open()
        except OSError as e:
            raise WsnasError(f"cannot read {file}: {e.strerror}") from None
    with stream if stream is not sys.stdin else _nullctx(stream):
        for number, line in enumerate(stream, start=1):
            line = line.strip()
            if line:
                yield number, line


class _nullctx:
    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __enter__(self) -> Any:
        return self.obj

    def __exit__(self, *exc: object) -> None:
        return None


def print_record(record: dict[str, Any], as_json: bool) -> None:
    """One JSON object, or aligned `key: value` lines."""
    if as_json:
        print(json.dumps(record))
        return
    width = max(len(k) for k in record)
    for k, v in record.items():
        print(f"{k:<{width}}  {v}")
