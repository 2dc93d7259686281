"""Reading the library's clips for an update: a file or a MotionItem -> its ClipEntry, its Motion and
its one-sentence description; in worker processes when asked."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import MotionSearchError, safe_text
from ..hashing import content_hash
from ..library import MotionItem
from ..motion import Motion, load_motion
from .entries import ClipEntry

log = logging.getLogger(__name__)


def describer_version() -> str:
    from ..describe import version

    return version()


def describe_summary(motion: Motion) -> str:
    """The sentence an index stores for a clip; "" when the describer cannot describe it (a clip
    too short, or a describer error: logged, never fatal to indexing)."""
    from ..describe import describe

    try:
        return describe(motion).summary
    except MotionSearchError:
        return ""
    except Exception as e:  # noqa: BLE001 - a describer bug must not cost the clip its place in the index
        log.warning("%s: cannot describe (%s: %s)", motion.source, type(e).__name__, e)
        return ""


def describe_texts(motion: Motion) -> tuple[str, list[str]]:
    """(the summary an index stores, the texts of its sentence vector: runtime.index.descriptions)."""
    from .descriptions import description_texts

    texts = description_texts(motion)
    return (texts[0] if texts else ""), texts


def read_clip(args: tuple) -> tuple[str, tuple[ClipEntry, Motion | None]]:
    ident, item, fps, overrides, rig_map = args
    if isinstance(item, MotionItem):
        m = item.motion
        entry = ClipEntry(id=ident, path=item.path, label=item.label or ident, content_hash=item.content_hash,
                          size=item.size, mtime_ns=item.mtime_ns, fps_override=item.fps_override,
                          rig_map=item.rig_map)
        if m is None:
            entry.status, entry.error, entry.description = "failed", item.error, ""
            return ident, (entry, None)
        return ident, (_described(entry, m), m)
    path = str(item)
    entry = ClipEntry(id=ident, path=path, label=Path(path).stem, content_hash="", fps_override=fps, rig_map=rig_map)
    try:  # a file can vanish or be unreadable between the scan and now: that file fails, nothing else
        st = os.stat(path)
        entry.size, entry.mtime_ns, entry.content_hash = st.st_size, st.st_mtime_ns, content_hash(path)
        m = load_motion(path, fps=fps, rig_overrides=overrides)
    except OSError as e:
        entry.status, entry.error, entry.description = "failed", f"{safe_text(path)}: cannot read the file " \
            f"({e.strerror or e})", ""
        return ident, (entry, None)
    except MotionSearchError as e:
        entry.status, entry.error, entry.description = "failed", str(e), ""
        return ident, (entry, None)
    except Exception as e:  # noqa: BLE001 - a reader bug on one file must not stop the library
        log.warning("%s: unexpected %s while reading", safe_text(path), type(e).__name__, exc_info=True)
        entry.status, entry.description = "failed", ""
        entry.error = safe_text(f"{path}: cannot be read ({type(e).__name__}: {e})")
        return ident, (entry, None)
    return ident, (_described(entry, m), m)


def _described(entry: ClipEntry, m: Motion) -> ClipEntry:
    """`entry` with what the loaded motion says: frames, rates, rig, and its description."""
    entry.source_fps, entry.source_frames = m.source_fps, m.source_frames
    entry.first_source_frame, entry.frames, entry.rig = m.first_source_frame, m.num_frames, m.rig
    entry.rig_unsure = m.rig_unsure
    entry.description, entry.captions = describe_texts(m)
    return entry


def read_description(args: tuple) -> tuple[str, tuple[str, tuple[str, list[str]]]]:
    """(id, (label, (description, texts))) of an unchanged clip: read and described, not hashed or
    encoded (describe_texts)."""
    ident, item, fps, overrides, _ = args
    if isinstance(item, MotionItem):
        return ident, (item.label or ident, describe_texts(item.motion) if item.motion is not None else ("", []))
    try:
        motion = load_motion(str(item), fps=fps, rig_overrides=overrides)
    except Exception:  # noqa: BLE001 - unreadable now: "", never fatal
        return ident, (Path(str(item)).stem, ("", []))
    return ident, (Path(str(item)).stem, describe_texts(motion))


def read_all(batch, fps_of, workers: int, overrides=None, rig_map: str = "", read=read_clip):
    """`read` (read_clip, or read_description) of each (id, path or MotionItem), in processes if asked."""
    args = [(ident, item, None if isinstance(item, MotionItem) or not fps_of else fps_of(str(item)), overrides, rig_map)
            for ident, item in batch]
    if workers and workers > 1 and len(args) > 8:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(read, args, chunksize=4)
    else:
        for a in args:
            yield read(a)
