"""`wsnas train CONFIG [key=value ...] | --resume RUN_DIR`: the main job."""

from __future__ import annotations

import argparse
import json

from wsnas.errors import WsnasError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a super-net and score it against the ground truth")
    p.add_argument("config", nargs="?", help="YAML config (e.g. configs/nb201.yaml)")
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from wsnas.config import load_config
    from wsnas.rundir import RunDir
    from wsnas.spaces.check import check_config
    from wsnas.train import train

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config:
        config, overrides = None, [config, *overrides]
    if args.resume:
        if config is not None:
            raise WsnasError("--resume takes the run dir's own config; give only key=value overrides")
        cfg = RunDir(args.resume).resume_config(overrides)
        summary = train(cfg, resume_dir=args.resume)
    else:
        summary = train(check_config(load_config(config, overrides), config or "overrides"))
    from wsnas.distributed import env_from_environ

    if env_from_environ().is_main:  # one line per job under torchrun, not one per rank
        print(json.dumps({"run_dir": summary["run_dir"], "status": summary["status"], **summary["final"]}))
    return 0
