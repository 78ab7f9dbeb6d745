"""`wsnas space info|canonical SPACE`: facts about a search space."""

from __future__ import annotations

import argparse

from wsnas.cli.commands._io import print_record, read_lines
from wsnas.core.errors import ArchError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("space", help="search-space facts: size, unique cells, canonical ids")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    info = verbs.add_parser("info", help="num_archs, num_unique and the space's ops")
    info.add_argument("space")
    info.add_argument("--json", action="store_true", help="one JSON object")
    info.set_defaults(func=_info)

    canon = verbs.add_parser("canonical", help="canonical id of each arch string, one per line")
    canon.add_argument("space")
    canon.add_argument("--file", help="arch strings, one per line (default: stdin)")
    canon.set_defaults(func=_canonical)


def _info(args: argparse.Namespace) -> None:
    from wsnas.spaces import get_space

    print_record(get_space(args.space).info(), args.json)


def _canonical(args: argparse.Namespace) -> None:
    from wsnas.spaces import get_space

    space = get_space(args.space)
    where = args.file or "stdin"
    for number, line in read_lines(args.file):
        try:
            arch = space.parse(line)
        except ArchError as e:
            raise ArchError(f"{where} line {number}: {e}") from None
        print(space.canonical(arch))
