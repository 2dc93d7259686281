"""What a video was understood as, as a BVH animation: on a T-posed skeleton of the canonical
joints (named as SMPL names them, sized like the person in the video), or on a given skeleton."""

from __future__ import annotations

import numpy as np

from ..io import Animation
from ..motion import JOINTS, PARENTS, Motion
from ..retarget import retarget_onto

# rest directions of each joint from its parent (Y up, facing +Z, X the body's left)
_REST_DIRECTION = {
    "hip": (1.0, -0.35, 0.0), "knee": (0.0, -1.0, 0.0), "ankle": (0.0, -1.0, 0.0), "foot": (0.0, -0.45, 1.0),
    "spine1": (0.0, 1.0, 0.0), "spine2": (0.0, 1.0, 0.0), "spine3": (0.0, 1.0, 0.0), "neck": (0.0, 1.0, 0.05),
    "head": (0.0, 1.0, 0.1), "collar": (1.0, 0.15, 0.0), "shoulder": (1.0, 0.0, 0.0), "elbow": (1.0, 0.0, 0.0),
    "wrist": (1.0, 0.0, 0.0),
}


def canonical_skeleton(motion: Motion, name: str = "video") -> Animation:
    """A one-frame T-pose skeleton of the 22 canonical joints with the clip's median bone lengths."""
    pos = np.asarray(motion.positions, np.float64)
    offsets = np.zeros((len(JOINTS), 3))
    for j, joint in enumerate(JOINTS):
        p = int(PARENTS[j])
        if p < 0:
            continue
        side, _, part = joint.partition("_") if joint.startswith(("left_", "right_")) else ("", "", joint)
        d = np.array(_REST_DIRECTION[part])
        if side == "right":
            d[0] = -d[0]
        length = float(np.median(np.linalg.norm(pos[:, j] - pos[:, p], axis=-1)))
        offsets[j] = d / np.linalg.norm(d) * max(length, 0.01)
    legs = offsets[[1, 4, 7], 1].sum()  # pelvis above the ankle: the rest pose stands on y = 0 (ankles)
    offsets[0] = (0.0, -legs, 0.0)
    n = len(JOINTS)
    return Animation(path=name, names=JOINTS, parents=PARENTS.copy(), offsets=offsets, axes=("ZXY",) * n,
                     angles=np.zeros((1, n, 3), np.float32), translation_joints=np.array([0], np.int32),
                     translations=offsets[None, :1].astype(np.float32), fps=motion.fps,
                     end_site=np.zeros(n, bool))


def video_bvh(motion: Motion, onto: Animation | None = None, *, fps: float | None = None,
              rig_overrides=None) -> Animation:
    """`motion` as an animation of `onto`'s skeleton (a BVH file's; `rig_overrides` maps its bones),
    or of its own canonical skeleton; at `fps` (default: the motion's 20)."""
    target = onto if onto is not None else canonical_skeleton(motion, motion.source)
    return retarget_onto(motion, target, rig_overrides=rig_overrides if onto is not None else None,
                         fps=fps or motion.fps)
