"""`wsnas config show [CONFIG] [key=value ...]`: print the resolved, validated config;
`wsnas config path NAME`: where a shipped config is installed (works from any folder)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="resolve and validate a run config")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    show = verbs.add_parser("show", help="print the resolved config as YAML (or its hash)")
    show.add_argument(
        "config", nargs="?", help="YAML file or a shipped config's name (default: built-in defaults)"
    )
    show.add_argument("overrides", nargs="*", help="key.sub=value overrides")
    show.add_argument("--hash", action="store_true", help="print only the config hash")
    show.set_defaults(func=_show)
    path = verbs.add_parser("path", help="print the installed path of a shipped config (wsnas list configs)")
    path.add_argument("name", help="a shipped config's name, e.g. nb201-quick, nb201, demo")
    path.set_defaults(func=_path)


def _show(args: argparse.Namespace) -> None:
    import yaml

    from wsnas.config import load_config
    from wsnas.spaces.check import check_config

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config:
        config, overrides = None, [config, *overrides]
    cfg = check_config(load_config(config, overrides), config or "overrides")
    print(cfg.hash() if args.hash else yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="\n")


def _path(args: argparse.Namespace) -> None:
    from wsnas.presets import shipped_path

    print(shipped_path(args.name))
