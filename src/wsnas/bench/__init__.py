"""Benchmark ground truth: read-only tables, their cache, and per-space loaders."""

from wsnas.bench.cache import (
    cache_path,
    cache_root,
    check_source,
    import_benchmark,
    open_benchmark,
)
from wsnas.bench.loaders import LOADERS, BenchLoader, get_loader
from wsnas.bench.table import Benchmark

__all__ = [
    "LOADERS",
    "BenchLoader",
    "Benchmark",
    "cache_path",
    "cache_root",
    "check_source",
    "get_loader",
    "import_benchmark",
    "open_benchmark",
]
