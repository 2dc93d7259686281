"""BlazePose's 33 landmarks -> the canonical 22 joints, placed in the camera's space and levelled.

Limb joints are landmarks (hips, knees, ankles, shoulders, elbows, wrists; a foot is the ball,
70% of the way from heel to toe tip). The joints BlazePose has no landmark for are placed the way
this project's own rigs place them, as measured on Bandai-Namco clips by
`./dev py bench/video_body_stats.py`: in the trunk's frame (origin between the hips, up to between
the shoulders, left across the hips and shoulders; in units of that hip-to-shoulder length) the
pelvis is 0.055 up, spine1 0.449, spine2 0.562, spine3 0.675, the neck 1.082 up and 0.059 forward;
each collar is 56% of the way from the neck to its shoulder, and the head 0.163 trunk lengths from
the neck towards the middle of the ears.
"""

from __future__ import annotations

import math

import numpy as np

from ..motion import JOINTS, J

BLAZEPOSE = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
B = {name: i for i, name in enumerate(BLAZEPOSE)}
SWAP = np.array([B[n.replace("left_", "right_") if n.startswith("left_") else n.replace("right_", "left_")]
                 for n in BLAZEPOSE], np.int64)
"""SWAP[i]: the landmark that i is called when left and right labels are exchanged."""

_LIMBS = {f"{s}_{j}": B[f"{s}_{j}"] for s in ("left", "right")
          for j in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")}
# trunk joints in the trunk frame: (left, up, forward) in trunk lengths, from Bandai-Namco clips
_TRUNK = {"pelvis": (0.0, 0.055, 0.0), "spine1": (0.0, 0.449, 0.0), "spine2": (0.0, 0.562, 0.005),
          "spine3": (0.0, 0.675, 0.01), "neck": (0.0, 1.082, 0.059)}
COLLAR_T = 0.561
HEAD_FROM_NECK = 0.163
FOOT_T = 0.7
# landmarks that place the body in the image (trunk and legs: steadier than hands and face)
_PLACING = [B[f"{s}_{j}"] for s in ("left", "right") for j in ("shoulder", "hip", "knee", "ankle", "elbow")]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def canonical_joints(world: np.ndarray) -> np.ndarray:
    """(F, 33, 3) landmarks -> (F, 22, 3) canonical joints, same axes and units."""
    w = np.asarray(world, np.float64)
    out = np.zeros(w.shape[:-2] + (len(JOINTS), 3))
    for name, i in _LIMBS.items():
        out[..., J[name], :] = w[..., i, :]
    for s in ("left", "right"):
        heel, toe = w[..., B[f"{s}_heel"], :], w[..., B[f"{s}_foot_index"], :]
        out[..., J[f"{s}_foot"], :] = heel + FOOT_T * (toe - heel)
    hips = (w[..., B["left_hip"], :] + w[..., B["right_hip"], :]) / 2
    shoulders = (w[..., B["left_shoulder"], :] + w[..., B["right_shoulder"], :]) / 2
    length = np.linalg.norm(shoulders - hips, axis=-1, keepdims=True)
    up = _unit(shoulders - hips)
    left = (w[..., B["left_hip"], :] - w[..., B["right_hip"], :]) + \
        (w[..., B["left_shoulder"], :] - w[..., B["right_shoulder"], :])
    left = _unit(left - up * np.sum(left * up, axis=-1, keepdims=True))
    forward = np.cross(left, up)
    for name, (a, b, c) in _TRUNK.items():
        out[..., J[name], :] = hips + length * (a * left + b * up + c * forward)
    neck = out[..., J["neck"], :]
    for s in ("left", "right"):
        out[..., J[f"{s}_collar"], :] = neck + COLLAR_T * (out[..., J[f"{s}_shoulder"], :] - neck)
    ears = (w[..., B["left_ear"], :] + w[..., B["right_ear"], :]) / 2
    out[..., J["head"], :] = neck + HEAD_FROM_NECK * length * _unit(ears - neck)
    return out


def place_in_camera(world: np.ndarray, image: np.ndarray, visibility: np.ndarray, width: int, height: int,
                    fov_deg: float = 60.0) -> np.ndarray:
    """(F, 3) where the landmarks' origin (between the hips) is in camera space, metres: the
    translation whose pinhole projection of the metric landmarks best fits their 2D positions
    (linear least squares per frame, weighted by visibility). `fov_deg` is the camera's
    horizontal field of view; it scales the depth and the travel, not the pose."""
    f = (width / 2) / math.tan(math.radians(fov_deg) / 2)
    out = np.full((len(world), 3), np.nan)
    for k in range(len(world)):
        P = np.asarray(world[k, _PLACING], np.float64)
        uv = (np.asarray(image[k, _PLACING], np.float64) - 0.5) * [width, height]
        wgt = np.sqrt(np.clip(np.asarray(visibility[k, _PLACING], np.float64), 0.05, 1.0))
        if not np.isfinite(P).all():
            continue
        # u (Pz + tz) = f (Px + tx)  ->  f tx - u tz = u Pz - f Px   (and the same for v, y)
        rows, rhs = [], []
        for axis in (0, 1):
            a = np.zeros((len(P), 3))
            a[:, axis] = f
            a[:, 2] = -uv[:, axis]
            rows.append(a * wgt[:, None])
            rhs.append((uv[:, axis] * P[:, 2] - f * P[:, axis]) * wgt)
        t, *_ = np.linalg.lstsq(np.concatenate(rows), np.concatenate(rhs), rcond=None)
        out[k] = t
    return out


def level(positions: np.ndarray) -> np.ndarray:
    """Rotate camera-space joints (y down) so that the body's up over the clip (feet to shoulders,
    the median of each frame's direction) is +Y: a tilted camera's lean taken out, its heading kept."""
    p = np.asarray(positions, np.float64)
    feet = (p[:, J["left_ankle"]] + p[:, J["right_ankle"]]) / 2
    shoulders = (p[:, J["left_shoulder"]] + p[:, J["right_shoulder"]]) / 2
    up = _unit(np.median(_unit(shoulders - feet), axis=0))
    target = np.array([0.0, 1.0, 0.0])
    # the rotation taking `up` to +Y about their common perpendicular (Rodrigues)
    axis = np.cross(up, target)
    s, c = np.linalg.norm(axis), float(np.dot(up, target))
    if s < 1e-9:
        rot = np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    else:
        k = axis / s
        K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        rot = np.eye(3) + s * K + (1 - c) * K @ K
    return p @ rot.T
