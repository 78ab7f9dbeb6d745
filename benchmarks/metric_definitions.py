"""How far the remaining details of the authors' table scripts move the numbers, on a realistic pool.

The named metric definitions (`eval.metric_definition`, docs/metrics.md) cover the bin width,
the top-k and the seed average. Three details of the authors' scripts stay out of them; this
script measures each on the NASBench-201 ground truth (all 15,625 cells, CIFAR-10 test) with
simulated super-net accuracies (GT + a per-architecture bias shared by the seeds + per-seed
noise, rounded to 0.01 as on a 10k-image test set, scaled so the per-seed KdT is realistic):

- their Kendall-Tau construction: the GT bins of the pool sorted by GT, paired position by
  position with the GT bins of the pool sorted by super-net accuracy, vs wsnas's tau-b between
  the super-net accuracies and the GT bins;
- P>R's rank normalisation: their model id counts from the worst architecture, so their P>R is
  (1 - (r + 1) / r_max)^n where wsnas computes (1 - r / r_max)^n;
- the pool drawn with replacement (a repeated architecture counted once after the seed average)
  vs without.

Prints one JSON object: per detail, the mean and largest absolute difference over the trials.
    python benchmarks/metric_definitions.py --csv ../shared/data/nb201/nb201_accuracy_200ep.csv
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from scipy import stats

from wsnas.core.metrics import metric_definition, summarize


def their_sparse_tau(scores: np.ndarray, gt: np.ndarray, threshold: float) -> float:
    """The authors' construction, re-derived from its description (module doc): bins of GT in
    GT order vs bins of GT in super-net order, tau-b of the two sequences."""
    bins = np.floor(np.round(gt / threshold, 6))
    by_gt = bins[np.argsort(gt, kind="stable")]
    by_score = bins[np.argsort(scores, kind="stable")]
    return float(stats.kendalltau(by_gt, by_score).statistic)


def ours_sparse_tau(scores: np.ndarray, gt: np.ndarray, threshold: float) -> float:
    return float(stats.kendalltau(scores, np.floor(np.round(gt / threshold, 6))).statistic)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", default="../shared/data/nb201/nb201_accuracy_200ep.csv")
    p.add_argument("--pool", type=int, default=200)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--trials", type=int, default=200)
    p.add_argument(
        "--noise",
        type=float,
        default=0.5,
        help="sd of the shared bias and of each seed's noise, in units of the GT's normal scores "
        "(0.5: per-seed KdT about 0.6, near the paper's NB201 numbers)",
    )
    args = p.parse_args()

    rows = np.genfromtxt(Path(args.csv), delimiter=",", names=True, dtype=None, encoding="utf-8")
    gt_all = np.asarray(rows["cifar10_test"], dtype=np.float64)
    total = gt_all.size
    order = np.argsort(-gt_all, kind="stable")
    rank_all = np.empty(total, dtype=np.int64)
    rank_all[order] = np.arange(total)
    # normal scores of the GT ranks: the super-net's signal is the GT order (a Gaussian copula)
    z_all = -stats.norm.ppf((rank_all + 0.5) / total)

    d = metric_definition("authors", "nb201")
    rng = np.random.default_rng(0)
    keys = ("tau", "pbr", "repl_skdt", "repl_final", "repl_pbr", "kdt")
    out: dict[str, list[float]] = {k: [] for k in keys}
    dups = []
    both: dict[str, list[tuple[float, float]]] = {"skdt": [], "final_acc": [], "pbr": []}
    for _ in range(args.trials):
        bias = rng.normal(0, args.noise, total)  # what every seed's super-net gets wrong alike
        eps = rng.normal(0, args.noise, (args.seeds, total))  # what one seed gets wrong

        def pool_metrics(idx: np.ndarray, bias: np.ndarray = bias, eps: np.ndarray = eps) -> dict:
            uniq = np.unique(idx)  # the authors key their seed average by model id: a repeat is one arch
            seeds = [np.round(70 + 5 * (z_all[uniq] + bias[uniq] + e[uniq]), 2) for e in eps]
            out["kdt"].append(float(stats.kendalltau(seeds[0], gt_all[uniq]).statistic))
            avg = np.mean(seeds, axis=0)
            m = summarize(avg, gt_all[uniq], rank_all[uniq], total, d.threshold, d.k, definition=d.name)
            m["avg"], m["uniq"] = avg, uniq
            pp = metric_definition("paper", "nb201")
            per_seed = [
                summarize(x, gt_all[uniq], rank_all[uniq], total, pp.threshold, pp.k, definition=pp.name)
                for x in seeds
            ]
            m["paper"] = {k: float(np.mean([q[k] for q in per_seed])) for k in ("skdt", "final_acc", "pbr")}
            return m

        # paired: draw 200 with replacement (the authors'); the pool without replacement is the
        # same draws with each repeat replaced by a fresh architecture
        with_repl = rng.integers(0, total, args.pool)
        uniq = np.unique(with_repl)
        fresh = rng.permutation(np.setdiff1d(np.arange(total), uniq))[: args.pool - uniq.size]
        without = np.concatenate([uniq, fresh])
        dups.append(args.pool - uniq.size)
        m = pool_metrics(without)
        mr = pool_metrics(with_repl)
        gt = gt_all[m["uniq"]]
        theirs_tau = their_sparse_tau(m["avg"], gt, d.threshold)
        out["tau"].append(abs(theirs_tau - ours_sparse_tau(m["avg"], gt, d.threshold)))
        r = m["pbr_rank"]
        theirs = (1 - (r + 1) / total) ** d.k if r + 1 < total else 0.0
        out["pbr"].append(abs(float(m["pbr"]) - theirs))
        for k in ("skdt", "final_acc", "pbr"):
            both[k].append((m["paper"][k], float(m[k])))
        out["repl_skdt"].append(float(mr["skdt"]) - float(m["skdt"]))
        out["repl_final"].append(float(mr["final_acc"]) - float(m["final_acc"]))
        out["repl_pbr"].append(float(mr["pbr"]) - float(m["pbr"]))

    def absstat(x: list[float]) -> dict[str, float]:
        a = np.abs(np.asarray(x))
        return {"mean_abs": float(a.mean()), "max_abs": float(a.max())}

    def meandiff(x: list[float]) -> dict[str, float]:
        a = np.asarray(x)
        return {"mean": float(a.mean()), "se": float(a.std(ddof=1) / math.sqrt(a.size))}

    print(
        json.dumps(
            {
                "pool": args.pool,
                "seeds": args.seeds,
                "trials": args.trials,
                "definition": d.text,
                "per_seed_kdt_mean": float(np.mean(out["kdt"])),
                "paper_per_seed_mean_vs_authors_seed_avg": {
                    k: dict(zip(("paper", "authors"), map(float, np.mean(v, axis=0)), strict=True))
                    for k, v in both.items()
                },
                "their_tau_construction_vs_tau_b_skdt": absstat(out["tau"]),
                "their_pbr_normalisation_vs_ours": absstat(out["pbr"]),
                "with_replacement_repeats_per_pool": float(np.mean(dups)),
                "with_minus_without_replacement": {
                    "skdt": meandiff(out["repl_skdt"]),
                    "final_acc": meandiff(out["repl_final"]),
                    "pbr": meandiff(out["repl_pbr"]),
                },
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
