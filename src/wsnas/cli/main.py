"""`wsnas` command line: one sub-command module per verb in wsnas.cli.commands."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from typing import Any

from wsnas.cli.choices import HintingParser
from wsnas.core.errors import WsnasError
from wsnas.core.interrupt import Interrupted, handle_signals
from wsnas.core.threads import apply_thread_policy
from wsnas.core.version import VERSION as __version__

COMMANDS = (
    "config",
    "space",
    "bench",
    "arch",
    "train",
    "show",
    "standalone",
    "sweep",
    "report",
    "demo",
    "listing",
    "search",
    "estimate",
)
"""Modules of wsnas.cli.commands; each has register(subparsers) and sets args.func."""


def build_parser() -> argparse.ArgumentParser:
    parser = HintingParser(prog="wsnas", description="Weight-sharing NAS super-net training and evaluation.")
    parser.add_argument("--version", action="version", version=f"wsnas {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"wsnas.cli.commands.{name}").register(sub)
    return parser


def _show_warning(message: Any, category: type[Warning], *_: Any, **__: Any) -> None:
    """Warnings as one `wsnas: warning: ...` line (no source line, no file of wsnas)."""
    print(f"wsnas: warning: {message}", file=sys.stderr)


def _os_error(e: OSError) -> str:
    """'PATH: reason' for an OSError (a read-only or non-folder out_dir or cache dir, a full disk)."""
    where = " -> ".join(os.fsdecode(p) for p in (e.filename, e.filename2) if p is not None)
    reason = e.strerror or str(e)
    return f"{where}: {reason}" if where else reason


def _verb_parser(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[argparse.ArgumentParser, int]:
    """The innermost sub-command parser ARGV names, and where its own arguments start."""
    i = 0
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        while i < len(argv) and argv[i].startswith("-"):
            i += 1
        if not subs or i >= len(argv) or argv[i] not in subs[0].choices:
            return parser, i
        parser, i = subs[0].choices[argv[i]], i + 1


def _intermixed(
    parser: argparse.ArgumentParser, argv: list[str], first: argparse.Namespace
) -> argparse.Namespace | None:
    """ARGV parsed with options and positionals in any order (`arch info nb201 --json ARCH`):
    the verb's own arguments again, on top of FIRST (which names the verb); None where the
    verb's parser cannot take them that way."""
    verb, start = _verb_parser(parser, argv)
    if verb is parser:
        return None
    try:
        rest = verb.parse_intermixed_args(argv[start:])
    except TypeError:  # argparse refuses intermixing for some parsers
        return None
    return argparse.Namespace(**{**vars(first), **vars(rest)})


def main(argv: list[str] | None = None) -> int:
    apply_thread_policy()  # before any verb imports torch: OpenMP threads sleep when the machine is busy
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # key=value overrides after an option (`... --config F a.b=1`) still are overrides
        if isinstance(getattr(args, "overrides", None), list) and all(
            "=" in a and not a.startswith("-") for a in extra
        ):
            args.overrides = [*args.overrides, *extra]
        else:  # a positional after an option: parse again with both in any order
            again = _intermixed(parser, argv, args)
            args = again if again is not None else parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.argv = argv  # for commands that record how they were called
    try:
        with warnings.catch_warnings(), handle_signals():
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except Interrupted as e:  # SIGINT/SIGTERM: where it stopped and how to go on, no trace
        print(f"{chr(10) if sys.stderr.isatty() else ''}wsnas: {e.message()}", file=sys.stderr)
        return e.exit_code
    except WsnasError as e:
        print(f"wsnas: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as e:  # last resort: the file or folder the OS refused, on one line
        print(f"wsnas: error: {_os_error(e)}", file=sys.stderr)
        return 2
    except RecursionError:  # last resort: an input nested deeper than its reader checks
        print(f"wsnas: error: {args.command}: input nested too deeply", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
