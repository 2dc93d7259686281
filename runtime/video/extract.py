"""A video -> a canonical `Motion`, with a report of what was filled, trimmed and mended."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..motion import TARGET_FPS, Motion, motion_from_positions
from .body import B, canonical_joints, level, place_in_camera
from .frames import VideoError, read_frames
from .landmarks import Landmarks, detect_landmarks
from .mirror import Mirrored, find_mirrored, mend_mirrored

SWITCH_TORSOS = 1.5  # the hips jumping this many torso lengths (in the image) between two frames ...
SWITCH_SPEED = 20.0  # ... at this many torso lengths a second or faster: the model jumped to another person
POSE_SMOOTH_S = 0.05  # Gaussian sigma over time of the hip-centred pose
TRAVEL_SMOOTH_S = 0.15  # ... and of the travel (depth from one camera is the noisiest part)
DEFAULT_FOV_DEG = 60.0  # horizontal field of view assumed for the camera (a phone's main camera: 60-70)


@dataclass(frozen=True, eq=False)
class VideoMotion:
    """What a video gave.

    Attributes:
        motion: the canonical clip (20 fps), from the first to the last frame with a person.
        landmarks: the pose model's output for every frame read (before mending).
        trimmed: frames without a person before the first and after the last one with a person (or
            of other people: see `switches`).
        filled: frames without a person between them (interpolated).
        mirrored: the frames found mirrored (indices into the kept frames) and mended (unless mending was off).
        mended: whether mirrored frames were mended.
        seconds: time taken in all (reading, the pose model, the rest).
        switches: seconds where the pose model jumped to another person (legacy BlazePose follows
            one person at a time); the longest stretch of one person is kept.
    """

    motion: Motion
    landmarks: Landmarks
    trimmed: int
    filled: int
    mirrored: Mirrored
    mended: bool
    seconds: float
    switches: tuple[float, ...] = ()

    @property
    def video_fps(self) -> float:
        return _rate(self.landmarks.times)

    def summary(self) -> str:
        """One line for a terminal or a panel."""
        lm = self.landmarks
        parts = [f"{len(lm)} frames ({_rate(lm.times):.3g} fps), a person in {int(lm.found.sum())}"]
        if self.switches:
            m = self.motion
            first = m.first_source_frame / m.source_fps
            parts.append("the model jumped to another person at " + ", ".join(f"{t:.2f} s" for t in self.switches)
                         + f": kept {first:.2f}-{first + m.duration:.2f} s (the longest stretch of one person)")
        if self.trimmed:
            parts.append(f"{self.trimmed} at the ends left out")
        if self.filled:
            parts.append(f"{self.filled} without one filled in")
        if self.mirrored.count:
            verb = "mended" if self.mended else "found"
            n = len(self.mirrored.stretches)
            parts.append(f"{self.mirrored.count} mirrored (left/right swapped) in {n} "
                         f"stretch{'es' if n != 1 else ''} {verb}")
        m = self.motion
        parts.append(f"{m.duration:.1f} s of motion; {self.seconds:.1f} s "
                     f"({len(lm) / max(lm.seconds, 1e-9):.0f} frames/s in the pose model)")
        return "; ".join(parts)


def video_motion(path: str | os.PathLike, *, start: float | None = None, end: float | None = None,
                 fps: float | None = None, fov_deg: float = DEFAULT_FOV_DEG, mend: bool = True,
                 progress: Callable[[int, float], None] | None = None) -> VideoMotion:
    """The motion of the person in a video (its seconds `start` to `end`, both optional).

    Args:
        path: a video file, or a folder of images (then `fps` is needed).
        fps: a fixed frame rate instead of the container's timestamps.
        fov_deg: the camera's horizontal field of view (scales the travel; the pose does not depend on it).
        mend: mend mirrored stretches (off only to measure what mending does).
        progress: called with (frames done, seconds into the video) after each frame.

    Raises:
        VideoError: naming the file, for an unreadable file or one with no person in it.
        VideoSupportMissing: mediapipe or OpenCV is not installed.
    """
    t0 = time.perf_counter()
    path = os.fspath(path)
    lm = detect_landmarks(read_frames(path, fps=fps, start=start, end=end), path, progress)
    out = motion_from_landmarks(lm, fov_deg=fov_deg, mend=mend)
    return replace(out, seconds=time.perf_counter() - t0)


def motion_from_landmarks(lm: Landmarks, *, fov_deg: float = DEFAULT_FOV_DEG, mend: bool = True,
                          smooth_s: float = POSE_SMOOTH_S) -> VideoMotion:
    """The `VideoMotion` of detected landmarks (the steps after the pose model; see the package docstring)."""
    t0 = time.perf_counter()
    found = lm.found
    if not found.any():
        span = f" ({lm.times[0]:.2f}-{lm.times[-1]:.2f} s)" if len(lm) else ""
        raise VideoError(lm.source, f"no person found in any of its {len(lm)} frames{span}")
    found, switches = _one_person(lm)
    kept = np.flatnonzero(found)
    a, b = int(kept[0]), int(kept[-1]) + 1
    times = lm.times[a:b]
    if b - a < 2 or times[-1] - times[0] < 2 / TARGET_FPS:
        raise VideoError(lm.source, f"a person is seen in only {int(found.sum())} frame(s) "
                         f"({times[-1] - times[0]:.2f} s): too short for a motion")
    world, image, vis = lm.world[a:b], lm.image[a:b], lm.visibility[a:b]
    gaps = ~found[a:b]
    if gaps.any():
        world, image = _fill(world, times, gaps), _fill(image, times, gaps)
    mirrored = find_mirrored(world, times)
    if mend and mirrored.count:
        world, image, vis = (mend_mirrored(x, mirrored.frames) for x in (world, image, vis))
    pose = canonical_joints(world)  # hip-centred, camera axes
    travel = place_in_camera(world, image, vis, lm.width, lm.height, fov_deg)
    grid = times[0] + np.arange(int(np.floor((times[-1] - times[0]) * TARGET_FPS + 1e-6)) + 1) / TARGET_FPS
    pose = _smooth(_interp(pose, times, grid), smooth_s * TARGET_FPS)
    travel = _smooth(_interp(travel, times, grid), TRAVEL_SMOOTH_S * TARGET_FPS)
    positions = level(pose + travel[:, None, :])
    motion = motion_from_positions(positions, TARGET_FPS, lm.source, rig="blazepose")
    motion = replace(motion, source_fps=_rate(lm.times), source_frames=int(lm.frames[-1]) + 1,
                     first_source_frame=int(lm.frames[a]))
    return VideoMotion(motion, lm, trimmed=len(lm) - (b - a), filled=int(gaps.sum()), mirrored=mirrored,
                       mended=mend, seconds=lm.seconds + time.perf_counter() - t0, switches=switches)


def _one_person(lm: Landmarks) -> tuple[np.ndarray, tuple[float, ...]]:
    """(frames kept, times of switches): the frames with a person, cut where the hips jump in the
    image faster than a body moves (the model took another person), the longest piece kept."""
    found = lm.found
    idx = np.flatnonzero(found)
    pixels = lm.image[idx].astype(np.float64) * [lm.width, lm.height]
    hips = (pixels[:, B["left_hip"]] + pixels[:, B["right_hip"]]) / 2
    torso = np.linalg.norm((pixels[:, B["left_shoulder"]] + pixels[:, B["right_shoulder"]]) / 2 - hips, axis=-1)
    jump = np.linalg.norm(np.diff(hips, axis=0), axis=-1) / np.maximum(torso[:-1], 1e-6)
    dt = np.maximum(np.diff(lm.times[idx]), 1e-3)
    cuts = np.flatnonzero((jump > SWITCH_TORSOS) & (jump / dt > SWITCH_SPEED)) + 1
    if not len(cuts):
        return found, ()
    bounds = np.concatenate([[0], cuts, [len(idx)]])
    longest = int(np.argmax(np.diff(bounds)))
    keep = np.zeros_like(found)
    keep[idx[bounds[longest]: bounds[longest + 1]]] = True
    return keep, tuple(float(lm.times[idx[c]]) for c in cuts)


def _rate(times: np.ndarray) -> float:
    """Frames per second from timestamps (the median step: one dropped frame does not change it)."""
    steps = np.diff(times)
    steps = steps[steps > 0]
    return float(1.0 / np.median(steps)) if len(steps) else TARGET_FPS


def _interp(values: np.ndarray, times: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation over time of (F, ...) values at `grid` seconds."""
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(grid, times, flat[:, k]) for k in range(flat.shape[1])], axis=1)
    return out.reshape((len(grid),) + values.shape[1:])


def _fill(values: np.ndarray, times: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Values of the gap frames interpolated over time from the frames around them."""
    out = np.array(values, np.float64)
    good = ~gaps
    out[gaps] = _interp(out[good], times[good], times[gaps])
    return out.astype(values.dtype)


def _smooth(values: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian smoothing along the first axis (ends mirrored, so a clip's ends do not sag)."""
    if sigma_frames <= 0 or len(values) < 3:
        return values
    radius = max(1, int(round(3 * sigma_frames)))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    k /= k.sum()
    pad = min(radius, len(values) - 1)
    padded = np.concatenate([values[pad:0:-1], values, values[-2:-pad - 2:-1]], axis=0)
    if pad < radius:  # very short clips: edge-repeat the rest
        extra = radius - pad
        padded = np.concatenate([np.repeat(padded[:1], extra, 0), padded, np.repeat(padded[-1:], extra, 0)], axis=0)
    out = np.apply_along_axis(lambda x: np.convolve(x, k, mode="valid"), 0, padded)
    return out
