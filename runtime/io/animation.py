"""The skeletal animation every reader returns: a joint tree with per-frame local transforms.

One shape for BVH and ASF/AMC, so that forward kinematics, rig mapping and everything after
them exist once. The arrays stay in the file's own units and axes; `runtime.motion` turns them
into canonical 20 fps joint positions in metres. The Euler rotations of its channels (any axis
order, as BVH and ASF state them) are computed here too, so readers and kinematics share them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Animation:
    """A joint hierarchy and its motion, as stored in a file.

    Joint j's transform relative to its parent at frame f is

        Translate(t) @ pre[j] @ R(axes[j][0], a0) @ R(axes[j][1], a1) @ ... @ post[j]

    with t = `translations[f, k]` if joint j is `translation_joints[k]`, else `offsets[j]`,
    and (a0, a1, ...) = `angles[f, j, :len(axes[j])]` in degrees.

    Attributes:
        path: the file it came from (for messages).
        names: joint names, parents before children. End sites are joints named `<parent>_end`.
        parents: (J,) int32, -1 for a root.
        offsets: (J, 3) float64 rest offsets from the parent, in file units.
        axes: per joint, the rotation axes in matrix-product order ("ZXY" means Rz @ Rx @ Ry);
            "" for a joint without rotation.
        angles: (F, J, 3) float32 rotation angles in degrees.
        translation_joints: (K,) int32 joints whose translation is animated.
        translations: (F, K, 3) float32 their per-frame translations in file units.
        pre, post: (J, 3, 3) constant rotations around the animated one (ASF bone axes), or None.
        fps: frame rate the file states.
        end_site: (J,) bool, True for end-site joints (no channels, only an offset).
        line_of_frame0: line number of the first frame in the file (for messages), or 0.
    """

    path: str
    names: tuple[str, ...]
    parents: np.ndarray
    offsets: np.ndarray
    axes: tuple[str, ...]
    angles: np.ndarray
    translation_joints: np.ndarray
    translations: np.ndarray
    fps: float
    end_site: np.ndarray
    pre: np.ndarray | None = None
    post: np.ndarray | None = None
    line_of_frame0: int = 0

    @property
    def num_frames(self) -> int:
        return int(self.angles.shape[0])

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def children(self, j: int) -> list[int]:
        return [int(c) for c in np.flatnonzero(self.parents == j)]


def axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about "X", "Y" or "Z" by `degrees` (...)."""
    a = np.deg2rad(np.asarray(degrees, np.float64))
    c, s = np.cos(a), np.sin(a)
    out = np.zeros(a.shape + (3, 3))
    i, j, k = {"X": (0, 1, 2), "Y": (1, 2, 0), "Z": (2, 0, 1)}[axis]
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


def euler_matrix(axes: str, degrees: np.ndarray) -> np.ndarray:
    """R(axes[0], d0) @ R(axes[1], d1) @ ... for `degrees` (..., len(axes)); identity for ""."""
    degrees = np.asarray(degrees)
    if not axes:
        return np.broadcast_to(np.eye(3), degrees.shape[:-1] + (3, 3)).copy()
    out = axis_rotation(axes[0], degrees[..., 0])
    for k in range(1, len(axes)):
        out = out @ axis_rotation(axes[k], degrees[..., k])
    return out


def euler_angles(rotations: np.ndarray, axes: str) -> np.ndarray:
    """The inverse of `euler_matrix` for three distinct axes: degrees (..., 3) with
    euler_matrix(axes, result) == rotations. The middle angle is within [-90, 90]; at +-90 (gimbal
    lock) the last angle is 0. Angles are not unwrapped over time (np.unwrap does that)."""
    if len(axes) != 3 or len(set(axes)) != 3:
        raise ValueError(f"euler_angles needs three distinct axes, not {axes!r}")
    r = np.asarray(rotations, np.float64)
    i, j, k = ("XYZ".index(a) for a in axes)
    even = (j - i) % 3 == 1  # XYZ, YZX, ZXY
    e = 1.0 if even else -1.0
    sin_b = np.clip(e * r[..., i, k], -1.0, 1.0)
    b = np.arcsin(sin_b)
    cos_b = np.sqrt(np.maximum(1.0 - sin_b**2, 0.0))
    a = np.arctan2(-e * r[..., j, k], r[..., k, k])
    c = np.arctan2(-e * r[..., i, j], r[..., i, i])
    locked = cos_b < 1e-6
    if np.any(locked):  # R = R_i(a) R_j(+-90): c is free; take c = 0 and read a from R @ R_j(b)^T
        rest = r[locked] @ np.swapaxes(axis_rotation(axes[1], np.rad2deg(b[locked])), -1, -2)
        p, q = (i + 1) % 3, (i + 2) % 3
        a[locked] = np.arctan2(rest[..., q, p], rest[..., p, p])
        c[locked] = 0.0
    return np.rad2deg(np.stack([a, b, c], axis=-1))
