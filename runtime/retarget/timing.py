"""Frame arithmetic between a motion file, its 20 fps canonical clip, and a scene it is keyed into.

Three clocks:
    source frames   the file's own frame numbers (what search hits and explanations report)
    clip indices    rows of `Motion.positions` (20 fps); index i is source frame
                    `first_source_frame + i * source_fps / 20`
    scene frames    keys are inserted at `frame_start + k`, k = 0, 1, ... at the scene's rate
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Timing:
    """How a canonical clip lines up with its file."""

    fps: float  # the clip's rate (20)
    source_fps: float  # the file's rate as used
    first_source_frame: int  # the source frame of clip index 0
    num_frames: int  # clip rows

    @classmethod
    def of(cls, motion) -> "Timing":
        return cls(float(motion.fps), float(motion.source_fps), int(motion.first_source_frame), int(motion.num_frames))

    def clip_index(self, source_frame: float) -> float:
        """The (fractional) clip index at a source frame, clamped to the clip."""
        i = (float(source_frame) - self.first_source_frame) * self.fps / self.source_fps
        return min(max(i, 0.0), float(self.num_frames - 1))


def clip_span(timing: Timing, start_source_frame: int | None, end_source_frame: int | None) -> tuple[float, float]:
    """Clip indices (i0, i1) of a source frame range (None or negative = the file's start / end)."""
    i0 = 0.0 if start_source_frame is None or start_source_frame < 0 else timing.clip_index(start_source_frame)
    i1 = float(timing.num_frames - 1) if end_source_frame is None or end_source_frame < 0 else timing.clip_index(end_source_frame)
    if i1 < i0:
        raise ValueError(f"the frame range ends ({end_source_frame}) before it starts ({start_source_frame})")
    return i0, i1


def scene_samples(i0: float, i1: float, clip_fps: float, scene_fps: float) -> np.ndarray:
    """Clip indices at successive scene frames covering [i0, i1] (the first lands on i0)."""
    if not (scene_fps > 0 and clip_fps > 0):
        raise ValueError(f"frame rates must be positive (scene {scene_fps}, clip {clip_fps})")
    step = clip_fps / scene_fps
    count = int(math.floor((i1 - i0) / step + 1e-6)) + 1
    return i0 + np.arange(count) * step


def interpolate(positions: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Rows of `positions` (F, ...) at fractional `indices`, linearly interpolated."""
    positions = np.asarray(positions)
    idx = np.clip(np.asarray(indices, np.float64), 0.0, len(positions) - 1)
    lo = np.floor(idx).astype(np.int64)
    hi = np.minimum(lo + 1, len(positions) - 1)
    w = (idx - lo).reshape((-1,) + (1,) * (positions.ndim - 1))
    return positions[lo] * (1.0 - w) + positions[hi] * w


def source_to_scene(timing: Timing, source_frame: float, i0: float, scene_start: int, scene_fps: float) -> int:
    """The scene frame showing a source frame, for a clip keyed from clip index i0 at `scene_start`."""
    return int(round(scene_start + (timing.clip_index(source_frame) - i0) * scene_fps / timing.fps))


def scene_fps(fps: int, fps_base: float) -> float:
    """Blender's frame rate: `render.fps / render.fps_base`."""
    return float(fps) / float(fps_base or 1.0)
