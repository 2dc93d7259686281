"""Content hashes: what identifies a file's bytes or a motion's frames, wherever they are stored.

A small utility below every sub-package: the library scan, the Blender conversion cache, the index
and the model bundle's manifest all use these, so none of them needs another to compute one.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np


def file_digest(path: str | os.PathLike, algorithm: str) -> str:
    """Hex digest of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_hash(path: str | os.PathLike) -> str:
    """SHA-1 of a file's bytes: what the library, the conversion cache and the index key files on."""
    return file_digest(path, "sha1")


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes: what a model bundle's manifest records for each of its files."""
    return file_digest(path, "sha256")


def motion_hash(motion) -> str:
    """SHA-1 of a Motion's canonical positions (a motion that is not a file, e.g. a Blender action)."""
    return hashlib.sha1(np.ascontiguousarray(motion.positions).tobytes()).hexdigest()
