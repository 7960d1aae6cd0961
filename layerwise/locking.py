"""An exclusive lock on a run folder, so that two :func:`layerwise.fit` calls never write one folder.

:class:`FolderLock` holds ``<folder>/.lock`` under an ``fcntl.flock`` for as long as the writer
runs. The file holds the writer's PID, host and start time, which a refused second writer quotes.
The kernel drops a ``flock`` when its process dies (``kill -9`` included), so a lock file left
by a dead writer is recognised as stale (nobody holds it) and taken over with a warning.

On a platform without ``fcntl`` (Windows) the file is created exclusively instead; a lock file
left by a dead process is then refused like a live one, and the message says to delete it.
"""

from __future__ import annotations

import json
import os
import socket
import time
import warnings
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["FolderLock", "FolderInUseError", "StaleLockWarning", "LOCK_FILE"]

LOCK_FILE = ".lock"


class FolderInUseError(OSError):
    """Another process holds the lock on the folder (it is writing there now)."""


class StaleLockWarning(UserWarning):
    """A lock file left by a process that no longer runs was taken over."""


def _holder(text: str) -> str:
    """How a message names the writer recorded in a lock file's ``text``."""
    try:
        info = json.loads(text)
        return (f"PID {info['pid']} on host {info['host']!r}, "
                f"since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(info['started']))}")
    except (ValueError, KeyError, TypeError, OverflowError):
        return "an unknown process (unreadable lock file)"


class FolderLock:
    """Exclusive lock on ``folder`` (created if missing), held between :meth:`acquire` and :meth:`release`.

    Usable as a context manager. ``acquire`` raises :class:`FolderInUseError` naming the holder
    when another process (or another lock object of this process) holds the folder, and warns
    with :class:`StaleLockWarning` when it takes over the lock file of a process that died.

    Parameters
    ----------
    folder : path-like
        The folder to lock; the lock file is ``folder/.lock``.
    what : str
        What the error calls the writer (``"fit"``).
    """

    def __init__(self, folder: str | os.PathLike, what: str = "fit"):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> "FolderLock":
        if self._fd is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, previous = self._lock_fcntl() if fcntl is not None else self._lock_exclusive()
        if previous.strip():
            warnings.warn(
                f"Took over the stale lock '{self.path}' of {_holder(previous)}: that process no "
                "longer holds it (it ended without releasing the folder).", StaleLockWarning, stacklevel=3)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(me).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def _refuse(self, holder_text: str):
        return FolderInUseError(
            f"'{self.folder}' is in use by another {self.what} ({_holder(holder_text)}); "
            f"wait for it to finish or choose another folder.")

    def _lock_fcntl(self) -> tuple[int, str]:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                text = _read(fd)
                os.close(fd)
                raise self._refuse(text) from None
            try:  # the holder may have removed the file between our open and flock: lock the new one
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                return fd, _read(fd)
            os.close(fd)

    def _lock_exclusive(self) -> tuple[int, str]:  # pragma: no cover - Windows
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), ""
        except FileExistsError:
            text = self.path.read_text(errors="replace")
            raise FolderInUseError(
                f"{self._refuse(text)} If that process is no longer running, delete '{self.path}'.") from None

    def release(self) -> None:
        """Remove the lock file and let go of the lock (a no-op when not held)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            self.path.unlink(missing_ok=True)  # before unlocking: a waiting writer re-checks the inode
        finally:
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")
