"""A learned estimator over the estimators (`wsnas estimate --predictor RUN_DIR`): scikit-learn's
gradient boosting trained on N ground-truth-labelled architectures of a finished estimate run, with
every estimator's score (those of further estimate runs over the same pool and ground truth too,
`--features-from`, and, given a super-net run on that pool and ground truth, its one-shot accuracy)
as features, and scored on the rest of the pool with the metrics of every other estimator.

For each N (10, 20, 50, 100, 200 by default) and each of R repeats the N training architectures are
drawn from the pool with a generator seeded by (seed, N, repeat); they are never scored. The seed,
the Ns, R, the features, the model's class, parameters and library version, and the identities of
the runs read make the predictor's identity (predictor.json `identity`). Beside the predictor, every
feature alone is scored on the same held-out architectures, so the gain over the best single
estimator is read on equal terms. predictor.json is written atomically into the estimate run dir,
under its lock.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from wsnas.core.atomic import write_text_atomic
from wsnas.core.dirlock import DirLock
from wsnas.core.errors import ConfigError, WsnasError
from wsnas.core.metrics import METRICS_VERSION, RANKING_KEYS, summarize
from wsnas.engine.runs import read_arch_rows, read_run
from wsnas.estimators.plan import SCORES_FILE, Plan, load_plan
from wsnas.estimators.scores_file import read_scores
from wsnas.estimators.summary import vote_scores

PREDICTOR_FILE = "predictor.json"
DEFAULT_NS = (10, 20, 50, 100, 200)
DEFAULT_REPEATS = 5
SUPERNET_FEATURE = "supernet_acc"
MODEL_PARAMS: dict[str, Any] = {"n_estimators": 200, "max_depth": 3, "learning_rate": 0.05}
"""GradientBoostingRegressor's settings (squared error on the GT accuracy); the rest at sklearn's defaults."""
TRANSFORM = "each feature as its average rank within the pool / n; NaN/inf below every finite value"
"""How features reach the model (`impute`): part of the identity, as it changes the numbers."""
METRICS = ("kdt", "skdt", "spearman", *RANKING_KEYS, "pairwise_acc", "final_acc", "pbr")
"""What each split records, for the predictor and for each feature alone."""


@dataclass(frozen=True)
class PredictorOptions:
    """What a predictor run is asked: its training sizes, repeats per size, split seed, super-net run,
    and further estimate runs whose estimators join the features (`features_from`: estimators scored
    in separate runs, e.g. a cheap set first and an expensive one later, over the same pool)."""

    ns: tuple[int, ...] = DEFAULT_NS
    repeats: int = DEFAULT_REPEATS
    seed: int = 0
    supernet: str | None = None
    features_from: tuple[str, ...] = ()

    def check(self) -> None:
        if not self.ns or any(n < 2 for n in self.ns):
            raise ConfigError(f"--predictor-n: got {list(self.ns)}; give training sizes >= 2")
        if self.repeats < 1:
            raise ConfigError(f"--predictor-repeats: got {self.repeats}; must be >= 1")


def sklearn_regressor(random_state: int) -> Any:
    """The model, imported on first use so wsnas needs scikit-learn only here."""
    try:
        from sklearn.ensemble import GradientBoostingRegressor
    except ImportError:
        raise WsnasError(
            "the predictor needs scikit-learn: pip install 'wsnas[predictor]' (or scikit-learn)"
        ) from None
    return GradientBoostingRegressor(**MODEL_PARAMS, random_state=random_state)


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


@dataclass
class Features:
    """The pool of a finished estimate run as a feature matrix, with its ground truth."""

    names: list[str]
    x: np.ndarray
    gt: np.ndarray
    ranks: np.ndarray
    archs: list[str]
    pos: np.ndarray
    """Each row's pool position (scores.csv `pos`)."""
    sources: dict[str, Any]


def estimator_features(plan: Plan, rows: list[dict[str, str]]) -> dict[str, np.ndarray]:
    """Every estimator's score per row (vote and pool estimators derived as the summary does), and
    every other column of scores.csv (the components a vote or pool estimator asked for)."""
    cols = {c: np.array([float(r[c]) for r in rows]) for c in plan.columns}
    out: dict[str, np.ndarray] = {}
    for est in plan.estimators:
        if est.name == "vote":
            out[est.name] = vote_scores(cols)[0]
        elif est.kind == "pool" and est.aggregate is not None:
            out[est.name] = np.asarray(est.aggregate({c: cols[c] for c in est.components}), dtype=np.float64)
        else:
            out[est.name] = cols[est.name]
    return {**out, **{c: v for c, v in cols.items() if c not in out}}


def same_gt_or_refuse(
    flag: str, path: str | os.PathLike, theirs: dict[str, Any], plan: Plan, keys: tuple[str, ...]
) -> None:
    """Refuse a run read beside the estimate run (FLAG PATH) whose ground truth (its identity's `gt`)
    differs from the estimate run's in any of KEYS."""
    mine = plan.identity.get("gt", {})
    if any(theirs.get(k) != mine.get(k) for k in keys):
        raise WsnasError(
            f"{flag} {path}: scored against other ground truth ({theirs.get('metric')}, checksum "
            f"{str(theirs.get('sha256'))[:12]}) than the estimate run ({mine.get('metric')}, "
            f"{str(mine.get('sha256'))[:12]})"
        )


def supernet_feature(
    path: str | os.PathLike, plan: Plan, archs: list[str]
) -> tuple[np.ndarray, dict[str, Any]]:
    """The one-shot accuracy of ARCHS in a finished super-net run's last evaluation; refused unless
    it was scored against the same ground truth (checksum) and evaluated every arch of ARCHS."""
    run = read_run(path)
    if not run.finished:
        raise WsnasError(f"--supernet {path}: the super-net run has not finished ({run.status})")
    ident = run.identity or {}
    same_gt_or_refuse("--supernet", path, ident.get("gt") or {}, plan, ("sha256",))
    last = run.evaluations[-1] if run.evaluations else None
    if last is None or last.csv is None:
        raise WsnasError(f"--supernet {path}: no evaluation CSV (evals/epoch_NNNN.csv)")
    acc = {r["arch"]: float(r["supernet_acc"]) for r in read_arch_rows(last.csv)}
    missing = [a for a in archs if a not in acc]
    if missing:
        raise WsnasError(
            f"--supernet {path}: its evaluation pool lacks {len(missing)} of the estimate run's "
            f"{len(archs)} architectures (e.g. {missing[0]}); give a super-net run of the same pool"
        )
    source = {"run_dir": str(path), "identity": ident.get("hash"), "eval_csv": last.csv.name}
    source["epoch"] = last.epoch
    return np.array([acc[a] for a in archs]), source


def _finished_rows(path: Path, flag: str) -> tuple[Plan, list[dict[str, str]]]:
    plan = load_plan(path)
    try:
        summary = json.loads((path / "summary.json").read_text())
    except (OSError, ValueError):
        summary = {}
    rows = read_scores(path / SCORES_FILE, plan.columns)
    if summary.get("status") != "finished" or len(rows) != len(plan.pool):
        raise WsnasError(
            f"{flag} {path}: the estimate run has not finished ({len(rows)}/{len(plan.pool)} archs "
            f"scored); finish it first: wsnas estimate --resume {path}"
        )
    return plan, rows


def joined_features(
    path: Path, plan: Plan, archs: list[str], taken: set[str]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The estimators of another finished estimate run, row-aligned to ARCHS; refused unless it scored
    the same architectures against the same ground truth, and named no feature already taken."""
    other, rows = _finished_rows(path, "--features-from")
    same_gt_or_refuse("--features-from", path, other.identity.get("gt", {}), plan, ("sha256", "metric"))
    at = {r["arch"]: i for i, r in enumerate(rows)}
    missing = [a for a in archs if a not in at]
    if missing or len(rows) != len(archs):
        lacks = f" (lacks e.g. {missing[0]})" if missing else ""
        raise WsnasError(
            f"--features-from {path}: scored {len(rows)} architectures, not the {len(archs)} of the "
            f"predictor's run{lacks}; give a run of the same pool"
        )
    feats = estimator_features(other, rows)
    clash = sorted(taken & set(feats))
    if clash:
        raise WsnasError(
            f"--features-from {path}: {', '.join(clash)} already come from another run; join runs of "
            "different estimators"
        )
    order = np.array([at[a] for a in archs])
    source = {"run_dir": str(path), "identity": other.identity.get("hash")}
    return {k: v[order] for k, v in feats.items()}, source


def load_features(
    run_dir: str | os.PathLike, supernet: str | None = None, features_from: tuple[str, ...] = ()
) -> tuple[Plan, Features]:
    """The features of a finished estimate run (further estimate runs' and a super-net run's), checked."""
    path = Path(run_dir)
    plan, rows = _finished_rows(path, "--predictor")
    feats = estimator_features(plan, rows)
    archs = [r["arch"] for r in rows]
    sources: dict[str, Any] = {"estimate": {"run_dir": str(path), "identity": plan.identity.get("hash")}}
    if features_from:
        sources["features_from"] = []
        for extra in features_from:
            more, source = joined_features(Path(extra), plan, archs, set(feats))
            feats.update(more)
            sources["features_from"].append(source)
    if supernet is not None:
        feats[SUPERNET_FEATURE], sources["supernet"] = supernet_feature(supernet, plan, archs)
    names = list(feats)
    x = np.stack([feats[n] for n in names], axis=1)
    gt = np.array([float(r["gt_acc"]) for r in rows])
    ranks = np.array([int(r["gt_rank"]) for r in rows])
    pos = np.array([int(r["pos"]) for r in rows])
    return plan, Features(names, x, gt, ranks, archs, pos, sources)


def impute(x: np.ndarray) -> np.ndarray:
    """Each feature as its rank within the pool, scaled to (0, 1] (average ranks for ties), a NaN/inf
    (an undefined score, e.g. no path from input to output) below every finite value. Trees see only
    the order of a feature, so this changes no split they can make, but it keeps values like
    synflow's 1e40 within the float32 scikit-learn's trees use. Features only, never GT: the held-out
    archs leak nothing."""
    out = np.empty(x.shape, dtype=np.float64)
    for j in range(x.shape[1]):
        col = np.where(np.isfinite(x[:, j]), x[:, j], -np.inf)
        out[:, j] = stats.rankdata(col, method="average") / len(col)
    return out


def split(n_pool: int, n_train: int, seed: int, repeat: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) pool positions of one repeat: N drawn without replacement, seeded by (seed, N,
    repeat), the rest held out."""
    rng = np.random.default_rng([seed, n_train, repeat])
    train = np.sort(rng.choice(n_pool, size=n_train, replace=False))
    test = np.setdiff1d(np.arange(n_pool), train)
    return train, test


def _metrics(scores: np.ndarray, f: Features, test: np.ndarray, total: int, plan: Plan) -> dict[str, float]:
    s, ok = scores[test], np.isfinite(scores[test])
    if ok.sum() < 2:
        return dict.fromkeys(METRICS, math.nan)
    ev = plan.cfg.eval
    m = summarize(
        s[ok], f.gt[test][ok], f.ranks[test][ok], total, ev.sparse_threshold, min(ev.top_k, int(ok.sum()))
    )
    return {k: float(m[k]) for k in METRICS}


def _stats(values: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    out = {}
    for k in METRICS:
        v = np.array([d[k] for d in values], dtype=np.float64)
        v = v[np.isfinite(v)]
        out[k] = {
            "mean": float(v.mean()) if v.size else math.nan,
            "std": float(v.std(ddof=1)) if v.size > 1 else math.nan,
            "n": int(v.size),
        }
    return out


def predictor_identity(plan: Plan, f: Features, opts: PredictorOptions) -> dict[str, Any]:
    """What the predictor's numbers depend on, and its 12-hex hash."""
    rec = {
        "sources": f.sources,
        "features": f.names,
        "model": {
            "class": "sklearn.ensemble.GradientBoostingRegressor",
            "params": MODEL_PARAMS,
            "sklearn": _sklearn_version(),
        },  # fmt: skip
        "transform": TRANSFORM,
        "split": {"seed": opts.seed, "ns": list(opts.ns), "repeats": opts.repeats},
        "metrics_version": METRICS_VERSION,
    }
    digest = hashlib.sha256(json.dumps(rec, sort_keys=True).encode()).hexdigest()[:12]
    return {**rec, "hash": digest}


def run_predictor(run_dir: str | os.PathLike, opts: PredictorOptions | None = None) -> dict[str, Any]:
    """Train and score the predictor for each N; predictor.json in RUN_DIR (atomically, under its lock)."""
    opts = opts or PredictorOptions()
    opts.check()
    sklearn_regressor(0)  # a missing scikit-learn is said before any work
    plan, f = load_features(run_dir, opts.supernet, opts.features_from)
    x, n_pool, total = impute(f.x), len(f.gt), plan.pool.total
    results, skipped = [], {}
    for n in opts.ns:
        if n > n_pool - 2:
            skipped[str(n)] = f"the pool holds {n_pool} archs: training on {n} leaves fewer than 2 to score"
            continue
        t0 = time.perf_counter()
        per: list[dict[str, float]] = []
        alone: dict[str, list[dict[str, float]]] = {name: [] for name in f.names}
        trains: list[list[int]] = []
        for r in range(opts.repeats):
            train, test = split(n_pool, n, opts.seed, r)
            state = int(np.random.default_rng([opts.seed, n, r, 1]).integers(2**31))
            model = sklearn_regressor(random_state=state)
            model.fit(x[train], f.gt[train])
            pred = np.asarray(model.predict(x), dtype=np.float64)
            per.append(_metrics(pred, f, test, total, plan))
            for j, name in enumerate(f.names):
                alone[name].append(_metrics(f.x[:, j], f, test, total, plan))
            trains.append(sorted(int(p) for p in f.pos[train]))
        results.append(
            {
                "n_train": n,
                "n_test": n_pool - n,
                "predictor": _stats(per),
                "per_repeat": per,
                "features_alone": {name: _stats(v) for name, v in alone.items()},
                "train_positions": trains,
                "seconds": time.perf_counter() - t0,
            }
        )
    out = {
        "kind": "predictor",
        "run_dir": str(run_dir),
        "space": plan.space.name,
        "gt": plan.identity.get("gt"),
        "n_pool": n_pool,
        "options": asdict(opts),
        "identity": predictor_identity(plan, f, opts),
        "results": results,
        "skipped": skipped,
        "imputation": TRANSFORM,
        "definitions": {
            "predictor": "GradientBoostingRegressor on the N training archs' features -> GT accuracy; "
            "its predictions of the held-out archs scored like an estimator",
            "features_alone": "each feature scored on the same held-out archs (mean over repeats)",
            "train_positions": "pool positions (scores.csv `pos`) of each repeat's training archs",
        },
        "metrics_version": METRICS_VERSION,
    }
    with DirLock(run_dir, "run dir"):
        write_text_atomic(Path(run_dir) / PREDICTOR_FILE, json.dumps(out, indent=2) + "\n")
    return out
