"""From a motion file to canonical joint positions: 22 joints, metres, Y up, 20 fps.

    read (BVH / ASF+AMC) -> map the rig -> drop an added rest-pose frame 0 -> resample ->
    scale to metres -> Y up, facing +Z at frame 0, pelvis over the origin, floor at y = 0

Run `python -m runtime.motion show FILE --png OUT.png` to check a clip by eye.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

import numpy as np

from ..errors import MotionFormatError
from ..io import Animation
from .kinematics import forward_kinematics, normalize
from .rig_shape import rest_heads
from .rigs import Candidate, RigMap, map_skeleton
from .skeleton import J

TARGET_FPS = 20.0
MOTION_SUFFIXES = (".bvh", ".amc")

# Leg length (hip-knee + knee-ankle) of an adult, for telling file units apart.
NOMINAL_LEG_M = 0.80
# Units seen in real files, in metres: m, cm, mm, inch, foot, CMU ASF units (1/0.45 inch).
KNOWN_UNITS_M = (1.0, 0.01, 0.001, 0.0254, 0.3048, 0.0254 / 0.45)


@dataclass(frozen=True, eq=False)
class Motion:
    """A clip as canonical joint positions.

    Attributes:
        positions: (F, 22, 3) float32, metres; Y up; frame 0 faces +Z with the pelvis above
            the origin; the floor is y = 0.
        fps: frame rate of `positions` (20).
        source: the file.
        source_fps: the file's frame rate as used (the file's own, or the caller's override).
        source_frames: frames in the file.
        first_source_frame: 1 when the file's frame 0 was an added rest pose and was dropped.
        rig: the rig convention the joints were mapped with.
        metres_per_unit: the scale applied to the file's units.
        rig_unsure: "" when the rig's map is sure; else one line naming the joints its skeleton's
            shape mapped without enough evidence, for a report (`RigMap.unsure_note`).
    """

    positions: np.ndarray
    fps: float
    source: str
    source_fps: float
    source_frames: int
    first_source_frame: int
    rig: str
    metres_per_unit: float
    rig_unsure: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    @property
    def duration(self) -> float:
        return (self.num_frames - 1) / self.fps if self.num_frames else 0.0

    def source_frame(self, frame: float | np.ndarray) -> np.ndarray:
        """The file's frame number at a frame of `positions`."""
        return self.first_source_frame + np.asarray(frame, np.float64) * self.source_fps / self.fps


def read_animation(path: str | os.PathLike, *, asf: str | os.PathLike | None = None) -> Animation:
    """Read any supported motion file into an `Animation` (file units and axes)."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".bvh":
        from ..io import read_bvh

        return read_bvh(path)
    if suffix == ".amc":
        from ..io import read_amc

        return read_amc(path, asf=asf)
    raise MotionFormatError(path, f"unsupported motion format '{suffix}' (supported: {', '.join(MOTION_SUFFIXES)})")


def load_motion(
    path: str | os.PathLike,
    *,
    fps: float | None = None,
    rig_overrides: dict[str, list[Candidate]] | None = None,
    asf: str | os.PathLike | None = None,
    drop_rest_frame: bool | None = None,
    target_fps: float = TARGET_FPS,
) -> Motion:
    """Load a motion file as canonical 20 fps joint positions in metres.

    Args:
        path: a .bvh or .amc file.
        fps: the capture's real frame rate when the file's is wrong (CMU conversions claim
            120 fps for 60 fps trials).
        rig_overrides: a user's bone mapping (see `runtime.motion.rigs.load_mapping_file`).
        asf: the skeleton of an .amc file, when it is not beside it.
        drop_rest_frame: force (True/False) or auto-detect (None) an added rest-pose frame 0.
        target_fps: the rate of the result; search uses 20 (the model's), retargeting may want
            the scene's.

    Raises:
        MotionFormatError, RigMappingError: the file cannot be read or its rig mapped.
    """
    anim = read_animation(path, asf=asf)
    rig = map_skeleton(anim.names, anim.parents, lambda: shape_pose(anim), anim.path, overrides=rig_overrides,
                       forward_hint=(0.0, 0.0, 1.0), ignore=anim.end_site)
    return canonical_motion(anim, rig, fps=fps, drop_rest_frame=drop_rest_frame, target_fps=target_fps)


def shape_pose(anim: Animation) -> np.ndarray:
    """Joint positions for telling a rig by its shape: the middle frame's pose (many files' zero
    pose has every bone along one axis, which shows no left and right)."""
    if not anim.num_frames:
        return rest_heads(anim.parents, anim.offsets)
    return forward_kinematics(anim, np.array([anim.num_frames // 2]), np.arange(anim.num_joints))[0]


def canonical_motion(
    anim: Animation, rig: RigMap, *, fps: float | None = None, drop_rest_frame: bool | None = None,
    target_fps: float = TARGET_FPS,
) -> Motion:
    """The canonical `Motion` of an animation whose rig is mapped by `rig`."""
    source_fps = float(fps) if fps else anim.fps
    if not (math.isfinite(source_fps) and 1.0 <= source_fps <= 10000.0):
        raise MotionFormatError(anim.path, f"frame rate {source_fps} is not usable")
    joints = rig.source_joints

    def positions_at(frames: np.ndarray) -> np.ndarray:
        return rig.apply_subset(forward_kinematics(anim, frames, joints), joints)

    if not (math.isfinite(target_fps) and 1.0 <= target_fps <= 1000.0):
        raise ValueError(f"target frame rate {target_fps} is not usable")
    first = 1 if (drop_rest_frame and anim.num_frames >= 3) else 0
    i0, i1, w = _resample_plan(anim.num_frames, first, source_fps, target_fps)
    probe = np.arange(min(anim.num_frames, 32))  # enough frames to tell an added rest pose
    needed = np.unique(np.concatenate([i0, i1, probe]))
    pos_needed = positions_at(needed)
    if drop_rest_frame is None and anim.num_frames >= 3:
        if _frame0_is_added(pos_needed[np.searchsorted(needed, probe)], _is_zero_pose(anim, 0)):
            first = 1
            i0, i1, w = _resample_plan(anim.num_frames, first, source_fps, target_fps)
            extra = np.setdiff1d(np.concatenate([i0, i1]), needed)
            if extra.size:
                needed = np.concatenate([needed, extra])
                pos_needed = np.concatenate([pos_needed, positions_at(extra)])
                order = np.argsort(needed)
                needed, pos_needed = needed[order], pos_needed[order]
    a, b = np.searchsorted(needed, i0), np.searchsorted(needed, i1)
    pos = pos_needed[a] * (1.0 - w)[:, None, None] + pos_needed[b] * w[:, None, None]
    if not np.isfinite(pos).all() or np.abs(pos).max() > 1e7:
        raise MotionFormatError(anim.path, "joint positions are not finite or absurdly large (corrupt values?)")

    scale = metres_per_unit(pos, anim.path)
    pos = to_canonical_frame(pos * scale)
    return Motion(
        positions=pos.astype(np.float32),
        fps=float(target_fps),
        source=anim.path,
        source_fps=source_fps,
        source_frames=anim.num_frames,
        first_source_frame=first,
        rig=rig.convention,
        metres_per_unit=scale,
        rig_unsure=rig.unsure_note,
    )


def _resample_plan(num_frames: int, first: int, source_fps: float, target_fps: float = TARGET_FPS):
    """Source frames (i0, i1) and weights w such that output frame k = lerp(i0[k], i1[k], w[k])."""
    count = num_frames - first
    n_out = int(math.floor((count - 1) * target_fps / source_fps + 1e-6)) + 1
    src = first + np.arange(n_out) * (source_fps / target_fps)
    i0 = np.minimum(np.floor(src).astype(np.int64), num_frames - 1)
    i1 = np.minimum(i0 + 1, num_frames - 1)
    return i0, i1, src - i0


def resample(positions: np.ndarray, fps: float, target_fps: float = TARGET_FPS) -> np.ndarray:
    """Joint positions (F, J, 3) at `fps`, linearly resampled to `target_fps` over the same duration."""
    num = positions.shape[0]
    if num == 0 or fps == target_fps:
        return positions
    i0, i1, w = _resample_plan(num, 0, fps, target_fps)
    return positions[i0] * (1.0 - w)[:, None, None] + positions[i1] * w[:, None, None]


def motion_from_positions(positions: np.ndarray, fps: float, source: str, rig: str = "smpl") -> Motion:
    """A `Motion` from canonical-order joint positions in metres (HumanML3D / KIT-ML style data)."""
    pos = np.asarray(positions, np.float64)
    if pos.ndim != 3 or pos.shape[1:] != (22, 3) or len(pos) == 0:
        raise MotionFormatError(source, f"expected joint positions of shape (frames, 22, 3), got {pos.shape}")
    if not np.isfinite(pos).all():
        raise MotionFormatError(source, "joint positions are not finite")
    pos = to_canonical_frame(resample(pos, fps))
    return Motion(pos.astype(np.float32), TARGET_FPS, source, float(fps), len(positions), 0, rig, 1.0)


def leg_length(pos: np.ndarray) -> float:
    """Median over frames of hip-knee + knee-ankle, both sides averaged (in pos units)."""
    legs = []
    for s in ("left", "right"):
        hip, knee, ankle = pos[:, J[f"{s}_hip"]], pos[:, J[f"{s}_knee"]], pos[:, J[f"{s}_ankle"]]
        legs.append(np.linalg.norm(hip - knee, axis=-1) + np.linalg.norm(knee - ankle, axis=-1))
    return float(np.median(np.mean(legs, axis=0)))


def _is_zero_pose(anim: Animation, frame: int, tolerance: float = 30.0) -> bool:
    """Every joint rotation below the root within `tolerance` degrees of zero: the rig's rest pose."""
    below_root = np.flatnonzero(anim.parents >= 0)
    return bool(np.abs(anim.angles[frame, below_root]).max(initial=0.0) <= tolerance)


def _frame0_is_added(head: np.ndarray, zero_pose: bool) -> bool:
    """True when frame 0 is an added rest pose (CMU conversions prepend one): it jumps by more
    than 15% of a leg length to frame 1, and is either far off the clip's motion (8x the 90th
    percentile of its steps) or the rig's zero pose (some conversions ease from it into the motion over a few frames)."""
    leg = leg_length(head[1:])
    if not leg > 0:
        return False
    step = np.linalg.norm(np.diff(head, axis=0), axis=-1).max(axis=-1) / leg  # per frame, worst joint
    typical = float(np.percentile(step[1:], 90)) if len(step) > 1 else 0.0
    return bool(step[0] > 0.15 and (zero_pose or step[0] > 8.0 * max(typical, 0.005)))


def metres_per_unit(pos: np.ndarray, path: str = "<motion>") -> float:
    """The unit of joint positions, told from the body's own leg length: a known unit (m, cm, mm,
    inch, foot, CMU) where one fits, else the scale that gives an adult's leg length."""
    leg = leg_length(pos)
    if not leg > 1e-9 * max(float(np.abs(pos).max()), 1.0):
        raise MotionFormatError(path, "the skeleton has zero leg length (hip, knee and ankle coincide)")
    errors = [abs(math.log(leg * u / NOMINAL_LEG_M)) for u in KNOWN_UNITS_M]
    best = int(np.argmin(errors))
    if errors[best] < math.log(1.45):
        return KNOWN_UNITS_M[best]
    return NOMINAL_LEG_M / leg  # an unusual unit (a rescaled export): normalise the body instead


def to_canonical_frame(pos: np.ndarray) -> np.ndarray:
    """Rotate to Y up and facing +Z at frame 0; pelvis over the origin at frame 0; floor y = 0."""
    # up: the file's axis closest to feet -> head over the clip
    feet = (pos[:, J["left_ankle"]] + pos[:, J["right_ankle"]]) / 2
    up_vec = (pos[:, J["head"]] - feet).mean(axis=0)
    axis = int(np.argmax(np.abs(up_vec)))
    up = np.zeros(3)
    up[axis] = np.sign(up_vec[axis]) or 1.0
    # facing at frame 0: left (+X) from hips and shoulders, forward = left x up
    left = (pos[0, J["left_hip"]] - pos[0, J["right_hip"]]) + (pos[0, J["left_shoulder"]] - pos[0, J["right_shoulder"]])
    left = left - up * np.dot(left, up)
    if np.linalg.norm(left) < 1e-9:
        left = np.roll(up, 1)
    left = normalize(left)
    forward = np.cross(left, up)
    rot = np.stack([left, up, forward])  # rows: new X, Y, Z in file axes
    out = pos @ rot.T
    out[..., 0] -= out[0, J["pelvis"], 0]
    out[..., 2] -= out[0, J["pelvis"], 2]
    contact = out[:, [J["left_foot"], J["right_foot"], J["left_ankle"], J["right_ankle"]], 1].min(axis=1)
    out[..., 1] -= float(np.percentile(contact, 1))
    return out


def load_motion_range(path: str, fps: float | None, start: int | None, end: int | None, *, min_frames: int,
                      purpose: str) -> Motion:
    """A motion file, cut to its frames `start`..`end` (clip_range's rules; None, None: all of it).

    Raises:
        FileNotFoundError: no such file. MotionFormatError: as load_motion and clip_range.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: motion file not found")
    motion = load_motion(path, fps=fps)
    a, b = clip_range(motion, start, end, min_frames=min_frames, purpose=purpose)
    return motion if a is None else replace(motion, positions=motion.positions[a:b])


def clip_range(motion: Motion, start: int | None, end: int | None, *, min_frames: int = 2,
               purpose: str = "describe") -> tuple[int | None, int | None]:
    """--start/--end (frames of the file, both included, as search hits give them) -> [start, end)
    in the Motion's 20 fps frames (None, None: the whole clip).

    Raises:
        MotionFormatError: naming the file, for an empty, reversed, outside or too short range.
    """
    if start is None and end is None:
        return None, None
    first, last = motion.first_source_frame, motion.source_frames - 1
    s = first if start is None else start
    e = last if end is None else end
    if s >= e:
        raise MotionFormatError(motion.source, f"--start {s} must come before "
                                + (f"--end {e}" if end is not None else f"the file's last frame ({e})"))
    if s < 0 or e > last:
        raise MotionFormatError(motion.source, f"frames {s}-{e} are outside the file's frames 0-{last}")
    s = max(s, first)  # an added rest pose (frame 0) is not part of the motion
    k = motion.fps / motion.source_fps
    a, b = round((s - first) * k), min(round((e - first) * k) + 1, motion.num_frames)
    if b - a < min_frames:
        raise MotionFormatError(motion.source, f"frames {s}-{e} ({(e - s) / motion.source_fps:.2f} s) are too short "
                                f"to {purpose}: at least {min_frames / motion.fps:.2f} s is needed")
    return a, b


def source_range(motion: Motion, start: int, end: int) -> tuple[int, int]:
    """[start, end) at 20 fps -> the file's first and last frame (both included)."""
    return int(round(float(motion.source_frame(start)))), \
        min(int(round(float(motion.source_frame(max(end - 1, start))))), motion.source_frames - 1)
