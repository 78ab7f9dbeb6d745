"""Small helpers shared by the CLI verbs."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from wsnas.core.errors import WsnasError


def read_lines(file: str | None) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) for non-empty lines of FILE, or of stdin for None/'-' (UTF-8)."""
    if file in (None, "-"):
        yield from _numbered(sys.stdin, "stdin")
        return
    try:
        data = Path(file).read_bytes()
    except OSError as e:
        raise WsnasError(f"cannot read {file}: {e.strerror}") from None
    try:  # whole file first, so a bad byte stops before any line is answered
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise WsnasError(f"{file} line {line}: not UTF-8 text (byte {data[e.start]:#04x})") from None
    yield from _numbered(io.StringIO(text, newline=None), file)  # universal newlines, as open()


def _numbered(lines: Iterable[str], where: str) -> Iterator[tuple[int, str]]:
    number = 0
    try:
        for number, line in enumerate(lines, start=1):
            line = line.strip()
            if line:
                yield number, line
    except UnicodeDecodeError:
        raise WsnasError(f"{where} after line {number}: not UTF-8 text") from None


def print_record(record: dict[str, Any], as_json: bool) -> None:
    """One JSON object, or aligned `key: value` lines."""
    if as_json:
        print(json.dumps(record))
        return
    width = max(len(k) for k in record)
    for k, v in record.items():
        print(f"{k:<{width}}  {v}")


def stoppable(work: Any, argv: list[str]) -> Any:
    """WORK(); a Ctrl-C/SIGTERM says that the runs in flight were stopped and how to go on."""
    import shlex

    from wsnas.core.interrupt import Interrupted

    try:
        return work()
    except Interrupted as e:
        e.where = "; the runs in flight stopped at their last checkpoints, finished runs are kept"
        e.resume = "wsnas " + shlex.join(argv) + " (the same command: it skips finished runs)"
        raise
