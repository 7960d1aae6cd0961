"""File modes: what the user's umask asks for, for files and folders made through temporaries.

``tempfile.mkstemp`` makes files 0600 and ``tempfile.mkdtemp`` folders 0700, whatever the umask;
a file written to a temporary and renamed keeps that mode. :func:`share_like_umask` gives such a
path the mode that ``open``/``mkdir`` would have given it (0644 / 0755 under the usual 022 umask),
so that colleagues on a shared machine can read run folders, checkpoints and downloads when the
user's umask lets them.
"""

from __future__ import annotations

import os
import threading

__all__ = ["current_umask", "share_like_umask"]

_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask (e.g. ``0o022``), read without changing it where the system allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting it and setting it
    back (under a lock, against the other threads of this module).
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def share_like_umask(path: str | os.PathLike, folder: bool = False) -> None:
    """Give ``path`` the mode a plain ``open`` (``0o666``) or ``mkdir`` (``0o777``) would under the umask.

    Parameters
    ----------
    path : str or os.PathLike
        A file or folder made by ``mkstemp`` / ``mkdtemp`` (or a library that writes 0600).
    folder : bool
        ``path`` is a folder.
    """
    os.chmod(path, (0o777 if folder else 0o666) & ~current_umask())
