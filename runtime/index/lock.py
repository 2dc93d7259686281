"""One writer at a time: an exclusive lock on `<index>/.lock`, held for a whole update.

The operating system's own file lock (flock on Linux and macOS, a byte-range lock on Windows) is
released when its holder exits or is killed, so a crashed update never leaves a stale lock. The
holder writes who it is (process, host, start time) after the locked byte, so a second writer
can say who holds the index. Readers never take the lock: they read the last committed
metadata.json (see runtime/index/store.py) and never see a half-written update.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from ..errors import LibraryIndexError

LOCK_NAME = ".lock"
POLL_S = 0.2
HOLDER_GRACE_S = 1.0  # past the wait, how long a writer waits for the holder's name (see _acquire)
UNKNOWN_HOLDER = "another process"


class IndexLock:
    """`with IndexLock(path, wait_s):` holds the index's writer lock (re-entrant in one object)."""

    def __init__(self, index_path: str | os.PathLike, wait_s: float = 0.0):
        self.path = Path(index_path) / LOCK_NAME
        self.wait_s = wait_s
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> "IndexLock":
        if self._depth == 0:
            self._acquire()
        self._depth += 1
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._release()

    def _acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise LibraryIndexError(f"{self.path.parent}: cannot lock the index ({e.strerror or e})") from None
        deadline = time.monotonic() + max(self.wait_s, 0.0)
        while True:
            if _try_lock(fd):
                break
            now = time.monotonic()
            # a holder writes who it is just after locking and clears it just before unlocking: met in
            # between, wait a moment (HOLDER_GRACE_S) for its name or the lock, not "another process"
            if now >= deadline and (holder_text(self.path) != UNKNOWN_HOLDER or now >= deadline + HOLDER_GRACE_S):
                holder = holder_text(self.path)
                os.close(fd)
                raise LibraryIndexError(f"{self.path.parent}: the index is being updated by {holder}; "
                                        "try again when that update has finished")
            time.sleep(POLL_S if now < deadline else POLL_S / 10)
        owner = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                            "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode()
        os.lseek(fd, 1, os.SEEK_SET)
        os.write(fd, owner + b"\n")
        os.ftruncate(fd, 1 + len(owner) + 1)
        self._fd = fd

    def _release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 1)
        except OSError:
            pass
        _unlock(self._fd)
        os.close(self._fd)
        self._fd = None


def holder_text(lock_path: Path) -> str:
    """'process 1234 on host since 2026-12-06 17:30:00', as well as the holder wrote it."""
    try:
        raw = lock_path.read_bytes()[1:].decode("utf-8", "replace").strip()
        who = json.loads(raw) if raw else {}
        return f"process {who['pid']} on {who['host']} since {who['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return UNKNOWN_HOLDER


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
