"""Search hits and explanations as rows for the sidebar (no bpy).

The operators copy these rows into the WindowManager collections the panels draw; everything
that decides what a row says lives here.
"""

from __future__ import annotations

import os
from typing import Iterable

MARKER_PREFIX = "MS: "

_SIDES = {"l": "left", "r": "right"}
_PART_WORDS = {"pelvis_translation": "pelvis travel", "pelvis_rotation": "pelvis turn", "lumbar": "spine"}


def part_label(part: str) -> str:
    """A runtime.motion.features part name for people: `elbow_l` -> `left elbow`."""
    if part in _PART_WORDS:
        return _PART_WORDS[part]
    base, _, side = part.rpartition("_")
    if base and side in _SIDES:
        return f"{_SIDES[side]} {base.replace('_', ' ')}"
    return part.replace("_", " ")


def clip_name(label: str, path: str) -> str:
    """What a clip is called: its label, else the file name without extension."""
    if label and label.strip():
        return label.strip()
    return os.path.splitext(os.path.basename(path))[0] or path


def hit_row(hit) -> dict:
    """One results row from a `runtime.search` Hit."""
    return {
        "clip_id": str(hit.clip_id),
        "path": str(hit.path or ""),
        "label": clip_name(getattr(hit, "label", ""), str(hit.path or hit.clip_id)),
        "score": float(hit.score),
        "start_frame": int(hit.start_frame),
        "end_frame": int(hit.end_frame),
        "fps": float(hit.fps),
        "duration": float(hit.duration_s),
        "description": str(getattr(hit, "description", "") or ""),  # what the clip shows, from the index
    }


def hit_rows(hits: Iterable) -> list[dict]:
    return [hit_row(h) for h in hits]


def word_row(match) -> dict:
    """One row per word of the query from an explanation's WordMatch."""
    return {
        "word": str(match.word),
        "part": str(match.part),
        "part_label": part_label(str(match.part)),
        "joints": ",".join(match.joints),
        "start_frame": int(match.start_frame),
        "end_frame": int(match.end_frame),
        "score": float(match.score),
        "stop": bool(getattr(match, "is_stop_word", False)),
    }


def word_rows(explanation) -> list[dict]:
    return [word_row(w) for w in explanation.words]


def markers(words: Iterable) -> list[tuple[str, int]]:
    """(marker name, source frame) for each word (dict rows or WM items) where its body part matched
    best; stop words ("a", "the") get none."""
    out = []
    for w in words:
        get = w.get if isinstance(w, dict) else lambda k, w=w: getattr(w, k)
        if not get("stop"):
            out.append((f"{MARKER_PREFIX}{get('word')}", int(get("start_frame"))))
    return out


def event_line(event, fps: float = 20.0) -> str:
    """One line for the console per runtime.describe Event: `wave (right) 1.20-3.45 s: shoulder_r, elbow_r`."""
    side = f" ({event.side})" if event.side else ""
    parts = f": {', '.join(event.parts)}" if event.parts else ""
    return f"{event.kind}{side} {event.start / fps:.2f}-{event.end / fps:.2f} s{parts}"


def fill(collection, rows: Iterable[dict]) -> None:
    """Replace a bpy CollectionProperty's items with `rows` (keys are the item's property names)."""
    collection.clear()
    for row in rows:
        item = collection.add()
        for key, value in row.items():
            setattr(item, key, value)


def duration_text(seconds: float) -> str:
    """`2.4 s`, `1 min 05 s`."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    return f"{m} min {s:02d} s"
