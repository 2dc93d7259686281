"""Applying a clip as an NLA strip, so that clips chain into a sequence on the armature.

A new strip goes on the top track when it fits there (no strip of that track overlaps it and the
track is not locked), else on a new track above it: later clips stay above earlier ones, so an
overlap with blend-in crossfades from the clip below. Strips hold nothing before or after
themselves (extrapolation 'NOTHING'), so a strip never covers its neighbours on lower tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

TRACK_NAME = "Motion Search"


class StripError(Exception):
    """The strip cannot be added; the message is a sentence for the UI."""


@dataclass
class Placed:
    strip: str
    track: str
    new_track: bool


def check(obj, frame_start: int, frame_end: int, blend_in: int, blend_out: int) -> None:
    """Raise StripError for anything that would stop `add_strip`; changes nothing."""
    ad = obj.animation_data
    if ad is not None and ad.use_tweak_mode:  # the tweaked strip's action cannot be swapped out
        raise StripError(f"'{obj.name}' is in NLA tweak mode: leave it (Tab in the NLA editor) to add a strip")
    if blend_in < 0 or blend_out < 0:
        raise StripError("Blend in and blend out are frame counts: 0 or more")
    length = frame_end - frame_start
    if blend_in + blend_out > length:
        raise StripError(f"Blend in and out ({blend_in} + {blend_out} frames) are longer than the clip "
                         f"({length} frames): shorten them")


def _overlaps(track, start: float, end: float) -> bool:
    return any(s.frame_start < end and start < s.frame_end for s in track.strips)


def _track_for(ad, start: float, end: float):
    """(track, created): the top track when the strip fits on it, else a new track on top."""
    tracks = ad.nla_tracks
    top = tracks[-1] if len(tracks) else None
    if top is not None and not top.lock and not _overlaps(top, start, end):
        return top, False
    track = tracks.new(prev=top) if top is not None else tracks.new()
    track.name = TRACK_NAME
    return track, True


def add_strip(obj, action, frame_start: int, blend_in: int, blend_out: int, active_action, active_slot) -> Placed:
    """Put `action` (keyed from `frame_start`) into `obj`'s NLA as a new strip, and give the armature
    back its active action `active_action` (None: none) with its slot `active_slot` (Blender 4.4+)."""
    ad = obj.animation_data or obj.animation_data_create()
    if ad.action == action:
        ad.action = active_action  # the new action was assigned only to key it
        if active_action is not None and active_slot is not None and hasattr(ad, "action_slot"):
            ad.action_slot = active_slot
    start, end = action.frame_range
    track, created = _track_for(ad, float(frame_start), float(frame_start) + float(end - start))
    strip = track.strips.new(action.name, int(frame_start), action)
    if hasattr(strip, "action_slot") and strip.action_slot is None and len(action.slots):
        strip.action_slot = action.slots[0]
    strip.extrapolation = 'NOTHING'
    strip.blend_in, strip.blend_out = float(blend_in), float(blend_out)
    return Placed(strip.name, track.name, created)
