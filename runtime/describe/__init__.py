"""Describe a clip in words: events from the kinematics, sentences from the events.

    from runtime.describe import describe
    d = describe(motion)                      # or describe(motion, start=40, end=120)
    d.events                                  # [Event(kind="raise_arm", side="left", ...), ...]
    d.summary                                 # "A person raises the left arm above the head, then lowers it."
    d.captions(5, seed=0)                     # varied true sentences, each word linked to (part, frames)

Deterministic and numpy-only: posecode-style thresholds on joint positions (PoseScript /
MotionScript in spirit), no model. `python -m runtime describe FILE` is its command line and
`python -m runtime.describe.report` measures it against real labels (docs/DESCRIBER.md).

May import: runtime.motion, runtime.errors, runtime.shared_data (the report's labelled clips).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .body import Body
from .events import Event, detect
from .sentences import Caption, Link, captions, merged_repeats, summary

MIN_FRAMES = 10  # half a second at 20 fps: less holds no action to describe


@functools.lru_cache(maxsize=1)
def version() -> str:
    """A hash of the describer's code: stored descriptions made by another version are redone."""
    h = hashlib.sha256()
    for name in ("__init__.py", "body.py", "events.py", "sentences.py"):  # not report.py: it only measures
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class Description:
    """What a clip (or a frame range of it) does. Event frames count from the clip's frame 0."""

    events: list[Event]
    fps: float
    start: int
    end: int

    @functools.cached_property
    def actions(self) -> list[Event]:
        """The events with repeats of one action merged ("raises the left arm three times")."""
        return merged_repeats(self.events)

    @property
    def summary(self) -> str:
        """One plain sentence: what the index stores and the add-on shows."""
        return summary(self.actions)

    def captions(self, n: int = 5, seed: int = 0) -> list[Caption]:
        """Up to n different true sentences (random subsets of the actions, varied words), each
        content word linked to its event's body parts and frames; the same seed, the same captions.
        Link.event indexes `actions`."""
        return captions(self.actions, n, seed)

    def to_json(self, captions: int = 0, seed: int = 0) -> dict:
        out = {"start": self.start, "end": self.end, "fps": self.fps, "summary": self.summary,
               "events": [e.to_json(self.fps) for e in self.events],
               "actions": [e.to_json(self.fps) for e in self.actions]}  # what caption links index
        if captions:
            out["captions"] = [c.to_json() for c in self.captions(captions, seed)]
        return out


def describe_positions(positions: np.ndarray, fps: float, start: int | None = None,
                       end: int | None = None) -> Description:
    """Describe canonical joint positions (F, 22, 3) over frames [start, end)."""
    pos = np.asarray(positions)
    if pos.ndim != 3 or pos.shape[1:] != (22, 3):
        raise ValueError(f"expected canonical joint positions (frames, 22, 3), got {pos.shape}")
    n = pos.shape[0]
    s = 0 if start is None else int(start)
    e = n if end is None else int(end)
    if not (0 <= s < e <= n):
        raise ValueError(f"frame range {s}-{e} is outside the clip's 0-{n} frames")
    if e - s < MIN_FRAMES:
        raise ValueError(f"{e - s} frames ({(e - s) / fps:.2f} s) are too few to describe: "
                         f"at least {MIN_FRAMES} ({MIN_FRAMES / fps:.2f} s) are needed")
    if not np.isfinite(pos[s:e]).all():
        raise ValueError("joint positions are not finite (missing joints?)")
    events = [ev.shifted(s) for ev in detect(Body.of(pos[s:e], fps))]
    return Description(events, float(fps), s, e)


def describe(motion, start: int | None = None, end: int | None = None) -> Description:
    """Describe a `runtime.motion.Motion` (frames [start, end) of its 20 fps frames, default all).

    Raises:
        MotionFormatError: the range is too short, outside the clip, or the positions are broken.
    """
    from ..errors import MotionFormatError

    try:
        return describe_positions(motion.positions, motion.fps, start, end)
    except ValueError as e:
        raise MotionFormatError(motion.source, str(e)) from None


__all__ = ["Caption", "Description", "Event", "Link", "describe", "describe_positions"]
