"""The errors a user can see. Each names the file and says what is wrong in one sentence.

Every message is made safe to print (`safe_text`): a file name or a value from a file can hold
terminal escape sequences, bytes that are not UTF-8, or 200,000 digits; a message shows none of
them raw and stays short.
"""

from __future__ import annotations

import os
import re

MAX_MESSAGE_CHARS = 1000  # a message longer than this is cut
MAX_WORD_CHARS = 100  # one "word" (a number, a name) longer than this is cut ...
MAX_PATH_CHARS = 500  # ... unless it is a path (it holds a / or \\): those are kept longer
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_LONG_WORD = re.compile(r"\S{%d,}" % (MAX_WORD_CHARS + 1))


def _cut_word(word: str) -> str:
    limit = MAX_PATH_CHARS if ("/" in word or "\\" in word) else MAX_WORD_CHARS
    if len(word) <= limit:
        return word
    return f"{word[:limit // 2]}...({len(word)} characters)"


def safe_text(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` fit for a terminal, a log or a Blender panel: control characters shown as escapes
    (\\x1b, \\n), bytes that were not UTF-8 (surrogate escapes of a file name) as \\xNN, long
    words and long messages cut with "..." and the length they had."""
    s = str(text)
    s = _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}" if ord(m.group()) >= 0xDC80 else "?", s)
    s = _CONTROL.sub(lambda m: {"\n": "\\n", "\t": " ", "\r": "\\r"}.get(m.group(), f"\\x{ord(m.group()):02x}"), s)
    s = _LONG_WORD.sub(lambda m: _cut_word(m.group()), s)
    if len(s) > limit:
        s = f"{s[: limit - 60]} ... ({len(s)} characters)"
    return s


class MotionSearchError(Exception):
    """Base class: a problem with the user's input, reported without a traceback."""

    def __init__(self, *args):
        super().__init__(*(safe_text(a) if isinstance(a, str) else a for a in args))


class MotionFormatError(MotionSearchError):
    """A motion file that cannot be read (syntax, truncation, non-finite values, limits)."""

    def __init__(self, path: str | os.PathLike, message: str, line: int | None = None):
        self.path = os.fspath(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class RigMappingError(MotionSearchError):
    """A skeleton whose bones cannot be mapped onto the canonical 22-joint body.

    The message fits one line of a panel as well as a terminal: the missing joints, a few of the
    file's bones, and the way out in both places (a bone map: --rig-map on the command line, the
    Library Bone Map preference in Blender; an armature in a scene gets the add-on's own message).
    """

    def __init__(self, path: str | os.PathLike, missing: list[str], tried: list[str], bones: list[str]):
        self.path = os.fspath(path)
        self.missing = list(missing)
        self.tried = list(tried)
        shown = ", ".join(bones[:6]) + (f", ... ({len(bones)} bones)" if len(bones) > 6 else "")
        joints = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        shape = next((t[len("skeleton shape ("):-1] for t in self.tried if t.startswith("skeleton shape (")), "")
        super().__init__(
            f"{self.path}: unknown rig: no bone found for {joints}"
            + (f" (bones: {shown})" if bones else "")
            + (f"; by its shape: {shape}" if shape else "")
            + "; give a bone map (--rig-map FILE.json, or Library Bone Map in the Blender add-on's preferences)"
        )


class BoneMapFileError(RigMappingError):
    """A bone map file (JSON, `--rig-map` / Save Bone Map) that cannot be used: the file and why."""

    def __init__(self, path: str | os.PathLike, message: str):
        self.path = os.fspath(path)
        self.missing, self.tried, self.reason = [], [], message
        MotionSearchError.__init__(self, f"{self.path}: bone map file: {message}")


class LibraryIndexError(MotionSearchError):
    """An index directory that is missing, corrupt, or built for another model or format."""


class DamagedIndexError(LibraryIndexError):
    """An index whose files do not match their checksums, are missing or cannot be parsed: it is
    derived from the motion files, so encoding the library again (--rebuild) recovers it."""


class StaleIndexError(LibraryIndexError):
    """An intact index built by another model or in an older format: its clips must be encoded
    again (an index update does that, see LibraryIndex.open_or_create)."""


class BundleError(MotionSearchError):
    """A model bundle that is missing files, fails its hash check, or has an unknown format."""
