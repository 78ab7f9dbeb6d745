"""wsnas: weight-sharing NAS made measurable.

Train super-nets over benchmark search spaces under the heuristics of "How to
Train Your Super-Net" (Yu, Ranftl, Salzmann) and score them against ground truth.

The public API below is what `import wsnas` offers (docs/python-api.md)::

    import wsnas
    cfg = wsnas.load_config("demo", {"protocol.epochs": 10})
    run = wsnas.train(cfg, progress=False)
    run.final["skdt"], run.to_pandas()

Names load on first use (PEP 562), so `import wsnas` and `wsnas --help` stay light:
torch is imported by the first call that trains, reads a space or opens a benchmark.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wsnas.core.version import VERSION as __version__

_EXPORTS: dict[str, str] = {
    # configs
    "load_config": "wsnas.api",
    "RunConfig": "wsnas.config",
    "StandaloneConfig": "wsnas.config",
    # training and its result
    "train": "wsnas.api",
    "train_standalone": "wsnas.api",
    "open_run": "wsnas.engine.runs",
    "RunResult": "wsnas.engine.runs",
    "Evaluation": "wsnas.engine.runs",
    # studies
    "run_sweep": "wsnas.sweep",
    "SweepResult": "wsnas.sweep",
    "write_report": "wsnas.report",
    "Report": "wsnas.report",
    "run_search": "wsnas.search",
    "SearchResult": "wsnas.search",
    "estimate": "wsnas.api",
    # spaces and ground truth
    "get_space": "wsnas.spaces",
    "list_spaces": "wsnas.api",
    "SearchSpace": "wsnas.spaces",
    "open_benchmark": "wsnas.api",
    "Benchmark": "wsnas.groundtruth",
    "arch_info": "wsnas.api",
    # metrics
    "kendall_tau": "wsnas.core.metrics",
    "sparse_kendall_tau": "wsnas.core.metrics",
    "sparsify": "wsnas.core.metrics",
    "spearman": "wsnas.core.metrics",
    "prob_beats_random": "wsnas.core.metrics",
    "final_accuracy": "wsnas.core.metrics",
    "summarize": "wsnas.core.metrics",
    # errors
    "WsnasError": "wsnas.core.errors",
    "ConfigError": "wsnas.core.errors",
}
"""Public name -> the module that defines it (imported on first access)."""

__all__ = [
    "__version__",
    "load_config",
    "RunConfig",
    "StandaloneConfig",
    "train",
    "train_standalone",
    "open_run",
    "RunResult",
    "Evaluation",
    "run_sweep",
    "SweepResult",
    "write_report",
    "Report",
    "run_search",
    "SearchResult",
    "estimate",
    "get_space",
    "list_spaces",
    "SearchSpace",
    "open_benchmark",
    "Benchmark",
    "arch_info",
    "kendall_tau",
    "sparse_kendall_tau",
    "sparsify",
    "spearman",
    "prob_beats_random",
    "final_accuracy",
    "summarize",
    "WsnasError",
    "ConfigError",
]
"""The public API, in the order docs/python-api.md presents it; `_EXPORTS` says where each lives."""

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports on demand
    from wsnas.api import (
        arch_info,
        estimate,
        list_spaces,
        load_config,
        open_benchmark,
        train,
        train_standalone,
    )
    from wsnas.config import RunConfig, StandaloneConfig
    from wsnas.core.errors import ConfigError, WsnasError
    from wsnas.core.metrics import (
        final_accuracy,
        kendall_tau,
        prob_beats_random,
        sparse_kendall_tau,
        sparsify,
        spearman,
        summarize,
    )
    from wsnas.engine.runs import Evaluation, RunResult, open_run
    from wsnas.groundtruth import Benchmark
    from wsnas.report import Report, write_report
    from wsnas.search import SearchResult, run_search
    from wsnas.spaces import SearchSpace, get_space
    from wsnas.sweep import SweepResult, run_sweep


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562) and cache the name here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wsnas' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
