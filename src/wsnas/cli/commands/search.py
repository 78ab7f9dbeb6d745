"""`wsnas search RUN_DIR (--algo ALGO | --preset NAME) --budget N [--seed S] [key=value ...]`: search a
trained super-net."""

from __future__ import annotations

import argparse
import json
import sys

ALGOS = ("random", "evolution", "local", "learnt")
PRESETS = ("nb201-rea", "naszilla-ls")
"""`wsnas.search.algorithms.ALGORITHMS` and `PRESETS` names, literal so `--help` needs no numpy
(tests/cli/test_names_and_choices.py checks they are the registry's)."""
PRESET_HELP = (
    "a benchmark's own search baseline with its defaults: nb201-rea: NAS-Bench-201's regularised "
    "evolution (AutoDL-Projects exps/NAS-Bench-201-algos/R_EA.py; its time budget is an evaluation "
    "budget here): population 10 random architectures, tournament of 3 drawn with replacement, "
    "mutation: a node, one of its incoming edges, a different op; oldest dies; naszilla-ls: White et "
    "al.'s local search (naszilla, with stop_at_minimum): start from the best of 10 random "
    "architectures, first-improvement over the neighbours not asked before, in random order; at a "
    "local optimum 10 new random ones"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "search",
        help="search a trained super-net (random, evolution, local) and score the result against the GT",
        description="Load RUN_DIR's last checkpoint and search its space with super-net accuracy on a "
        "held-out validation split (data.valid_size) as fitness; writes RUN_DIR/search/ALGO-sS-bN/ "
        "(trajectory.csv, summary.json: found arch, its GT and rank, regret, P>R). Resumable: run the "
        "same command again after a kill. key=value may set data.valid_size (only if the run held "
        "none out), eval.batch_size, runtime.*, data.root, bench.source/cache_dir.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a super-net run dir (finished or checkpointed)")
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides (see above)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--algo",
        choices=ALGOS,
        help="wsnas's own algorithms, with defaults of its own (no benchmark's code): random (the "
        "benchmark in a seeded order); evolution (aging evolution: population 20, 5 drawn without "
        "replacement, the space's uniform-neighbour mutation); local (first improvement from one random "
        "start, restart at a local optimum); learnt (a run trained with a search algorithm: benchmark "
        "architectures sampled from its learnt distribution without replacement)",
    )
    which.add_argument(
        "--preset",
        choices=PRESETS,
        help=PRESET_HELP,
    )
    p.add_argument("--budget", required=True, type=int, help="super-net evaluations")
    p.add_argument("--seed", type=int, default=0, help="the search's seed (default 0)")
    p.add_argument("--population", type=int, default=None, help="evolution: population size (default 20)")
    p.add_argument(
        "--sample-size", type=int, default=None, help="evolution: members drawn per cycle (default 5)"
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON line (for scripts)")
    p.set_defaults(func=_search)


def _search(args: argparse.Namespace) -> int:
    from wsnas.search import run_search
    from wsnas.search.algorithms import SearchOptions

    defaults = SearchOptions()
    opts = SearchOptions(
        population=defaults.population if args.population is None else args.population,
        sample_size=defaults.sample_size if args.sample_size is None else args.sample_size,
    )
    res = run_search(
        args.run_dir,
        args.preset or args.algo,
        args.budget,
        seed=args.seed,
        overrides=list(args.overrides),
        opts=opts,
        log=lambda line: print(line, file=sys.stderr),
    )
    s = res.summary
    if not args.json:
        from wsnas.cli.views import search_lines

        print("\n".join(search_lines(s, res.path)))
        return 0
    print(
        json.dumps(
            {
                "search_dir": str(res.path),
                "fitness_split": (
                    f"valid ({s['fitness']['valid_images']} images, seed {s['fitness']['valid_seed']})"
                ),
                "evals": s["evals"],
                "stopped": s["stopped"],
                "algorithm": s["algorithm"],
                "found": s["found"]["arch"],
                "found_gt_acc": s["found"]["gt_acc"],
                "found_gt_rank": s["found"]["gt_rank"],
                "regret": s["found"]["regret"],
                "pbr": s["found"]["pbr"],
                "restricted_to_benchmark": s["moves"]["restricted_to_benchmark"],
                "resumed_rows": res.resumed_rows,
            }
        )
    )
    return 0
