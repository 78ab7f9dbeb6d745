"""Fetching an official data set archive (tar.gz) atomically, md5-checked, with safe extraction.

Temp file -> md5 check -> extraction of only plain files under the data set's folder into a
temp folder -> rename, so an interrupted or corrupt download never leaves a half folder that
looks complete. Shared by CIFAR-10 and CIFAR-100 (ImageNet16 is distributed by hand).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wsnas.core.errors import DataError


def fetch_archive(
    root: Path,
    *,
    what: str,
    url: str,
    md5: str,
    folder: str,
    files: tuple[str, ...],
    opener: Callable[..., Any],
) -> Path:
    """Download URL (md5 MD5) and extract its FOLDER/ into ROOT/FOLDER; returns that folder.

    WHAT names the data set in messages; FILES must all be in the archive's FOLDER; OPENER is
    urllib.request.urlopen (tests serve a local archive instead).
    """
    dest = root / folder
    try:
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=root, prefix=f".{folder}-download-"))
    except OSError as e:
        raise DataError(f"{what} download: cannot write in data.root={root} ({e})") from None
    try:
        archive = work / Path(url).name
        print(f"wsnas: downloading {what} from {url} to {root}", file=sys.stderr)
        digest = hashlib.md5()
        try:
            with opener(url, timeout=60) as resp, archive.open("wb") as f:
                while chunk := resp.read(1 << 20):
                    digest.update(chunk)
                    f.write(chunk)
        except OSError as e:
            raise DataError(
                f"{what} download from {url} failed ({e}); download it by hand and extract it in {root}"
            ) from None
        if digest.hexdigest() != md5:
            raise DataError(
                f"{what} download from {url}: md5 {digest.hexdigest()} != expected {md5} "
                "(corrupt or changed file); nothing was kept"
            )
        extracted = work / "x"
        extracted.mkdir()
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = safe_members(tar, folder)
                if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: checked twice
                    tar.extractall(extracted, members=members, filter="data")
                else:  # pragma: no cover - older 3.11 patch releases
                    tar.extractall(extracted, members=members)
        except (tarfile.TarError, OSError, EOFError, ValueError) as e:
            raise DataError(f"{what} archive from {url} cannot be extracted: {e}") from None
        missing = [n for n in files if not (extracted / folder / n).is_file()]
        if missing:
            raise DataError(f"{what} archive from {url} lacks {folder}/{missing[0]}")
        try:
            os.rename(extracted / folder, dest)
        except OSError:
            if not dest.is_dir():  # else another process finished first: keep theirs
                raise
        return dest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def safe_members(tar: tarfile.TarFile, folder: str) -> list[tarfile.TarInfo]:
    """Plain files and folders under FOLDER/ only: no links, '..' or absolute paths."""
    members = []
    for m in tar.getmembers():
        parts = Path(m.name).parts
        if not parts or parts[0] != folder:
            continue  # not part of the data set
        if ".." in parts or not (m.isfile() or m.isdir()):
            raise tarfile.TarError(f"unsafe member {m.name!r}")
        members.append(m)
    return members


def missing_files(folder: Path, files: tuple[str, ...]) -> list[str]:
    return [n for n in files if not (folder / n).is_file()]


def missing_message(
    root: Path,
    *,
    what: str,
    official: str,
    folder: str,
    files: tuple[str, ...],
    missing: list[str],
    archive: str,
    url: str,
    md5: str,
) -> str:
    """Where WHAT's files should be and how to get them (data.download or by hand)."""
    path = root / folder
    found = f"folder {path} lacks {', '.join(missing)}" if path.is_dir() else f"folder {path} does not exist"
    hint = (
        f"remove the incomplete folder and set data.download=true to fetch {url}"
        if path.is_dir()
        else f"set data.download=true to fetch {url} (md5 {md5}) there"
    )
    return (
        f"{what} not found: {found}. Put the official '{official}' files "
        f"({', '.join(files)}) in {path} (data.root={root}: extract {archive} inside it), or {hint}"
    )


def read_or_fetch(
    root: Path,
    download: bool,
    *,
    folder: str,
    files: tuple[str, ...],
    fetch: Callable[[Path], Path],
    message: Callable[[list[str]], str],
) -> Path:
    """ROOT/FOLDER once every one of FILES is there; fetched first if DOWNLOAD and the folder is absent.

    Only a missing folder is downloaded: an incomplete one is left for the user to inspect,
    since it is not ours to delete.
    """
    path = root / folder
    missing = missing_files(path, files)
    if missing and download and not path.exists():
        fetch(root)
        missing = missing_files(path, files)
    if missing:
        raise DataError(message(missing))
    return path
