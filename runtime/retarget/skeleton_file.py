"""A clip retargeted onto another file's skeleton, as an animation that skeleton's BVH can hold.

The target skeleton (a BVH file's hierarchy, offsets and channel orders) becomes a `Rig` whose
bones rest at its zero pose, in Blender's axes (the solve's frame: Z up, facing -Y), so the same
`plan` / `retarget` solve the add-on keys into an armature runs here. Each bone's `matrix_basis`
is then its BVH rotation (conjugated back to the file's Y-up axes) as Euler angles in the
joint's own channel order; the pelvis travel goes to the pelvis joint's position channels, or
to its root's when it has none (the bones above a pelvis are never rotated, so that is the
same motion).

The clip starts at the origin facing +Z with its feet on y = 0, scaled by the ratio of the
target's leg length to the clip's, keyed at the clip's own frame rate (or `fps`).
"""

from __future__ import annotations

import numpy as np

from ..errors import MotionFormatError
from ..io import Animation, euler_angles
from ..motion import Motion, leg_length, map_skeleton, rest_heads, shape_pose
from .solve import Placement, Rig, plan, retarget
from .timing import interpolate, scene_samples

# canonical / BVH axes (Y up, facing +Z) -> Blender's (Z up, facing -Y): (x, y, z) -> (x, -z, y)
TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def skeleton_rig(target: Animation) -> Rig:
    """The target's bones at its zero pose (rest rotations identity, heads in Blender axes)."""
    heads = rest_heads(target.parents, target.offsets) @ TO_BLENDER.T
    rest = np.broadcast_to(np.eye(4), (target.num_joints, 4, 4)).copy()
    rest[:, :3, 3] = heads
    parent_names = [target.names[p] if p >= 0 else None for p in target.parents]
    return Rig.from_bones(target.names, parent_names, rest, np.eye(4))


def retarget_onto(motion: Motion, target: Animation, *, rig_overrides=None, fps: float | None = None) -> Animation:
    """`motion` as an animation of `target`'s skeleton (names, offsets, channel orders kept;
    joints that the solve turns but that have fewer than three rotation channels get ZXY).

    Raises:
        RigMappingError: the target's bones do not map onto the 22 joints.
        MotionFormatError: the target has ASF bone axes (write those clips onto a BVH skeleton).
    """
    if target.pre is not None:
        raise MotionFormatError(target.path, "retargeting writes BVH: give a BVH file's skeleton as the target")
    rig = skeleton_rig(target)
    if rig.names != tuple(target.names):  # readers store parents before children
        raise MotionFormatError(target.path, "joints are not stored parents first")
    rigmap = map_skeleton(target.names, target.parents, lambda: shape_pose(target), target.path,
                          overrides=rig_overrides, forward_hint=(0.0, 0.0, 1.0), ignore=target.end_site)
    p = plan(rig, rigmap)
    out_fps = float(fps or motion.source_fps or motion.fps)
    clip = interpolate(np.asarray(motion.positions, np.float64),
                       scene_samples(0.0, motion.num_frames - 1.0, motion.fps, out_fps))
    where = Placement(np.zeros(3), 0.0, leg_length(p.rest_joints()[None]), "file")
    basis, _ = retarget(p, clip, where, leg_length(motion.positions))

    frames = len(clip)
    rotations = TO_BLENDER.T @ basis[:, :, :3, :3] @ TO_BLENDER  # back to the file's axes
    driven = set(p.driven)
    axes = [a if len(a) == 3 or b not in driven else "ZXY" for b, a in enumerate(target.axes)]
    angles = np.zeros((frames, target.num_joints, 3), np.float32)
    for b, order in enumerate(axes):
        if b in driven:
            radians = np.deg2rad(euler_angles(rotations[:, b], order))
            angles[:, b] = np.rad2deg(np.unwrap(radians, axis=0))
    carrier = p.pelvis if p.pelvis in set(int(j) for j in target.translation_joints) else _root_of(target, p.pelvis)
    travel = basis[:, p.pelvis, :3, 3] @ TO_BLENDER  # the pelvis bone's location, file axes
    translations = (target.offsets[carrier] + travel)[:, None, :].astype(np.float32)
    return Animation(path=target.path, names=tuple(target.names), parents=np.asarray(target.parents, np.int32),
                     offsets=np.asarray(target.offsets, np.float64), axes=tuple(axes), angles=angles,
                     translation_joints=np.array([carrier], np.int32), translations=translations, fps=out_fps,
                     end_site=np.asarray(target.end_site, bool))


def _root_of(anim: Animation, j: int) -> int:
    while anim.parents[j] >= 0:
        j = int(anim.parents[j])
    return j
