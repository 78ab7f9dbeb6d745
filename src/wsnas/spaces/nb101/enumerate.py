"""Enumerate every unique NAS-Bench-101 cell without the benchmark file.

The official generator walked every upper-triangular matrix and every op
labelling and hashed each (~10^8 hashes). Here the work is split so that only
one hash per unique cell is computed:

1. Topologies: for each vertex count V, all upper-triangular bit masks are
   filtered (vectorised) to "full" DAGs (every vertex on an input->output path,
   i.e. already pruned) with at most `max_edges` edges.
2. Topologies are deduplicated up to isomorphism exactly: the canonical code of
   a graph is the smallest V*V adjacency bit code over all (V-2)! orders of its
   middle vertices (input and output are fixed). The same table gives each
   topology's automorphism group.
3. Op labellings: two labellings of one topology give isomorphic cells iff an
   automorphism maps one onto the other, so one representative per orbit is
   kept (vectorised over all 3^(V-2) labellings, once per distinct group).
4. Each representative is hashed with the benchmark's hash (`graph.hash_graph`),
   in worker processes. Distinct classes are counted both ways; the benchmark's
   count (distinct hashes) is what the cache keeps.

The result is cached as a compact `.npz` (sorted hashes, vertex counts, edge
masks, op indices), written atomically; loading it takes well under a second.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from itertools import permutations
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.core.atomic import atomic_write
from wsnas.core.cachedir import cache_root
from wsnas.core.errors import BenchmarkError
from wsnas.spaces.nb101.graph import (
    INPUT,
    INPUT_LABEL,
    MAX_EDGES,
    MAX_VERTICES,
    OPS,
    OUTPUT,
    OUTPUT_LABEL,
    CellSpec,
)

CACHE_FORMAT = "wsnas-nb101-unique-cells"
CACHE_VERSION = 1
NUM_UNIQUE = 423_624
"""Unique cells of the official space (7 vertices, 9 edges), as the benchmark reports."""


# -- bit-mask helpers -------------------------------------------------------------


@cache
def edge_pairs(n: int) -> tuple[tuple[int, int], ...]:
    """Upper-triangular (i, j) pairs in row-major order; bit k of a mask is pair k."""
    return tuple((i, j) for i in range(n) for j in range(i + 1, n))


def popcount(x: np.ndarray) -> np.ndarray:
    """Set bits per element of a non-negative int64 array (numpy<2 has no bitwise_count)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int64)
    x = x.astype(np.uint64)
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return ((x * np.uint64(0x0101010101010101)) >> np.uint64(56)).astype(np.int64)


def mask_to_matrix(mask: int, n: int) -> tuple[tuple[int, ...], ...]:
    rows = [[0] * n for _ in range(n)]
    for k, (i, j) in enumerate(edge_pairs(n)):
        if (mask >> k) & 1:
            rows[i][j] = 1
    return tuple(tuple(r) for r in rows)


def reach_masks(masks: np.ndarray, n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per vertex, bool arrays: reachable from the input / reaches the output (vectorised)."""
    bit = {p: k for k, p in enumerate(edge_pairs(n))}
    one = np.int64(1)
    fwd: list[np.ndarray] = [np.ones(masks.shape, bool)]
    for j in range(1, n):
        r = np.zeros(masks.shape, bool)
        for i in range(j):
            r |= fwd[i] & (((masks >> bit[i, j]) & one) == 1)
        fwd.append(r)
    bwd: list[np.ndarray] = [np.zeros(0, bool)] * n
    bwd[n - 1] = np.ones(masks.shape, bool)
    for i in range(n - 2, -1, -1):
        r = np.zeros(masks.shape, bool)
        for j in range(i + 1, n):
            r |= bwd[j] & (((masks >> bit[i, j]) & one) == 1)
        bwd[i] = r
    return fwd, bwd


def full_dag_masks(n: int, max_edges: int) -> np.ndarray:
    """Masks of n-vertex DAGs in which every vertex lies on an input->output path."""
    m = n * (n - 1) // 2
    masks = np.arange(1 << m, dtype=np.int64)
    ok = popcount(masks) <= max_edges
    pairs = edge_pairs(n)
    for v in range(n):
        out_bits = sum(1 << k for k, (i, _) in enumerate(pairs) if i == v)
        in_bits = sum(1 << k for k, (_, j) in enumerate(pairs) if j == v)
        if v < n - 1:
            ok &= (masks & out_bits) != 0
        if v > 0:
            ok &= (masks & in_bits) != 0
    return masks[ok]


def count_valid_matrices(n: int = MAX_VERTICES, max_edges: int = MAX_EDGES) -> int:
    """n x n upper-triangular 0/1 matrices that are in the space after pruning.

    This is what Random-NAS draws its matrix from (times 3^(n-2) op labellings).
    """
    total = 0
    m = n * (n - 1) // 2
    pairs = edge_pairs(n)
    chunk = 1 << 19
    for start in range(0, 1 << m, chunk):
        masks = np.arange(start, min(start + chunk, 1 << m), dtype=np.int64)
        fwd, bwd = reach_masks(masks, n)
        keep = [f & b for f, b in zip(fwd, bwd, strict=True)]
        edges = np.zeros(masks.shape, np.int64)
        for k, (i, j) in enumerate(pairs):
            edges += ((masks >> k) & 1).astype(bool) & keep[i] & keep[j]
        total += int(np.count_nonzero(fwd[n - 1] & (edges <= max_edges)))
    return total


# -- isomorphism classes of topologies and labellings --------------------------------


def middle_perms(n: int) -> np.ndarray:
    """All (n-2)! vertex maps old->new that fix input (0) and output (n-1); identity first."""
    mids = list(range(1, n - 1))
    return np.array([[0, *p, n - 1] for p in permutations(mids)], dtype=np.int64).reshape(-1, n)


def perm_codes(masks: np.ndarray, n: int, perms: np.ndarray) -> np.ndarray:
    """(len(masks), len(perms)) V*V adjacency codes of each graph under each vertex map."""
    pairs = edge_pairs(n)
    weights = np.array([[1 << int(p[i] * n + p[j]) for p in perms] for i, j in pairs], dtype=np.int64)
    bits = ((masks[:, None] >> np.arange(len(pairs), dtype=np.int64)) & 1).astype(np.int64)
    out = np.empty((len(masks), len(perms)), np.int64)
    step = 1 << 14
    for s in range(0, len(masks), step):
        out[s : s + step] = bits[s : s + step] @ weights
    return out


def unique_topologies(n: int, max_edges: int) -> list[tuple[int, tuple[int, ...]]]:
    """(mask, automorphism perm indices) per isomorphism class of n-vertex full DAGs."""
    masks = full_dag_masks(n, max_edges)
    if n <= 3:  # no middle vertices to swap
        return [(int(m), (0,)) for m in masks]
    perms = middle_perms(n)
    codes = perm_codes(masks, n, perms)
    canon = codes.min(axis=1)
    _, first = np.unique(canon, return_index=True)
    out = []
    for idx in np.sort(first):
        auts = np.flatnonzero(codes[idx] == codes[idx, 0])
        out.append((int(masks[idx]), tuple(int(a) for a in auts)))
    return out


def labelling_orbit_reps(n: int, auts: tuple[int, ...]) -> np.ndarray:
    """One op labelling (rows of op indices, middle vertices) per orbit of the group."""
    k = n - 2
    if k == 0:
        return np.zeros((1, 0), np.int64)
    nops = len(OPS)
    codes = np.arange(nops**k, dtype=np.int64)
    labs = np.stack([(codes // nops ** (k - 1 - t)) % nops for t in range(k)], axis=1)
    best = codes.copy()
    perms = middle_perms(n)
    powers = nops ** (k - 1 - np.arange(k, dtype=np.int64))
    for a in auts[1:]:
        p = perms[a]
        moved = np.empty_like(labs)
        moved[:, p[1:-1] - 1] = labs  # vertex v's op goes to vertex p[v]
        best = np.minimum(best, moved @ powers)
    return labs[best == codes]


# -- hashing (worker side) ----------------------------------------------------------------


def hash_labellings(n: int, mask: int, labs: np.ndarray) -> list[str]:
    """`graph.hash_graph` for many labellings of one topology, sharing the work.

    Same digests as `hash_graph` (the tests check it against brute force); the
    neighbour lists are built once and each MD5 input string is memoised, which
    pays off because early rounds see the same neighbourhoods again and again.
    """
    md5 = hashlib.md5
    matrix = mask_to_matrix(mask, n)
    ins = [tuple(u for u in range(n) if matrix[u][v]) for v in range(n)]
    outs = [tuple(w for w in range(n) if matrix[v][w]) for v in range(n)]
    vio = list(zip(range(n), ins, outs, strict=True))
    memo: dict[str, str] = {}
    out = []
    for row in labs.tolist():
        lab = (INPUT_LABEL, *row, OUTPUT_LABEL)
        h = []
        for v in range(n):
            s = f"({len(outs[v])}, {len(ins[v])}, {lab[v]})"
            x = memo.get(s)
            if x is None:
                x = memo[s] = md5(s.encode("utf-8")).hexdigest()
            h.append(x)
        for _ in range(n):
            nh = []
            for v, iv, ov in vio:
                s = "|".join(("".join(sorted([h[u] for u in iv])), "".join(sorted([h[w] for w in ov])), h[v]))
                x = memo.get(s)
                if x is None:
                    x = memo[s] = md5(s.encode("utf-8")).hexdigest()
                nh.append(x)
            h = nh
        out.append(md5(("[" + ", ".join(f"'{x}'" for x in sorted(h)) + "]").encode("utf-8")).hexdigest())
    return out


def _hash_job(job: tuple[int, int, np.ndarray]) -> list[str]:
    return hash_labellings(*job)


@dataclass
class Enumeration:
    """Unique cells sorted by hash, as parallel arrays."""

    hashes: np.ndarray  # (N,) 'S32' hex digests, sorted
    num_vertices: np.ndarray  # (N,) int8
    masks: np.ndarray  # (N,) int32, bit k = edge_pairs(V)[k]
    ops: np.ndarray  # (N, max_vertices - 2) int8 op indices, -1 padded
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.hashes)

    def spec(self, i: int) -> CellSpec:
        n = int(self.num_vertices[i])
        ops = (INPUT, *(OPS[int(o)] for o in self.ops[i, : n - 2]), OUTPUT)
        return CellSpec(mask_to_matrix(int(self.masks[i]), n), ops)

    def hash(self, i: int) -> str:
        return self.hashes[i].decode("ascii")

    def index(self, spec_hash: str) -> int:
        """Row of a hash, or -1 when the cell is not in this set."""
        key = np.bytes_(spec_hash.encode("ascii"))
        i = int(np.searchsorted(self.hashes, key))
        return i if i < len(self.hashes) and self.hashes[i] == key else -1

    def specs(self) -> Iterable[CellSpec]:
        return (self.spec(i) for i in range(len(self)))


def enumerate_cells(
    max_vertices: int = MAX_VERTICES, max_edges: int = MAX_EDGES, processes: int | None = None
) -> Enumeration:
    """All unique cells within the limits (423,624 for the official 7 / 9)."""
    t0 = time.perf_counter()
    jobs: list[tuple[int, int, np.ndarray]] = []
    orbit_cache: dict[tuple[int, tuple[int, ...]], np.ndarray] = {}
    num_topologies = 0
    for n in range(2, max_vertices + 1):
        for mask, auts in unique_topologies(n, max_edges):
            key = (n, auts)
            if key not in orbit_cache:
                orbit_cache[key] = labelling_orbit_reps(n, auts)
            jobs.append((n, mask, orbit_cache[key]))
            num_topologies += 1
    num_classes = sum(len(j[2]) for j in jobs)
    t_struct = time.perf_counter() - t0

    processes = processes or os.cpu_count() or 1
    if processes > 1 and num_classes > 20_000:
        # fork is safe here: workers only run hashlib and plain Python, no OpenMP/torch.
        ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        with ctx.Pool(processes) as pool:
            results = pool.map(_hash_job, jobs, chunksize=max(1, len(jobs) // (processes * 16)))
    else:
        results = [_hash_job(j) for j in jobs]

    k = max_vertices - 2
    hashes, nv, mk, ops = [], [], [], []
    for (n, mask, labs), hs in zip(jobs, results, strict=True):
        hashes.extend(hs)
        nv.extend([n] * len(hs))
        mk.extend([mask] * len(hs))
        pad = np.full((len(labs), k), -1, np.int8)
        pad[:, : n - 2] = labs
        ops.append(pad)
    h = np.array(hashes, dtype="S32")
    order = np.argsort(h, kind="stable")
    h = h[order]
    keep = np.ones(len(h), bool)
    keep[1:] = h[1:] != h[:-1]  # hash collisions of non-isomorphic cells: the benchmark counts one
    rows = order[keep]
    enum = Enumeration(
        hashes=h[keep],
        num_vertices=np.array(nv, np.int8)[rows],
        masks=np.array(mk, np.int32)[rows],
        ops=np.concatenate(ops)[rows] if ops else np.zeros((0, k), np.int8),
    )
    enum.meta = {
        "format": CACHE_FORMAT,
        "format_version": CACHE_VERSION,
        "max_vertices": max_vertices,
        "max_edges": max_edges,
        "ops": list(OPS),
        "count": len(enum),
        "isomorphism_classes": num_classes,
        "topologies": num_topologies,
        "hash_collisions": num_classes - len(enum),
        "seconds": round(time.perf_counter() - t0, 2),
        "seconds_structure": round(t_struct, 2),
        "processes": processes,
    }
    return enum


# -- cache ---------------------------------------------------------------------------------


def cache_file(cache_dir: str | os.PathLike | None = None) -> Path:
    """<$WSNAS_CACHE or ~/.cache/wsnas>/nb101/unique_cells.npz"""
    return cache_root(cache_dir) / "nb101" / "unique_cells.npz"


def save_enumeration(enum: Enumeration, path: str | os.PathLike) -> Path:
    """Write atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    with atomic_write(path, fsync=True) as f:
        np.savez_compressed(
            f,
            hashes=enum.hashes,
            num_vertices=enum.num_vertices,
            masks=enum.masks,
            ops=enum.ops,
            meta=np.array(json.dumps(enum.meta, sort_keys=True)),
        )
    return path


def load_enumeration(path: str | os.PathLike) -> Enumeration:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != CACHE_FORMAT or meta.get("format_version") != CACHE_VERSION:
                raise BenchmarkError(
                    f"{path}: not a {CACHE_FORMAT} v{CACHE_VERSION} file; delete it to rebuild"
                )
            enum = Enumeration(z["hashes"], z["num_vertices"], z["masks"], z["ops"], meta)
    except (OSError, ValueError, KeyError) as e:
        raise BenchmarkError(
            f"{path}: unreadable NB101 unique-cell cache ({e}); delete it to rebuild"
        ) from None
    if len(enum) != meta.get("count") or list(meta.get("ops", [])) != list(OPS):
        raise BenchmarkError(f"{path}: NB101 unique-cell cache is inconsistent; delete it to rebuild")
    return enum


def unique_cells(
    cache_dir: str | os.PathLike | None = None, *, build: bool = True, verbose: bool = True
) -> Enumeration:
    """The official space's unique cells: from the cache, else enumerated and cached."""
    path = cache_file(cache_dir)
    if path.is_file():
        enum = load_enumeration(path)
        limits = (enum.meta.get("max_vertices"), enum.meta.get("max_edges"))
        if limits != (MAX_VERTICES, MAX_EDGES):
            raise BenchmarkError(
                f"{path}: holds cells for limits {limits}, not the official "
                f"({MAX_VERTICES}, {MAX_EDGES}); delete it to rebuild"
            )
        enum.meta["source"] = f"cached {path}"
        return enum
    if not build:
        raise BenchmarkError(f"{path}: NB101 unique-cell cache missing")
    if verbose:
        print(f"enumerating the NB101 unique cells (once; cached at {path})...", file=sys.stderr, flush=True)
    enum = enumerate_cells()
    save_enumeration(enum, path)
    enum.meta["source"] = f"enumerated in {enum.meta['seconds']} s, cached {path}"
    if verbose:
        print(f"{len(enum)} unique cells in {enum.meta['seconds']} s", file=sys.stderr, flush=True)
    return enum
