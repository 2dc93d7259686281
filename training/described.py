"""Training text from the describer: captions of the window a batch crops, with word -> patch links.

Each clip's events are computed once (`training.data.load_events`). A training window
[start, start + length) gets a caption about the events that happen in it (cut to the window),
written by `runtime.describe.sentences` with a random subset of them and random wording; each
content word keeps its event's body parts and frames, which become the motion-image patches
(part x 16-frame column) the word should match (`link_targets`). A mirrored window mirrors the
events before the words are written, so text, links and motion stay consistent.
"""

from __future__ import annotations

import random
from dataclasses import replace

from runtime.describe import Caption, Event, captions, merged_repeats
from runtime.motion import NUM_PARTS, PART_NAMES

MIN_SHARE = 0.5  # an event counts in a window when at least half of it (or MIN_FRAMES of it) is inside
MIN_FRAMES = 10


def window_events(events: list[Event], start: int, length: int, mirrored: bool = False) -> list[Event]:
    """The events of [start, start + length), cut to it, in window frames."""
    end = start + length
    out = []
    for ev in events:
        inside = min(ev.end, end) - max(ev.start, start)
        if inside <= 0 or (inside < MIN_SHARE * (ev.end - ev.start) and inside < MIN_FRAMES):
            continue
        cut = replace(ev, start=max(ev.start, start) - start, end=min(ev.end, end) - start)
        out.append(cut.mirrored() if mirrored else cut)
    return out


def window_caption(events: list[Event], start: int, length: int, rng: random.Random,
                   mirrored: bool = False) -> Caption | None:
    """One caption of the window's events (None when nothing happens in it)."""
    evs = merged_repeats(window_events(events, start, length, mirrored))
    if not evs:
        return None
    return captions(evs, 1, seed=rng.randrange(2 ** 31))[0]


def link_targets(caption: Caption, offsets, columns: int, patch: int = 16) -> list[tuple[int, list[int]]]:
    """(token position, patch indices) for the tokens of linked words.

    offsets: the tokenizer's (start, end) character span per token ((0, 0) for special tokens);
    columns: the window's valid 16-frame columns. Patches are time-major: n = column * 14 + part.
    """
    out = []
    for t, (a, b) in enumerate(offsets):
        if a == b:
            continue
        link = next((lk for lk in caption.links if lk.start <= a and b <= lk.end), None)
        if link is None:
            continue
        c0 = max(0, link.first_frame // patch)
        c1 = min(columns, max(c0 + 1, -(-link.last_frame // patch)))
        parts = [PART_NAMES.index(p) for p in link.parts]
        patches = [c * NUM_PARTS + p for c in range(c0, c1) for p in parts]
        if patches:
            out.append((t, patches))
    return out
