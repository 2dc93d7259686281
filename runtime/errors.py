"""The errors a user can see. Each names the file and says what is wrong in one sentence."""

from __future__ import annotations

import os


class MotionSearchError(Exception):
    """Base class: a problem with the user's input, reported without a traceback."""


class MotionFormatError(MotionSearchError):
    """A motion file that cannot be read (syntax, truncation, non-finite values, limits)."""

    def __init__(self, path: str | os.PathLike, message: str, line: int | None = None):
        self.path = os.fspath(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class RigMappingError(MotionSearchError):
    """A skeleton whose bones cannot be mapped onto the canonical 22-joint body."""

    def __init__(self, path: str | os.PathLike, missing: list[str], tried: list[str], bones: list[str]):
        self.path = os.fspath(path)
        self.missing = list(missing)
        self.tried = list(tried)
        shown = ", ".join(bones[:12]) + (f", ... ({len(bones)} bones)" if len(bones) > 12 else "")
        super().__init__(
            f"{self.path}: unknown rig: canonical joints {', '.join(missing)} have no bone "
            f"(tried conventions: {', '.join(tried)}; bones in the file: {shown}). "
            "Write a JSON mapping {\"<canonical joint>\": \"<bone name>\", ...} and pass it with --rig-map."
        )


class LibraryIndexError(MotionSearchError):
    """An index directory that is missing, corrupt, or built for another model or format."""


class StaleIndexError(LibraryIndexError):
    """An intact index built by another model or in an older format: its clips must be encoded
    again (an index update does that, see LibraryIndex.open_or_create)."""


class BundleError(MotionSearchError):
    """A model bundle that is missing files, fails its hash check, or has an unknown format."""
