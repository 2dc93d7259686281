"""The canonical 22-joint body (SMPL joint order), its left/right symmetry and its bones."""

from __future__ import annotations

import numpy as np

JOINTS: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
J = {name: i for i, name in enumerate(JOINTS)}

PARENTS: np.ndarray = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19], np.int32
)


def _mirror_index() -> np.ndarray:
    out = []
    for name in JOINTS:
        if name.startswith("left_"):
            out.append(J["right_" + name[5:]])
        elif name.startswith("right_"):
            out.append(J["left_" + name[6:]])
        else:
            out.append(J[name])
    return np.array(out, np.int64)


MIRROR: np.ndarray = _mirror_index()
"""MIRROR[j] is the joint that j becomes in a left/right mirror image."""


def mirror_positions(positions: np.ndarray) -> np.ndarray:
    """The left/right mirror image of canonical positions (..., 22, 3) (X is the body's left)."""
    out = positions[..., MIRROR, :].copy()
    out[..., 0] *= -1.0
    return out


# Bones drawn in pictures (child, parent), and the chain used to measure body size.
BONES: tuple[tuple[int, int], ...] = tuple((c, int(p)) for c, p in enumerate(PARENTS) if p >= 0)
