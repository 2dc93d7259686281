"""Room for an index's memory-mapped files among the files this process may open.

Every memory-mapped array holds an open file descriptor for as long as it lives (Python's mmap
keeps a duplicate of the file's), and a large index maps up to four files a chunk (codes, and
above CODES_IN_MEMORY the pooled vectors, part summaries and sketches): a 100k-clip library ~1,560,
a 1M-clip one ~15,600. Many systems start a process with a soft limit of 1,024 open files (macOS:
256) under a far higher hard limit, which a process may raise itself; without that, a 100k-clip
library failed to open with "Too many open files", reported as a damaged chunk. Opening an index
raises the soft limit as far as it needs and the hard limit allows, and says plainly what to
change where the hard limit is too low.
"""

from __future__ import annotations

import os
import sys

SPARE = 256  # descriptors left free for everything else the process opens
MACOS_OPEN_MAX = 10_240  # macOS refuses a soft limit above this even under an unlimited hard limit


def open_now() -> int:
    """Files this process has open (0 where the system does not say)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder))
        except OSError:
            continue
    return 0


def room_for(needed: int) -> int:
    """Raise this process's soft limit on open files (RLIMIT_NOFILE) so that `needed` more fit
    beside those open now and SPARE, as far as the hard limit allows; returns how many more it may
    open now (sys.maxsize where the system sets no such limit: Windows)."""
    try:
        import resource
    except ImportError:
        return sys.maxsize
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    now = open_now()
    if soft == resource.RLIM_INFINITY:
        return sys.maxsize
    want = now + needed + SPARE
    if soft < want:
        ceiling = want if hard == resource.RLIM_INFINITY else min(want, hard)
        for target in (ceiling, min(ceiling, MACOS_OPEN_MAX)):
            if target <= soft:
                break
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                soft = target
                break
            except (ValueError, OSError):
                continue
    return max(soft - now, 0)


def too_many_files_message(path, needed: int, room: int) -> str:
    return (f"{path}: this index maps {needed} files, but this process may open only {room} more (the "
            f"system's limit on open files); raise it, e.g. `ulimit -n {needed + 2 * SPARE}` in the shell that "
            "starts Blender or the command")
