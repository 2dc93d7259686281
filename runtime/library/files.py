"""What is in a library folder: motion files the runtime reads itself, files only Blender reads
(FBX, glTF/GLB, .blend), and everything else, which the index names in its report as not read.

Every entry is its own fault domain: listing never opens a file, and an entry that cannot be a
motion file is set aside with its reason instead of stopping the scan: a broken or looping link,
a FIFO, device or socket (never opened: reading one can hang or never end), an entry that
vanished, a folder that cannot be listed, a hidden file or folder (skipped, and named so).
Links to files and folders are followed, each real folder once (a link back up the tree is a
loop, named as one). Files read together with another one are not "other": an ASF skeleton
(with its AMC motions) and a glTF's buffers (.bin beside a .gltf).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field

from ..io import SCENE_SUFFIXES
from ..motion import MOTION_SUFFIXES

COMPANION_SUFFIXES = (".asf",)
HIDDEN = "hidden: skipped"
NOT_MOTION = "not a motion file"


@dataclass
class LibraryFiles:
    motion: list[str] = field(default_factory=list)  # .bvh, .amc
    scene: list[str] = field(default_factory=list)  # .fbx, .glb, .gltf, .blend
    other: list[str] = field(default_factory=list)  # not motion files: not read
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why): cannot be a motion file


def scan(root: str | os.PathLike) -> LibraryFiles:
    """The files under `root` (or `root` itself), each list sorted."""
    root = os.fspath(root)
    out = LibraryFiles()
    kind, why = _kind(root)
    if kind == "file":
        _sort_into(out, os.path.dirname(root), [os.path.basename(root)])
        return out
    if kind != "dir":
        out.skipped.append((root, why))
        return out
    _walk(root, out)
    return out


def _walk(root: str, out: LibraryFiles) -> None:
    """Depth first, in name order, each real folder once; with a stack, not recursion (a folder
    tree thousands of levels deep is someone's file system too)."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            key = (st.st_dev, st.st_ino)
            if key in seen:
                out.skipped.append((folder, "link loop: this folder is already in the library"))
                continue
            seen.add(key)
            names = sorted(os.listdir(folder))
        except OSError as e:
            out.skipped.append((folder, _reason(e, folder=True)))
            continue
        files, folders = [], []
        for name in names:
            path = os.path.join(folder, name)
            if name.startswith("."):
                out.skipped.append((path, HIDDEN))
                continue
            kind, why = _kind(path)
            if kind == "file":
                files.append(name)
            elif kind == "dir":
                folders.append(path)
            else:
                out.skipped.append((path, why))
        _sort_into(out, folder, files)
        stack.extend(reversed(folders))  # the first sub-folder next, as a recursive walk would


def _kind(path: str) -> tuple[str, str]:
    """("file" | "dir" | "skip", why) from the entry's stat (links followed), without opening it."""
    try:
        st = os.stat(path)
    except OSError as e:
        return "skip", _reason(e)
    if stat.S_ISREG(st.st_mode):
        return "file", ""
    if stat.S_ISDIR(st.st_mode):
        return "dir", ""
    what = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else \
        "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file"
    return "skip", f"{what}, not a file: not opened"


def _reason(e: OSError, folder: bool = False) -> str:
    thing = "folder" if folder else "file"
    if e.errno == errno.ELOOP:
        return "link loop: the link points back at itself"
    if e.errno == errno.ENOENT:
        return "broken link: what it points to does not exist" if not folder else "folder vanished"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied: cannot read this {thing}"
    return f"cannot read this {thing} ({e.strerror or e})"


def _sort_into(out: LibraryFiles, folder: str, names: list[str]) -> None:
    has_gltf = any(n.lower().endswith(".gltf") for n in names)
    for name in names:
        low = name.lower()
        path = os.path.join(folder, name)
        if low.endswith(MOTION_SUFFIXES):
            out.motion.append(path)
        elif low.endswith(SCENE_SUFFIXES):
            out.scene.append(path)
        elif low.endswith(COMPANION_SUFFIXES) or (has_gltf and low.endswith(".bin")):
            continue
        else:
            out.other.append(path)


def other_files_text(paths: list[str], show: int = 10) -> str:
    """`3 other files not read (2 .json, 1 .txt): a.json, b.json, c.txt` (the first `show` named)."""
    if not paths:
        return ""
    kinds: dict[str, int] = {}
    for p in paths:
        ext = os.path.splitext(p)[1].lower() or "(no extension)"
        kinds[ext] = kinds.get(ext, 0) + 1
    by_kind = ", ".join(f"{n} {ext}" for ext, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))
    names = ", ".join(os.path.basename(p) for p in paths[:show]) + (f", ... ({len(paths) - show} more)"
                                                                    if len(paths) > show else "")
    return f"{len(paths)} other file{'s' if len(paths) != 1 else ''} not read ({by_kind}): {names}"
