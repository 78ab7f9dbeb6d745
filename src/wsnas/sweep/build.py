"""`wsnas bench build`: ground truth made here, by training every architecture stand-alone.

A build spec names a space, the architectures (all encodings, one per unique
cell, or a list), the seeds and a stand-alone config (P_proxy). Every
(architecture, seed) is one stand-alone run dir under OUT/runs, executed by the
sweep executors (local processes or Ray), so a killed build resumes: finished
runs are skipped, cut ones continue from their checkpoint. The mean accuracy
over seeds becomes a `Benchmark` with the metric `standalone/<data>-<split>` and
the schedule `<epochs>`; it is written to OUT/table.npz (per-seed results in
OUT/results.csv) and imported into the cache, so `open_benchmark`, training and
every metric use it exactly as an imported official table.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from wsnas.config import StandaloneConfig, load_config, read_yaml_mapping, validate
from wsnas.config.shipped import resolve_config
from wsnas.core.atomic import write_text_atomic
from wsnas.core.errors import ConfigError, WsnasError
from wsnas.core.version import VERSION as __version__
from wsnas.engine.rundir import run_state
from wsnas.execution.executors import make_executor
from wsnas.execution.placement import GpuRequest, local_workers
from wsnas.execution.tasks import make_task, register_task_kind
from wsnas.groundtruth.cache import import_benchmark
from wsnas.groundtruth.loaders import BUILT_PREFIX
from wsnas.groundtruth.table import Benchmark
from wsnas.spaces import get_space
from wsnas.spaces.check import check_config
from wsnas.sweep.folder_lock import sweep_lock
from wsnas.sweep.spec import ExecutorSpec

register_task_kind("standalone", "wsnas.trainers.task:train_task")


class BuildSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    space: str
    config: str | None = None
    """Stand-alone config YAML (relative to the spec file); None = defaults."""
    overrides: list[str] = Field(default_factory=list)
    """`key.sub=value` applied to every run (e.g. data.name=digits, proxy.epochs=40)."""
    archs: Literal["all", "unique"] | list[str] = "all"
    """all: every encoding the space enumerates; unique: the first encoding of each unique
    cell; or a list of arch strings."""
    archs_file: str | None = None
    """A text file of arch strings, one per line (relative to the spec file); replaces `archs`."""
    sample: int | None = Field(None, ge=1)
    """Train only this many, drawn without replacement (seeded by `sample_seed`): from the
    list, or from all / unique cells; spaces that do not enumerate theirs (nb101, darts_nds)
    draw unique cells with their Random-A sampler."""
    sample_seed: int = 0
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    executor: ExecutorSpec = Field(default_factory=ExecutorSpec)


def load_build_spec(path: str | os.PathLike) -> tuple[BuildSpec, Path]:
    """Read a build spec file, or a shipped one by name (`mini-build`; a file at that path wins)."""
    path = resolve_config(path)
    data = read_yaml_mapping(path, "build spec")
    return validate(data, source=f"build spec {path}", model=BuildSpec), path.resolve().parent


def read_arch_file(path: Path, space: Any) -> list[str]:
    """Arch strings, one per line (blank lines and `#` comments skipped), in the space's format."""
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise ConfigError(f"build spec: archs_file {path}: cannot read ({e.strerror})") from None
    out = []
    for n, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            out.append(space.format(space.parse(text)))
        except WsnasError as e:
            raise ConfigError(f"build spec: archs_file {path} line {n}: {e}") from None
    if not out:
        raise ConfigError(f"build spec: archs_file {path} lists no architecture")
    return out


def sample_unique_archs(space: Any, n: int, seed: int) -> list[str]:
    """N architectures with distinct canonical ids from the space's Random-A sampler."""
    rng = np.random.default_rng(seed)
    seen: dict[str, str] = {}
    for _ in range(100 * n):
        arch = space.sample_unique(rng)
        seen.setdefault(space.canonical(arch), space.format(arch))
        if len(seen) == n:
            return list(seen.values())
    raise ConfigError(f"build spec: sample={n}: only {len(seen)} distinct {space.name} cells found")


def built_metric(cfg: StandaloneConfig) -> str:
    return f"{BUILT_PREFIX}{cfg.data.name}-{cfg.data.eval_split}"


@dataclass
class BuildResult:
    table: Path
    cache: Path
    bench: Any


class Build:
    """Plans, runs and aggregates one ground-truth build in OUT."""

    def __init__(
        self,
        spec: BuildSpec,
        spec_dir: Path,
        out: str | os.PathLike,
        cache_dir: str | None = None,
        workers: int | None = None,
        threads: int | None = None,
        executor: str | None = None,
        address: str | None = None,
        log: Any = None,
        gpus: GpuRequest | None = None,
        slurm: dict[str, Any] | None = None,
    ) -> None:
        self.spec, self.out, self.cache_dir = spec, Path(out), cache_dir
        self.space = get_space(spec.space)
        config = None if spec.config is None else (spec_dir / spec.config)
        base = load_config(config, [*spec.overrides, f"space.name={spec.space}"], model=StandaloneConfig)
        check_config(base, f"build spec {spec_dir}")
        self.base = base.model_copy(update={"arch": ""})
        self.proxy = self.base.proxy.resolved(self.space.proxy)
        ex = spec.executor
        self.executor_name = executor or ex.name
        self.workers = workers or ex.workers
        self.threads = threads or ex.threads
        self.address = address or ex.address
        g = gpus or GpuRequest()
        self.gpus = GpuRequest(
            g.gpus or ex.gpus, g.runs_per_gpu or ex.runs_per_gpu, g.gpus_per_run or ex.gpus_per_run
        )
        if self.executor_name == "local" and self.gpus.any:  # GPU slots size the pool (as in a sweep)
            self.workers = local_workers(workers if workers is not None or g.any else ex.workers, self.gpus)
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.slurm = ex.slurm.merged(slurm)
        self.archs = self._archs(spec_dir)

    def _archs(self, spec_dir: Path) -> list[str]:
        sp, spec = self.space, self.spec
        if spec.archs_file is not None:
            strs = read_arch_file(spec_dir / spec.archs_file, sp)
        elif isinstance(spec.archs, list):
            strs = [sp.format(sp.parse(a)) for a in spec.archs]
        elif getattr(sp, "all_archs", None) is not None:
            strs = [sp.format(a) for a in sp.all_archs()]  # type: ignore[attr-defined]
            if spec.archs == "unique":  # the first encoding of each architecture
                firsts: dict[str, str] = {}
                for a in strs:
                    firsts.setdefault(sp.canonical(a), a)
                strs = list(firsts.values())
        elif spec.sample is not None:
            return sample_unique_archs(sp, spec.sample, spec.sample_seed)
        else:
            raise ConfigError(
                f"build spec: archs={spec.archs!r} needs a space that enumerates its architectures; "
                f"{sp.name} does not: list the archs to train, or draw some with `sample: N`"
            )
        if len(set(strs)) != len(strs):
            raise ConfigError("build spec: archs lists an architecture twice")
        if spec.sample is not None and spec.sample < len(strs):
            rng = np.random.default_rng(spec.sample_seed)
            strs = [strs[i] for i in sorted(rng.choice(len(strs), size=spec.sample, replace=False))]
        return strs

    def run_dir(self, i: int, seed: int) -> Path:
        return self.out / "runs" / f"{i:05d}-s{seed}"

    def tasks(self) -> list[dict[str, Any]]:
        tasks = []
        for i, arch in enumerate(self.archs):
            for seed in self.spec.seeds:
                run_dir = self.run_dir(i, seed)
                cfg = self.base.model_copy(
                    update={"arch": arch, "seed": seed, "out_dir": str(run_dir.parent), "name": run_dir.name}
                )
                d = cfg.to_dict()
                d["runtime"]["progress"] = False
                tasks.append(make_task("standalone", run_dir.name, str(run_dir), config=d))
        return tasks

    def run(self, command: str | None = None) -> BuildResult:
        """Train what is not done yet and write the table; one build per folder at a time."""
        hint = "wait for it to finish (rerunning the same command then resumes what is left)"
        with sweep_lock(self.out, "wsnas bench build", hint):
            return self._run(command)

    def _run(self, command: str | None) -> BuildResult:
        t0 = time.perf_counter()
        write_text_atomic(
            self.out / "spec.yaml", yaml.safe_dump(self.spec.model_dump(mode="json"), sort_keys=False)
        )
        tasks = self.tasks()
        todo = [t for t in tasks if run_state(Path(t["run_dir"])) not in ("finished", "diverged")]
        self.log(
            f"build {self.space.name}: {len(self.archs)} archs x {len(self.spec.seeds)} seeds = "
            f"{len(tasks)} runs, {len(tasks) - len(todo)} done, {len(todo)} to run"
        )
        failed: list[dict[str, Any]] = []
        if todo:
            with make_executor(
                self.executor_name,
                self.workers,
                self.threads,
                self.address,
                self.gpus,
                slurm=self.slurm,
                folder=self.out / "slurm",
            ) as ex:
                for t in todo:
                    t["threads"] = t["config"]["runtime"]["threads"] or ex.threads
                for n, result in enumerate(ex.run(todo), start=1):
                    acc = (result.get("final") or {}).get("eval_acc")
                    tail = f"{acc:.2f} %" if isinstance(acc, float) else result.get("error", "")
                    self.log(f"[{n}/{len(todo)}] {result['status']}: {result['name']} ({tail})")
                    if result["status"] == "failed":
                        failed.append(result)
        if failed:
            write_text_atomic(self.out / "failed.json", json.dumps(failed, indent=2) + "\n")
            raise WsnasError(
                f"build {self.out}: {len(failed)} runs failed (see {self.out / 'failed.json'}); "
                f"first: {failed[0]['name']}: {failed[0].get('error')}; rerun the same command to retry"
            )
        return self.aggregate(time.perf_counter() - t0, command)

    def results(self) -> list[dict[str, Any]]:
        """One record per (arch, seed) from the runs' summaries."""
        rows = []
        for i, arch in enumerate(self.archs):
            for seed in self.spec.seeds:
                path = self.run_dir(i, seed) / "summary.json"
                try:
                    s = json.loads(path.read_text())
                except (OSError, ValueError):
                    raise WsnasError(f"build {self.out}: run {path.parent.name} has no summary") from None
                if s.get("status") != "finished":
                    raise WsnasError(
                        f"build {self.out}: run {path.parent.name} is {s.get('status')}: {s.get('message')}"
                    )
                rows.append(
                    {
                        "row": i,
                        "arch": arch,
                        "seed": seed,
                        "eval_acc": s["final"]["eval_acc"],
                        "params_m": s["final"]["params_m"],
                        "seconds": s["timing"]["seconds"],
                    }
                )
        return rows

    def aggregate(self, wall_seconds: float, command: str | None) -> BuildResult:
        rows = self.results()
        seeds = self.spec.seeds
        acc = np.array([r["eval_acc"] for r in rows]).reshape(len(self.archs), len(seeds))
        params = np.array([r["params_m"] for r in rows]).reshape(len(self.archs), len(seeds))[:, 0]
        flops = np.array([self._flops(a) for a in self.archs])
        std = acc.std(axis=1, ddof=1) if len(seeds) > 1 else np.zeros(len(self.archs))
        metric, schedule = built_metric(self.base), str(self.proxy.epochs)
        meta = {
            "space": self.space.name,
            "metric": metric,
            "schedule": schedule,
            "built": True,
            "seeds": seeds,
            "seed_std_median": float(np.median(std)),
            "seed_std_max": float(std.max()),
            "config": {**self.base.to_dict(), "proxy": self.proxy.model_dump(mode="json")},
            "command": command,
            "wall_seconds": round(wall_seconds, 1),
            "train_seconds_total": round(float(sum(r["seconds"] for r in rows)), 1),
            "executor": {"name": self.executor_name, "workers": self.workers, "threads": self.threads},
            "build_created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "wsnas_version": __version__,
        }
        bench = Benchmark(
            index=np.arange(len(self.archs)),
            arch=self.archs,
            canonical=[self.space.canonical(a) for a in self.archs],
            acc=acc.mean(axis=1),
            params=params,
            flops=flops,
            meta=meta,
        )
        table = bench.save(self.out / "table.npz")
        write_text_atomic(self.out / "results.csv", results_csv(rows))
        bench, cache = import_benchmark(self.space, table, metric, schedule, self.cache_dir)
        return BuildResult(table, cache, bench)

    def _flops(self, arch: str) -> float:
        """FLOPs of the benchmark's network on the build's data set; NaN where the space has none."""
        try:
            facts = self.space.arch_facts_on(self.space.parse(arch), self.base.data.name)
        except NotImplementedError:
            return float("nan")
        return float(facts.get("flops_m", float("nan"))) if facts is not None else float("nan")


def results_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["row", "arch", "seed", "eval_acc", "seconds"])
    for r in rows:
        w.writerow([r["row"], r["arch"], r["seed"], f"{r['eval_acc']:.4f}", f"{r['seconds']:.2f}"])
    return buf.getvalue()
