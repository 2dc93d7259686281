"""What is in a library folder: motion files the runtime reads itself, files only Blender reads
(FBX, glTF/GLB, .blend), and everything else, which the index names in its report as not read.

Hidden files and folders are skipped. Files read together with another one are not "other": an
ASF skeleton (with its AMC motions) and a glTF's buffers (.bin beside a .gltf).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..io import SCENE_SUFFIXES
from ..motion import MOTION_SUFFIXES

COMPANION_SUFFIXES = (".asf",)


@dataclass
class LibraryFiles:
    motion: list[str] = field(default_factory=list)  # .bvh, .amc
    scene: list[str] = field(default_factory=list)  # .fbx, .glb, .gltf, .blend
    other: list[str] = field(default_factory=list)  # not motion files: not read


def scan(root: str | os.PathLike) -> LibraryFiles:
    """The files under `root` (or `root` itself), each list sorted."""
    root = os.fspath(root)
    out = LibraryFiles()
    if os.path.isfile(root):
        _sort_into(out, os.path.dirname(root), [os.path.basename(root)])
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        _sort_into(out, dirpath, sorted(f for f in filenames if not f.startswith(".")))
    return out


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
