"""Kinematic signals of a clip in the body's own frame, computed once and shared by every detector.

Canonical positions (`runtime.motion`): metres, Y up, X the body's left at frame 0, 20 fps. Here
every horizontal quantity is turned into the body's frame of the moment (forward = where the hips
and shoulders face), so "forward", "sideways" and "left" mean the same whichever way the body faces.
Lengths are compared with the body's own leg length, so a child and a giant read alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..motion import J, leg_length

UP = np.array([0.0, 1.0, 0.0])


def smooth(x: np.ndarray, frames: int) -> np.ndarray:
    """Centred moving average over `frames` (odd) along axis 0, edges padded with the end values."""
    if frames <= 1 or len(x) < 2:
        return np.asarray(x, np.float64)
    half = frames // 2
    pad = [(half, half)] + [(0, 0)] * (x.ndim - 1)
    xp = np.pad(np.asarray(x, np.float64), pad, mode="edge")
    c = np.cumsum(xp, axis=0)
    c = np.concatenate([np.zeros((1,) + c.shape[1:]), c], axis=0)
    return (c[2 * half + 1:] - c[: -2 * half - 1]) / (2 * half + 1)


def derivative(x: np.ndarray, fps: float) -> np.ndarray:
    """Central differences along axis 0, per second."""
    if len(x) < 2:
        return np.zeros_like(np.asarray(x, np.float64))
    return np.gradient(np.asarray(x, np.float64), axis=0) * fps


def rolling_min(x: np.ndarray, frames: int) -> np.ndarray:
    """Centred minimum over `frames` (odd) frames, edges padded with the end values."""
    half = frames // 2
    if half == 0 or len(x) < 2:
        return np.asarray(x, np.float64)
    xp = np.pad(np.asarray(x, np.float64), (half, half), mode="edge")
    return np.lib.stride_tricks.sliding_window_view(xp, 2 * half + 1).min(axis=-1)


@dataclass(frozen=True)
class Body:
    """A clip's positions with the signals the detectors read (all lazily computed, per frame)."""

    pos: np.ndarray  # (F, 22, 3) float64 metres
    fps: float

    @classmethod
    def of(cls, positions: np.ndarray, fps: float) -> "Body":
        return cls(np.asarray(positions, np.float64), float(fps))

    def __len__(self) -> int:
        return int(self.pos.shape[0])

    def joint(self, name: str) -> np.ndarray:
        return self.pos[:, J[name]]

    def frames(self, seconds: float) -> int:
        """An odd number of frames spanning about `seconds` (at least 1)."""
        n = max(1, int(round(seconds * self.fps)))
        return n if n % 2 else n + 1

    @cached_property
    def leg(self) -> float:
        """Leg length (hip-knee-ankle), metres: the body's own yardstick."""
        return max(leg_length(self.pos), 0.2)

    # -- facing --------------------------------------------------------------------------------
    @cached_property
    def left(self) -> np.ndarray:
        """(F, 3) horizontal unit vector to the body's left (hips and shoulders together)."""
        v = (self.joint("left_hip") - self.joint("right_hip")) + (self.joint("left_shoulder") - self.joint("right_shoulder"))
        v = v.copy()
        v[:, 1] = 0.0
        n = np.linalg.norm(v, axis=-1, keepdims=True)
        return v / np.maximum(n, 1e-9)

    @cached_property
    def forward(self) -> np.ndarray:
        """(F, 3) horizontal unit vector the body faces (left x up)."""
        return np.cross(self.left, UP)

    @cached_property
    def heading(self) -> np.ndarray:
        """(F,) degrees, unwrapped, smoothed over 0.5 s; increasing = turning left."""
        f = self.forward
        raw = np.unwrap(np.arctan2(f[:, 0], f[:, 2]))
        return np.rad2deg(smooth(raw, self.frames(0.5)))

    def in_body(self, v: np.ndarray, at: int | None = None) -> np.ndarray:
        """World vectors (F, 3) as (left, up, forward) components in the body's frame of each frame
        (or of frame `at`, for any number of vectors)."""
        left, fwd = (self.left, self.forward) if at is None else (self.left[at], self.forward[at])
        return np.stack([np.sum(v * left, -1), v[..., 1], np.sum(v * fwd, -1)], axis=-1)

    # -- the root ------------------------------------------------------------------------------
    @cached_property
    def root_velocity(self) -> np.ndarray:
        """(F, 3) pelvis velocity in the body frame (left, up, forward), m/s, smoothed over 1 s
        (one gait cycle, so the sway within a stride cancels)."""
        v = derivative(self.joint("pelvis"), self.fps)
        v[:, 1] = 0.0
        v = smooth(v, self.frames(1.0))
        return self.in_body(v)

    @cached_property
    def speed(self) -> np.ndarray:
        """(F,) horizontal pelvis speed, m/s (smoothed over 1 s)."""
        v = self.root_velocity
        return np.hypot(v[:, 0], v[:, 2])

    @cached_property
    def pelvis_height(self) -> np.ndarray:
        return self.joint("pelvis")[:, 1]

    @cached_property
    def standing_pelvis(self) -> float:
        """Pelvis height of this body standing upright: leg length plus ankle height plus how far
        the rig's pelvis joint sits above its hip joints."""
        ankle = min(np.percentile(self.joint("left_ankle")[:, 1], 5), np.percentile(self.joint("right_ankle")[:, 1], 5))
        hips = (self.joint("left_hip")[:, 1] + self.joint("right_hip")[:, 1]) / 2
        above_hips = float(np.median(self.pelvis_height - hips))
        return self.leg + max(float(ankle), 0.0) + above_hips

    # -- feet ------------------------------------------------------------------------------------
    def foot_lift(self, side: str) -> np.ndarray:
        """(F,) how far a foot is off the floor, metres: the lower of heel (ankle) and toe above
        where that joint touches the floor nearby in time (the lowest either foot's joint comes
        within 1 s), so a tilted or drifting capture floor does not lift a planted foot."""
        return np.minimum(*(self._floor_lift(side, joint) for joint in ("ankle", "foot")))

    def _floor_lift(self, side: str, joint: str) -> np.ndarray:
        y = self.joint(f"{side}_{joint}")[:, 1]
        lowest = np.minimum(self.joint(f"left_{joint}")[:, 1], self.joint(f"right_{joint}")[:, 1])
        return y - rolling_min(lowest, self.frames(2.0))

    @cached_property
    def airborne(self) -> np.ndarray:
        """(F,) bool: both feet off the floor by more than 6 % of a leg (5 cm for an adult)."""
        thr = 0.06 * self.leg
        return (self.foot_lift("left") > thr) & (self.foot_lift("right") > thr)

    # -- arms, torso -------------------------------------------------------------------------------
    def arm_length(self, side: str) -> float:
        s, e, w = (self.joint(f"{side}_{n}") for n in ("shoulder", "elbow", "wrist"))
        return float(np.median(np.linalg.norm(e - s, axis=-1) + np.linalg.norm(w - e, axis=-1))) or 0.5

    def hand_elevation(self, side: str) -> np.ndarray:
        """(F,) wrist height above the shoulder in arm lengths: about -1 hanging, 0 at shoulder
        height, +1 straight up."""
        return (self.joint(f"{side}_wrist")[:, 1] - self.joint(f"{side}_shoulder")[:, 1]) / self.arm_length(side)

    def hand_in_body(self, side: str, origin: str = "shoulder") -> np.ndarray:
        """(F, 3) wrist relative to a joint of the same side, body frame (left, up, forward), metres."""
        return self.in_body(self.joint(f"{side}_wrist") - self.joint(f"{side}_{origin}"))

    @cached_property
    def trunk_tilt(self) -> np.ndarray:
        """(F, 2) degrees the trunk (pelvis to neck) leans: (to the left, forward) from vertical."""
        t = self.in_body(self.joint("neck") - self.joint("pelvis"))
        t = smooth(t, self.frames(0.3))
        return np.rad2deg(np.stack([np.arctan2(t[:, 0], t[:, 1]), np.arctan2(t[:, 2], t[:, 1])], axis=-1))

    def hinge(self, a: str, b: str, c: str) -> np.ndarray:
        """(F,) 180 minus the angle at b (0 = straight), degrees."""
        u = self.joint(a) - self.joint(b)
        v = self.joint(c) - self.joint(b)
        cos = np.sum(u * v, -1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), 1e-9)
        return 180.0 - np.rad2deg(np.arccos(np.clip(cos, -1.0, 1.0)))

    @cached_property
    def activity(self) -> np.ndarray:
        """(F,) how much the body moves: the fastest joint's speed relative to the pelvis plus the
        pelvis's own speed, m/s, smoothed over 0.5 s (one moving arm is enough to not be still)."""
        rel = self.pos - self.pos[:, J["pelvis"]][:, None]
        v = smooth(np.linalg.norm(derivative(rel, self.fps), axis=-1), self.frames(0.5)).max(axis=-1)
        root = np.linalg.norm(derivative(self.joint("pelvis"), self.fps), axis=-1)
        return v + smooth(root, self.frames(0.5))
