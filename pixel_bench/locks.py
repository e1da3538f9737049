"""One live owner per directory: an OS file lock (``flock``) with the holder's PID inside.

Used for a result cell (``run``) and a pretraining run directory (``pretrain``). The kernel drops
a ``flock`` when its process dies, crash or SIGKILL included, so a stale lock file never blocks
anyone; the PID written into the file only serves the message of the process that is refused.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Callable

from .errors import BusyError


class DirLock:
    """A held lock; :meth:`release` (or leaving the ``with`` block) frees it."""

    def __init__(self, path: Path, fd: int, remove: bool) -> None:
        self.path, self._fd, self._remove = path, fd, remove

    def release(self) -> None:
        if self._fd < 0:
            return
        if self._remove:
            # Unlinked while still held: a process that opened the old file re-checks the inode
            # after locking (acquire) and starts over on the new file.
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> "DirLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder_pid(path: Path) -> int | None:
    """The PID the holder wrote into the lock file (None: unknown, e.g. another tool's lock)."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def acquire(path: str | Path, busy: Callable[[int | None], str], wait: bool = False,
            on_wait: Callable[[int | None], None] | None = None,
            remove_on_release: bool = False, error: type[Exception] = BusyError) -> DirLock:
    """Take the lock file ``path`` (created with its folder if missing).

    Held by another process: raise ``error`` (:class:`BusyError`) with ``busy(holder_pid)`` as
    the message, or with ``wait`` call ``on_wait(holder_pid)`` and block until it is free.
    ``remove_on_release`` deletes the lock file on release (safe: see :class:`DirLock`).
    """
    path = Path(path)
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # no O_TRUNC: the holder's PID
        except FileNotFoundError:  # a releasing holder removed the empty folder just now
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = holder_pid(path)
                if not wait:
                    raise error(busy(pid)) from None
                if on_wait is not None:
                    on_wait(pid)
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if not same:  # the previous holder removed the file as we waited: take the new one
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
            return DirLock(path, fd, remove_on_release)
        except BaseException:
            try:
                os.close(fd)
            except OSError:
                pass
            raise
