"""`wsnas estimate --archs FILE` (and `estimate(archs=[...])`): an explicit list of architectures,
scored in its order.

A file holds one architecture string per line (blank lines and `#` comments skipped), or is a CSV
whose header has an `arch` column. Every entry is checked before anything is written: one that does
not parse, or has no ground truth, is refused with its line number; a repeat (the same architecture,
also an isomorphic spelling: the same canonical form) is refused, or with `drop_duplicates` left out
and counted. The list as resolved (the table's spelling of each architecture, in order) is what the
run's identity hashes (`sha256`) and what its run dir keeps (`archs.txt`), so `--status`, `--resume`
and shard workers score exactly these architectures, wherever the file went.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.core.errors import ArchError, BenchmarkError, ConfigError
from wsnas.trainers.evaluate import Pool

LIST_FILE = "archs.txt"
"""The resolved list in a run dir: one architecture per line, in scoring order."""
SHOWN_ERRORS = 5


@dataclass(frozen=True)
class ArchList:
    """A checked list: the table's spellings in order, how many repeats were dropped, its checksum."""

    arch_strs: tuple[str, ...]
    dropped: int
    source: str

    @property
    def sha256(self) -> str:
        return list_sha256(self.arch_strs)


def list_sha256(arch_strs: Sequence[str]) -> str:
    """The checksum of a list in its order (order is part of it: scores.csv follows it)."""
    return hashlib.sha256("\n".join(arch_strs).encode()).hexdigest()


def read_entries(path: str | os.PathLike) -> list[tuple[int, str]]:
    """(line number, text) of each entry of an --archs file: lines, or a CSV's `arch` column."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--archs {path}: no such file (give pool, all, a number N or a file)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"--archs {path}: cannot read it ({e})") from None
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), "")
    if "arch" in [c.strip() for c in next(csv.reader([first]), [])]:
        reader = csv.DictReader(io.StringIO(text))
        assert reader.fieldnames is not None
        if reader.fieldnames.count("arch") != 1:
            raise ConfigError(f"--archs {path}: the CSV header names an `arch` column more than once")
        out = []
        for row in reader:
            value = (row.get("arch") or "").strip()
            if value:
                out.append((reader.line_num, value))
        return out
    return [(i, ln.strip()) for i, ln in enumerate(lines, 1) if ln.strip() and not ln.strip().startswith("#")]


def check_list(
    entries: Sequence[tuple[int, str]], space: Any, bench: Any, source: str, drop_duplicates: bool = False
) -> ArchList:
    """ENTRIES ((line, text)) as an ArchList, or a ConfigError naming the lines that are wrong."""
    where = "line" if source != "list" else "item"
    errors: list[str] = []
    seen: dict[str, int] = {}
    keep: list[str] = []
    dropped = 0
    for line, text in entries:
        try:
            arch = space.parse(text)
            row = bench.row(space.format(arch))
        except ArchError as e:
            errors.append(f"{where} {line}: {text!r} does not parse: {e}")
            continue
        except BenchmarkError:
            errors.append(f"{where} {line}: {text!r} has no ground truth in {bench.metric}")
            continue
        canon = str(bench.canonical[row])
        if canon in seen:
            if drop_duplicates:
                dropped += 1
                continue
            errors.append(
                f"{where} {line}: {text!r} repeats {where} {seen[canon]} (the same architecture, "
                "up to isomorphism)"
            )
            continue
        seen[canon] = line
        keep.append(str(bench.arch[row]))
    if errors:
        more = f" (and {len(errors) - SHOWN_ERRORS} more)" if len(errors) > SHOWN_ERRORS else ""
        hint = "; remove the repeats or pass --drop-duplicates" if any("repeats" in e for e in errors) else ""
        raise ConfigError(f"--archs {source}: {'; '.join(errors[:SHOWN_ERRORS])}{more}{hint}")
    if len(keep) < 2:
        raise ConfigError(f"--archs {source}: {len(keep)} architecture(s); the metrics need at least 2")
    return ArchList(tuple(keep), dropped, source)


def pool_of(space: Any, bench: Any, arch_strs: Sequence[str]) -> Pool:
    """The pool of ARCH_STRS in their order, with their ground truth."""
    rows = bench.rows(arch_strs)
    return Pool(
        archs=[space.parse(s) for s in arch_strs],
        arch_strs=list(arch_strs),
        canonical=[str(bench.canonical[r]) for r in rows],
        index=np.asarray(bench.index[rows]),
        gt=np.asarray(bench.acc[rows], dtype=np.float64),
        gt_rank=np.asarray([int(bench.ranks()[r]) for r in rows]),
        total=bench.size,
    )
