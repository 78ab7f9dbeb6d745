"""Ctrl-C and SIGTERM as a clean stop: one exception where the process is, nothing half-written.

A run writes every file atomically and checkpoints each finished epoch, so stopping at
any point is safe; what a person needs is that it stops quickly, says where it stopped
and how to continue, and prints no traceback. `handle_signals` turns the first SIGINT
or SIGTERM into `Interrupted` (a KeyboardInterrupt, so `except Exception` never eats
it); a second one exits at once (interactive commands) or is ignored (pool workers,
which the driver stops).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Literal

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_requested: list[int] = []
"""Signals received while `handle_signals` was active (the first one raised `Interrupted`)."""


class Interrupted(KeyboardInterrupt):
    """A SIGINT or SIGTERM stopped the command; `where` and `resume` say what a person can do."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.where: str | None = None
        """E.g. "at epoch 5/10 (its checkpoint is intact)", filled in by the code that knows."""
        self.resume: str | None = None
        """The command that continues the work, e.g. "wsnas train --resume DIR"."""

    def starting(self, run_dir: object, resume: str, written: bool) -> Interrupted:
        """Fill in `where`/`resume` for a stop before training began (if the loop has not)."""
        if self.where is None:
            self.where = "while starting" + ("" if written else " (nothing written)")
            if written:
                self.resume = f"{resume} {run_dir}"
        return self

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        where = self.where or ""
        text = "interrupted" + (where if where.startswith(";") or not where else f" {where}")
        return text + (f"; resume with: {self.resume}" if self.resume else "")


def requested() -> bool:
    """Whether a stop was asked for (the driver forwards it to its workers)."""
    return bool(_requested)


@contextmanager
def handle_signals(second: Literal["exit", "ignore"] = "exit") -> Iterator[None]:
    """Inside the block, the first SIGINT/SIGTERM raises `Interrupted`; the previous handlers
    come back after it. Outside the main thread (where Python cannot catch signals) a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()
    previous = {s: signal.signal(s, _handler(second)) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def install(second: Literal["exit", "ignore"] = "ignore") -> None:
    """`handle_signals` for the rest of the process (a pool worker's initializer)."""
    _requested.clear()
    for s in SIGNALS:
        signal.signal(s, _handler(second))


def _handler(second: Literal["exit", "ignore"]) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        _requested.append(signum)
        if len(_requested) == 1:
            raise Interrupted(signum)
        if second == "exit":
            with contextlib.suppress(OSError, ValueError):  # a closed stderr must not stop the exit
                os.write(sys.stderr.fileno(), b"\nwsnas: interrupted again: exiting now\n")
            os._exit(128 + signum)

    return handle
