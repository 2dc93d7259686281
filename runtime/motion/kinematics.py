"""Rotations and forward kinematics in numpy (vectorised over frames)."""

from __future__ import annotations

import numpy as np

from ..io import Animation, euler_matrix


def local_rotations(anim: Animation, joints: list[int], frames: np.ndarray) -> np.ndarray:
    """(len(frames), len(joints), 3, 3) local rotations, computed once per distinct axis order."""
    out = np.empty((len(frames), len(joints), 3, 3))
    groups: dict[str, list[int]] = {}
    for slot, j in enumerate(joints):
        groups.setdefault(anim.axes[j], []).append(slot)
    for axes, slots in groups.items():
        cols = np.asarray(joints)[slots]
        out[:, slots] = euler_matrix(axes, anim.angles[frames][:, cols, : len(axes)])
    if anim.pre is not None:
        out = anim.pre[joints] @ out @ anim.post[joints]
    return out


def needed_joints(parents: np.ndarray, joints: list[int] | np.ndarray) -> list[int]:
    """`joints` and all their ancestors, parents before children."""
    need: set[int] = set()
    for j in joints:
        j = int(j)
        while j >= 0 and j not in need:
            need.add(j)
            j = int(parents[j])
    return sorted(need)  # readers store parents before children


def forward_kinematics(
    anim: Animation, frames: np.ndarray | None = None, joints: list[int] | np.ndarray | None = None
) -> np.ndarray:
    """World positions (len(frames), len(joints), 3) in file units and axes.

    Only `joints` and their ancestors are computed, only at `frames`: a 100-bone rig with
    fingers and face costs no more than its 22 body joints.
    """
    frames = np.arange(anim.num_frames) if frames is None else np.asarray(frames, np.int64)
    joints = list(range(anim.num_joints)) if joints is None else [int(j) for j in joints]
    trans_slot = {int(j): k for k, j in enumerate(anim.translation_joints)}
    order = needed_joints(anim.parents, joints)
    rots = local_rotations(anim, order, frames)
    n = len(frames)
    world_rot: dict[int, np.ndarray] = {}
    world_pos: dict[int, np.ndarray] = {}
    for slot, j in enumerate(order):
        k = trans_slot.get(j)
        t = anim.translations[frames, k].astype(np.float64) if k is not None else np.broadcast_to(anim.offsets[j], (n, 3))
        p = int(anim.parents[j])
        if p < 0:
            world_pos[j] = np.array(t, np.float64)
            world_rot[j] = rots[:, slot]
        else:
            world_pos[j] = world_pos[p] + np.einsum("fij,fj->fi", world_rot[p], t)
            world_rot[j] = world_rot[p] @ rots[:, slot]
    return np.stack([world_pos[j] for j in joints], axis=1)


def normalize(v: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def rotation_to_vector(rot: np.ndarray) -> np.ndarray:
    """Axis-angle vectors (..., 3) in radians of rotation matrices (..., 3, 3) (the log map).

    Continuous everywhere except at 180 degrees, which the body frames of `runtime.motion.features`
    are set up never to reach in normal poses.
    """
    tr = np.trace(rot, axis1=-2, axis2=-1)
    cos = np.clip((tr - 1.0) / 2.0, -1.0, 1.0)
    angle = np.arccos(cos)
    axis = np.stack(
        [rot[..., 2, 1] - rot[..., 1, 2], rot[..., 0, 2] - rot[..., 2, 0], rot[..., 1, 0] - rot[..., 0, 1]], axis=-1
    )
    sin = np.sin(angle)
    small = sin < 1e-6
    scale = np.where(small, 0.5, angle / (2.0 * np.where(small, 1.0, sin)))
    vec = axis * scale[..., None]
    # near 180 degrees the antisymmetric part vanishes: take the axis from the symmetric part
    near_pi = (angle > np.pi - 1e-3)
    if np.any(near_pi):
        sym = (rot[near_pi] + np.eye(3)) / 2.0
        col = np.argmax(np.diagonal(sym, axis1=-2, axis2=-1), axis=-1)
        ax = normalize(np.take_along_axis(sym, col[:, None, None].repeat(3, 1), axis=2)[..., 0])
        vec[near_pi] = ax * angle[near_pi][:, None]
    return vec


def frame_from_axes(x: np.ndarray, y_hint: np.ndarray) -> np.ndarray:
    """Right-handed orthonormal frames (..., 3, 3) with columns (x, y, z): x exact, y from the hint."""
    x = normalize(x)
    y = normalize(y_hint - x * np.sum(y_hint * x, axis=-1, keepdims=True))
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def frame_from_yz(y: np.ndarray, z_hint: np.ndarray) -> np.ndarray:
    """Frames with y exact and z from the hint (x = y cross z)."""
    y = normalize(y)
    z = normalize(z_hint - y * np.sum(z_hint * y, axis=-1, keepdims=True))
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=-1)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotations (..., 3, 3) taking the directions a (..., 3) onto b (Rodrigues); for
    opposite directions, a half turn about an axis perpendicular to a."""
    a, b = np.broadcast_arrays(normalize(np.asarray(a, np.float64)), normalize(np.asarray(b, np.float64)))
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)
    k = np.zeros(a.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2] = -v[..., 2], v[..., 1]
    k[..., 1, 0], k[..., 1, 2] = v[..., 2], -v[..., 0]
    k[..., 2, 0], k[..., 2, 1] = -v[..., 1], v[..., 0]
    opposite = c < -1.0 + 1e-9
    out = np.eye(3) + k + (k @ k) * (1.0 / np.where(opposite, 1.0, 1.0 + c))[..., None, None]
    if np.any(opposite):
        ao = a[opposite]
        helper = np.where(np.abs(ao[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        axis = normalize(np.cross(ao, helper))
        out[opposite] = 2.0 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
    return out