"""Time the enumeration of all unique NAS-Bench-101 cells (expect 423,624).

Prints one JSON object: count, seconds (wall), topologies, isomorphism classes,
hash collisions, processes, and the time to load the cache it writes.
Usage: python benchmarks/nb101_enumerate.py [--processes N] [--max-vertices 7] [--max-edges 9]
       [--save PATH]  (default: a temp file, removed afterwards)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from wsnas.spaces.nb101.enumerate import NUM_UNIQUE, enumerate_cells, load_enumeration, save_enumeration


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--max-vertices", type=int, default=7)
    ap.add_argument("--max-edges", type=int, default=9)
    ap.add_argument("--save", help="also keep the cache file here (e.g. $WSNAS_CACHE/nb101/unique_cells.npz)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    enum = enumerate_cells(args.max_vertices, args.max_edges, processes=args.processes)
    seconds = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.save) if args.save else Path(tmp) / "unique_cells.npz"
        save_enumeration(enum, path)
        t1 = time.perf_counter()
        loaded = load_enumeration(path)
        load_seconds = time.perf_counter() - t1
        size = os.path.getsize(path)
    official = (args.max_vertices, args.max_edges) == (7, 9)
    print(
        json.dumps(
            {
                "count": len(enum),
                "expected": NUM_UNIQUE if official else None,
                "matches_official": len(enum) == NUM_UNIQUE if official else None,
                "seconds": round(seconds, 2),
                "seconds_structure": enum.meta["seconds_structure"],
                "topologies": enum.meta["topologies"],
                "isomorphism_classes": enum.meta["isomorphism_classes"],
                "hash_collisions": enum.meta["hash_collisions"],
                "processes": enum.meta["processes"],
                "cpu_count": os.cpu_count(),
                "cache_bytes": size,
                "load_seconds": round(load_seconds, 3),
                "load_ok": len(loaded) == len(enum),
            }
        )
    )


if __name__ == "__main__":
    main()
