"""One writer per folder: an exclusive `fcntl.flock` on a lock file inside it.

The kernel drops the lock when its process ends, however it ends (kill -9 included),
so a lock is never stale. The file holds the holder's pid, so a refused writer can
say who holds it; the file itself is left in place (removing a lock file that another
process may have open is what makes lock files racy).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from wsnas.core.errors import WsnasError

LOCK_NAME = ".wsnas.lock"


class Locked(WsnasError):
    """The folder is being written by another process (`pid`, when it could be read)."""

    def __init__(self, message: str, pid: int | None) -> None:
        super().__init__(message)
        self.pid = pid


class DirLock:
    """The exclusive lock of FOLDER (which must exist); `acquire` never waits."""

    def __init__(self, folder: str | os.PathLike, what: str = "folder") -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.what = what
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise `Locked` naming the holder's pid; OS errors are one-line errors."""
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                who = f"pid {pid}" if pid is not None else "an unknown pid"
                raise Locked(
                    f"{self.what} {self.folder} is being written by another process ({who}); "
                    "wait for it to finish or choose another name/out_dir",
                    pid,
                ) from None
            if self._same_file(fd):
                break
            os.close(fd)  # the holder removed the file before releasing it: lock the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self, remove: bool = False) -> None:
        """Drop the lock; `remove` also deletes the lock file (while still holding it)."""
        if self._fd is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> DirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)  # minus the umask
        except OSError as e:
            raise WsnasError(f"cannot lock {self.what} {self.folder}: {e.strerror}") from None

    def _same_file(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False


def holder(folder: str | os.PathLike) -> int | None:
    """The pid that holds FOLDER's lock now (0 if unknown), or None if nobody does."""
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        return 0 if pid is None else pid
    else:
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip())
    return None
