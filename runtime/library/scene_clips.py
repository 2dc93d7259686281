"""The index's side of FBX, glTF and .blend files: which changed, their clips as index items.

A file's clips are indexed as `<file>#<clip name>` (runtime.io) with the file's size,
time and content hash, so an unchanged file is neither converted nor read again; a changed one is
converted (one background Blender for all of them) and replaces its old clips. A file that fails
becomes one failed entry under its own path, with the importer's message.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import MotionSearchError
from ..hashing import content_hash
from ..io import NO_BLENDER, cache_path, clip_id, convert_files, is_scene_file
from ..motion import clip_motion
from .items import MotionItem

# Take names exporters give when nobody named the take (FBX "Take 001", Blender's "Scene", glTF "Animation")
GENERIC_TAKE = re.compile(r"^(scene|take[ _]?0*\d*|default take|animation[ _.]?\d*|action[ _.]?\d*|"
                          r"armature[|]?action|mixamo\.com|unreal take)$", re.IGNORECASE)


def scene_file_items(cache_dir: Path, files: list[str], existing: dict, seen: set, converter, fps_of,
                     rig_overrides, rig_map: str, report, progress=None, should_stop=None,
                     redescribe: bool = False, roots: list[str] | tuple[str, ...] = ()) -> list:
    """MotionItems for the clips of new and changed `files`; the ids of unchanged files' clips
    go into `seen` (and count as unchanged), except when their descriptions are to be redone
    (`redescribe`, or none yet): then their clips come back as items with the same content hash,
    read from the conversion cache, which the index describes without encoding them again.
    A file any of whose clips failed is converted (or mapped) again: a crash of Blender or a
    missing bone map is not the file's fault. `roots`: the library folders (a glTF may reference
    files anywhere in its library folder, nowhere outside it).
    `existing`: id -> (chunk, row, ClipEntry)."""
    by_path: dict[str, list] = {}
    for _, _, entry in existing.values():
        if entry.path and is_scene_file(entry.path):
            by_path.setdefault(entry.path, []).append(entry)
    todo: list[tuple[str, str, os.stat_result, float | None]] = []
    items: list[MotionItem] = []
    for path in dict.fromkeys(os.path.abspath(p) for p in files):
        fps = fps_of(path) if fps_of else None
        old = by_path.get(path, [])
        same = bool(old) and all(e.fps_override == fps and e.rig_map == rig_map and e.status == "ok" for e in old)
        try:
            st = os.stat(path)
            touched = not (same and all(e.size == st.st_size and e.mtime_ns == st.st_mtime_ns for e in old))
            digest = content_hash(path) if touched else old[0].content_hash
        except OSError as e:  # vanished or unreadable since the scan: this file only
            why = f"{path}: cannot read the file now ({e.strerror or e})"
            if old and all(c.status == "ok" for c in old):
                seen.update(c.id for c in old)  # indexed before: kept as it was
                report.failed.append((path, why + "; kept as it was indexed"))
            else:
                items.append(MotionItem(id=path, motion=None, content_hash="", label=Path(path).name, path=path,
                                        fps_override=fps, rig_map=rig_map, error=why))
            continue
        if same and all(e.content_hash == digest for e in old):
            if redescribe or any((e.description is None or e.captions is None) and e.status == "ok" for e in old):
                todo.append((path, digest, st, fps))  # read again to be described, not encoded
                continue
            seen.update(e.id for e in old)
            report.unchanged += len(old)
            continue
        todo.append((path, digest, st, fps))
    if not todo:
        return items
    converted = convert_files([(p, h) for p, h, _, _ in todo], converter, cache_dir, progress, should_stop,
                              roots=roots)
    for path, digest, st, fps in todo:
        result = converted.get(path)
        if result is None or result.error == NO_BLENDER:  # stopped, or no Blender: keep the old
            seen.update(e.id for e in by_path.get(path, []))
            if result is not None:
                report.not_read.append((path, result.error))
            continue
        report.converted += not result.from_cache
        common = dict(content_hash=digest, path=path, size=st.st_size, mtime_ns=st.st_mtime_ns, fps_override=fps,
                      rig_map=rig_map)
        if result.clips is None:
            items.append(MotionItem(id=path, motion=None, label=Path(path).name, error=f"{path}: {result.error}",
                                    **common))
            continue
        for clip in result.clips:
            ident = clip_id(path, clip.name)
            try:
                motion = clip_motion(clip, ident, fps=fps, rig_overrides=rig_overrides)
                error = ""
            except MotionSearchError as e:
                motion, error = None, str(e)
            items.append(MotionItem(id=ident, motion=motion, label=clip_label(path, clip.name, len(result.clips)),
                                    error=error, **common))
    return items


def prune_cache(cache_dir: Path, clips) -> int:
    """Delete converted files no live clip comes from, and those of another conversion format
    (`<hash>-v1.npz` from an older version: never read again); returns how many."""
    if not cache_dir.is_dir():
        return 0
    live = {cache_path(cache_dir, c.content_hash).name
            for c in clips if c.path and is_scene_file(c.path)}
    gone = 0
    for f in cache_dir.glob("*.npz"):
        name = f.name.split(".npz.", 1)[0] + ".npz" if ".npz." in f.name else f.name  # a worker's file in
        # progress, `<hash>-v3.npz.<pid>.tmp.npz`, goes with the file it becomes
        if name not in live:
            f.unlink(missing_ok=True)
            gone += 1
    return gone


def clip_label(path: str, name: str, clips_in_file: int) -> str:
    """How a scene file's clip is shown: `walk #Take 2`; the file's name alone for the only clip of
    a file when the take's name says nothing (an exporter's default: "Scene", "Take 001")."""
    stem = Path(path).stem
    if clips_in_file == 1 and GENERIC_TAKE.match(name.strip()):
        return stem
    return f"{stem} #{name}"
