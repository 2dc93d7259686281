"""Rotations and forward kinematics in numpy (vectorised over frames)."""

from __future__ import annotations

import numpy as np

from .io.animation import Animation


def axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about "X", "Y" or "Z" by `degrees` (...)."""
    a = np.deg2rad(np.asarray(degrees, np.float64))
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a), np.zeros_like(a)
    if axis == "X":
        rows = ((one, zero, zero), (zero, c, -s), (zero, s, c))
    elif axis == "Y":
        rows = ((c, zero, s), (zero, one, zero), (-s, zero, c))
    elif axis == "Z":
        rows = ((c, -s, zero), (s, c, zero), (zero, zero, one))
    else:
        raise ValueError(f"axis must be X, Y or Z, not {axis!r}")
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def euler_matrix(axes: str, degrees: np.ndarray) -> np.ndarray:
    """R(axes[0], d0) @ R(axes[1], d1) @ ... for `degrees` (..., len(axes)); identity for ""."""
    degrees = np.asarray(degrees)
    out = np.broadcast_to(np.eye(3), degrees.shape[:-1] + (3, 3)).copy()
    for k, axis in enumerate(axes):
        out = out @ axis_rotation(axis, degrees[..., k])
    return out


def local_rotations(anim: Animation, joint: int, frames: np.ndarray) -> np.ndarray:
    """(len(frames), 3, 3) local rotation of `joint` at `frames`."""
    axes = anim.axes[joint]
    rot = euler_matrix(axes, anim.angles[frames, joint, : len(axes)])
    if anim.pre is not None:
        rot = anim.pre[joint] @ rot @ anim.post[joint]
    return rot


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
    n = len(frames)
    world_rot: dict[int, np.ndarray] = {}
    world_pos: dict[int, np.ndarray] = {}
    for j in needed_joints(anim.parents, joints):
        k = trans_slot.get(j)
        t = anim.translations[frames, k].astype(np.float64) if k is not None else np.broadcast_to(anim.offsets[j], (n, 3))
        rot = local_rotations(anim, j, frames)
        p = int(anim.parents[j])
        if p < 0:
            world_pos[j] = np.array(t, np.float64)
            world_rot[j] = rot
        else:
            world_pos[j] = world_pos[p] + np.einsum("fij,fj->fi", world_rot[p], t)
            world_rot[j] = world_rot[p] @ rot
    return np.stack([world_pos[j] for j in joints], axis=1)


def normalize(v: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def rotation_to_vector(rot: np.ndarray) -> np.ndarray:
    """Axis-angle vectors (..., 3) in radians of rotation matrices (..., 3, 3) (the log map).

    Continuous everywhere except at 180 degrees, which the body frames of `runtime.features`
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
    """The smallest rotation (..., 3, 3) taking unit vectors a to b (Rodrigues)."""
    a, b = normalize(a), normalize(b)
    v = np.cross(a, b)
    c = np.sum(a * b, axis=-1)
    vx = np.zeros(v.shape[:-1] + (3, 3))
    vx[..., 0, 1], vx[..., 0, 2] = -v[..., 2], v[..., 1]
    vx[..., 1, 0], vx[..., 1, 2] = v[..., 2], -v[..., 0]
    vx[..., 2, 0], vx[..., 2, 1] = -v[..., 1], v[..., 0]
    k = 1.0 / np.maximum(1.0 + c, 1e-9)
    return np.eye(3) + vx + (vx @ vx) * k[..., None, None]
