"""A motion handed to the index that is not a plain motion file: a Blender action, or one clip of
an FBX, glTF or .blend file (with its file's size, time and content hash)."""

from __future__ import annotations

from dataclasses import dataclass

from ..motion import Motion


@dataclass
class MotionItem:
    """A motion that is not a file (a Blender action): indexed under `id` while its hash is unchanged.

    A clip of an FBX, glTF or .blend file (runtime.io.blender_files) is one too, with its file's
    `path`, size and time, so the next update sees the file unchanged without converting it; a
    file that could not be converted is one with `motion` None and its `error`.
    """

    id: str
    motion: Motion | None
    content_hash: str
    label: str = ""
    path: str = ""
    size: int = 0
    mtime_ns: int = 0
    fps_override: float | None = None
    rig_map: str = ""
    error: str = ""
