"""Benchmark ground truth: read-only tables, their cache, and the loader shape spaces fill in."""

from wsnas.groundtruth.cache import cache_path, check_source, import_benchmark, open_benchmark
from wsnas.groundtruth.loaders import BenchLoader, HasGroundTruth, MeasuredOn
from wsnas.groundtruth.table import Benchmark

__all__ = [
    "BenchLoader",
    "Benchmark",
    "HasGroundTruth",
    "MeasuredOn",
    "cache_path",
    "check_source",
    "import_benchmark",
    "open_benchmark",
]
