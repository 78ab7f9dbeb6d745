"""Reading pickles from the internet without running code from them.

Benchmark files (bz2 pickles, torch.save files) and data set batches (CIFAR, ImageNet16)
come from the internet and a plain unpickler would run whatever they name. Here every
global a pickle names goes through an allowlist (containers, OrderedDict, numpy scalars;
for data set batches also numpy arrays; for torch files also numpy arrays and tensors) and
anything else is refused. One allowlist for every reader: the data readers use
`loads_with_arrays` and phrase their own errors.
"""

from __future__ import annotations

import bz2
import codecs
import functools
import io
import os
import pickle
import re
import types
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from wsnas.core.errors import BenchmarkError


def _numpy_multiarray(name: str) -> Any:
    """numpy's pickle helper NAME: numpy._core.multiarray (2.x) or numpy.core.multiarray (1.x)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    return getattr(multiarray, name)


def numpy_scalar() -> Any:
    """numpy's scalar reconstructor, the global pickles of numpy scalars name."""
    return _numpy_multiarray("scalar")


_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
"""Files name numpy's helpers under the numpy that wrote them (2020 files: 1.x)."""
_BUILTINS = ("builtins", "__builtin__")
"""Protocol <= 2 pickles (torch.save's default) write builtins as Python 2's __builtin__."""


def latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """What Python 3 protocol-2 pickles store bytes as, `_codecs.encode(str, 'latin1')`; no other codec
    (a codec such as zlib or bz2 would let a file decompress arbitrary data through the unpickler)."""
    norm = str(encoding).lower().replace("-", "").replace("_", "")
    if norm not in ("latin1", "iso88591", "l1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return codecs.encode(text, "latin1", errors)


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    **{(m, "set"): set for m in _BUILTINS},
    **{(m, "frozenset"): frozenset for m in _BUILTINS},
    ("_codecs", "encode"): latin1_encode,
    **{(m, "scalar"): numpy_scalar() for m in _NUMPY_MODULES},
    ("numpy", "dtype"): np.dtype,
}
"""Everything the official pickles need; any other global is refused."""


class RefusedGlobal(pickle.UnpicklingError):
    """A pickle names a global outside the allowlist (`qualname`: module.name)."""

    def __init__(self, qualname: str, allowed: str) -> None:
        super().__init__(f"refused global {qualname} (only {allowed} are allowed)")
        self.qualname = qualname


class _Peekable:
    """A seekable stream (BytesIO) with peek(): without peek the C unpickler reads a frameless
    (protocol 2, torch.save's) pickle with one read() call per opcode, with it one per 128 KiB:
    2x faster on the zip format, whose pickle torch hands over as a BytesIO. It still read()s
    only what it consumed, so the stream is left right after the pickle."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self.read = f.read
        self.readline = f.readline
        self.readinto = f.readinto

    def peek(self, n: int = 1) -> bytes:
        pos = self._f.tell()
        data = self._f.read(max(n, 1))
        self._f.seek(pos)
        return data


class _AllowlistUnpickler(pickle.Unpickler):
    """The C unpickler, resolving globals only from the allowlist (so no code can run)."""

    allowed_kinds: ClassVar[str] = "containers, OrderedDict and numpy scalars"

    def __init__(self, file: Any, **kwargs: Any) -> None:
        if not hasattr(file, "peek") and hasattr(file, "readinto") and getattr(file, "seekable", bool)():
            file = _Peekable(file)
        super().__init__(file, **kwargs)

    def allowed(self) -> Mapping[tuple[str, str], Any]:
        return _ALLOWED_GLOBALS

    def find_class(self, module: str, name: str) -> Any:
        try:
            obj = self.allowed()[(module, name)]
        except KeyError:
            raise RefusedGlobal(f"{module}.{name}", self.allowed_kinds) from None
        # A plain Python function could have its attributes (__defaults__) changed by a BUILD
        # opcode; hand out a fresh wrapper so a file cannot alter it for the rest of the process.
        return functools.partial(obj) if isinstance(obj, types.FunctionType) else obj


def load_pbz2(path: Path) -> Any:
    """A bz2-compressed pickle through the allowlist; BenchmarkError names the file."""
    try:
        raw = bz2.decompress(path.read_bytes())
    except OSError as e:
        raise BenchmarkError(f"{path}: cannot read ({e.strerror or e})") from None
    except (ValueError, EOFError) as e:
        raise BenchmarkError(f"{path}: not a valid bz2 file or truncated ({e})") from None
    try:
        return _AllowlistUnpickler(io.BytesIO(raw)).load()
    except RefusedGlobal as e:
        raise BenchmarkError(f"{path}: {e}") from None
    except Exception as e:  # truncated or garbled pickles raise many types
        raise BenchmarkError(f"{path}: corrupt pickle ({type(e).__name__}: {e})") from None


# -- data set batches (pickled dicts of numpy arrays) ----------------------------------


_ARRAY_GLOBALS: dict[tuple[str, str], Any] = {
    **_ALLOWED_GLOBALS,
    **{(m, "_reconstruct"): _numpy_multiarray("_reconstruct") for m in _NUMPY_MODULES},
    ("numpy", "ndarray"): np.ndarray,
}
"""The allowlist plus plain numpy arrays: what a CIFAR or ImageNet16 python batch holds."""


class _ArrayUnpickler(_AllowlistUnpickler):
    allowed_kinds: ClassVar[str] = "containers, numpy scalars and numpy arrays"

    def allowed(self) -> Mapping[tuple[str, str], Any]:
        return _ARRAY_GLOBALS


def loads_with_arrays(raw: bytes, encoding: str = "bytes") -> Any:
    """A plain pickle that may hold numpy arrays, through the allowlist.

    ENCODING is how Python 2 byte strings come back ("bytes": as bytes, the way the official
    CIFAR batches are read). Raises RefusedGlobal for a global outside the allowlist and
    whatever the unpickler raises for a truncated or garbled file: the caller names the file.
    """
    return _ArrayUnpickler(io.BytesIO(raw), encoding=encoding).load()


# -- torch.save files ---------------------------------------------------------------


@functools.cache
def _torch_allowed_globals() -> dict[tuple[str, str], Any]:
    """The allowlist plus numpy arrays and what torch.save writes for a tensor (built once torch loads).

    Storage classes are left out on purpose: torch.load's own find_class turns typed storage
    names into inert StorageType records before asking ours, and the classes themselves are
    mutable Python classes.
    """
    import torch

    allowed = dict(_ALLOWED_GLOBALS)
    for m in _BUILTINS:
        allowed[(m, "bytearray")] = bytearray
        allowed[(m, "complex")] = complex
    for m in _NUMPY_MODULES:
        allowed[(m, "_reconstruct")] = _numpy_multiarray("_reconstruct")
    allowed[("numpy", "ndarray")] = np.ndarray
    for n in ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter"):
        if hasattr(torch._utils, n):
            allowed[("torch._utils", n)] = getattr(torch._utils, n)
    allowed[("torch", "Size")] = torch.Size
    allowed[("torch", "device")] = torch.device
    allowed.update({("torch", n): v for n, v in vars(torch).items() if isinstance(v, torch.dtype)})
    return allowed


class _TorchFileUnpickler(_AllowlistUnpickler):
    """The allowlist for torch files; torch.load subclasses this (pickle_module.Unpickler)."""

    allowed_kinds: ClassVar[str] = "containers, OrderedDict, numpy scalars/arrays and tensors"

    def allowed(self) -> Mapping[tuple[str, str], Any]:
        return _torch_allowed_globals()


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return _TorchFileUnpickler(file, **kwargs).load()


def _restricted_loads(data: bytes, **kwargs: Any) -> Any:
    return _restricted_load(io.BytesIO(data), **kwargs)


RESTRICTED_PICKLE = types.ModuleType(
    "wsnas_restricted_pickle", "torch.load's pickle_module: the C unpickler behind the allowlist."
)
"""Passed as torch.load(pickle_module=...): torch then subclasses its Unpickler for the main
pickle and calls its load() for the legacy format's header records, so every object in either
torch format goes through the allowlist, at C-unpickler speed: ~18x faster than torch's pure-Python
weights_only unpickler on a synthetic v1.1-layout file (benchmarks/bench_pth_read.py)."""
RESTRICTED_PICKLE.Unpickler = _TorchFileUnpickler  # type: ignore[attr-defined]
RESTRICTED_PICKLE.load = _restricted_load  # type: ignore[attr-defined]
RESTRICTED_PICKLE.loads = _restricted_loads  # type: ignore[attr-defined]
RESTRICTED_PICKLE.UnpicklingError = pickle.UnpicklingError  # type: ignore[attr-defined]


def torch_safe_globals() -> list[Any]:
    """numpy scalar/dtype reconstruction for torch's weights_only unpickler, numpy 1.x and 2.x names."""
    scalar = numpy_scalar()
    allowed: list[Any] = [
        (scalar, "numpy.core.multiarray.scalar"),
        (scalar, "numpy._core.multiarray.scalar"),
        np.dtype,
    ]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        allowed += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return allowed


def _torch_forces_weights_only() -> bool:
    """TORCH_FORCE_WEIGHTS_ONLY_LOAD makes torch refuse any pickle_module; use its own unpickler then."""
    return os.getenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0").lower() in ("1", "y", "yes", "true")


def _is_torchscript(f: Any) -> bool:
    """True for a TorchScript zip, which torch.load(weights_only=False) would hand to torch.jit.load."""
    import torch

    start = f.tell()
    if f.read(4) != b"PK\x03\x04":
        f.seek(start)
        return False
    f.seek(start)
    records = torch._C.PyTorchFileReader(f).get_all_records()  # the reader torch.load uses
    f.seek(start)
    return any(r == "constants.pkl" or r.startswith("code/") for r in records)


def load_torch_file(path: Path, expected: str) -> Any:
    """A torch.save file (zip or legacy format) through the allowlist; BenchmarkError names the file.

    EXPECTED says what the file should have been ("a NAS-Bench-201 benchmark file") in the
    errors for TorchScript archives and refused objects.
    """
    import torch  # lazy: only torch-file sources need it

    where = str(path)
    try:
        if _torch_forces_weights_only():
            with torch.serialization.safe_globals(torch_safe_globals()):
                return torch.load(path, map_location="cpu", weights_only=True)
        with open(path, "rb") as f:  # one handle for the TorchScript check and the load
            if _is_torchscript(f):
                raise BenchmarkError(f"{where}: a TorchScript archive, not {expected}")
            return torch.load(f, map_location="cpu", weights_only=False, pickle_module=RESTRICTED_PICKLE)
    except BenchmarkError:
        raise
    except RefusedGlobal as e:
        raise BenchmarkError(
            f"{where}: holds objects outside the allowlist ({e.qualname}); not {expected}"
        ) from None
    except Exception as e:
        text = str(e)
        refused = re.search(r"GLOBAL ([\w.]+)", text)  # torch's weights_only unpickler
        if refused:
            raise BenchmarkError(
                f"{where}: holds objects outside the allowlist ({refused.group(1)}); not {expected}"
            ) from None
        first = next((ln for ln in text.splitlines() if ln.strip()), type(e).__name__)
        raise BenchmarkError(
            f"{where}: not a readable torch file, truncated or corrupt ({type(e).__name__}: {first[:200]})"
        ) from None
