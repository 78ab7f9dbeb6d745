"""NAS-Bench-201 ground truth from the official `.pth` (v1.0 and v1.1).

NAS-Bench-201-v1_0-e61699.pth and v1_1-096897.pth are torch.save files (legacy format)
of one benchmark dict {meta_archs, arch2infos {index: {'less': record, 'full': record}}}
of ArchResults records (see gt_records). v1.0 has 12-epoch results for cifar10-valid
only and 1-3 seeds per cell; v1.1 has all four datasets for both schedules. The file is
read through the allowlist of wsnas.groundtruth.unpickle, never by torch's full unpickler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wsnas.groundtruth.table import Benchmark
from wsnas.groundtruth.unpickle import load_torch_file
from wsnas.spaces.nb201.gt_records import from_benchmark_dict

EXPECTED = "a NAS-Bench-201 benchmark file"
"""What a `.pth` source should be, as the refusal errors say it."""


def load_pth(path: Path) -> Any:
    """The object in a torch.save file, through the allowlist; BenchmarkError names the file."""
    return load_torch_file(path, EXPECTED)


def read_pth(path: Path, metric: str, schedule: str) -> Benchmark:
    """NAS-Bench-201-v1_0-e61699.pth / v1_1-096897.pth (legacy torch format) or any torch.save file."""
    data = load_pth(path)
    return from_benchmark_dict(data, metric, schedule, str(path), "nas-bench-201-pth")
