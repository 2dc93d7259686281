"""The animation already in the .blend file as canonical clips, so the index can search it too.

Each action that keys pose bones is sampled on an armature that uses it (else on the given
fallback armature) through that armature's bone map: its keys are evaluated at every frame of
the scene rate, forward kinematics gives world joint positions, the map gives the 22 canonical
joints, and `runtime.motion.motion_from_positions` makes the Motion (20 fps, metres, Y up).
Nothing in the file changes: no frame is set, no action is assigned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime import retarget

from . import actions, apply, bonemap

ID_PREFIX = "blend:"


@dataclass(frozen=True, eq=False)
class BlendClip:
    """What `runtime.index.MotionItem` takes, for one action."""

    id: str
    motion: object  # runtime.motion.Motion
    content_hash: str
    label: str
    armature: str


def metres_per_unit(joints: np.ndarray, unit_scale: float = 1.0) -> float:
    """Metres per Blender unit for a rig's canonical joints (F, 22, 3).

    The scene's unit scale, unless the body then has an implausible leg length (BVH files in
    centimetres import 100 times too big): then the unit is told from the body, as the runtime
    does for files.
    """
    import math

    from runtime.motion import NOMINAL_LEG_M, leg_length
    from runtime.motion import metres_per_unit as told_from_body

    leg = leg_length(joints) * unit_scale
    if not leg > 0 or abs(math.log(leg / NOMINAL_LEG_M)) < 2 * math.log(1.45):
        return unit_scale
    return told_from_body(joints)


def users_of(action, objects) -> list:
    """Armature objects whose active action is `action`."""
    return [o for o in objects if o.type == 'ARMATURE' and o.animation_data and o.animation_data.action == action]


def sample(action, obj, rigmap, scene_fps: float, unit_scale: float = 1.0):
    """(canonical positions (F, 22, 3) in metres, Blender world axes (Z up), fps) of `action` on
    `obj`, or None when the action keys none of the armature's bones."""
    fcurves = actions.action_fcurves(action, obj)
    channels = actions.pose_channels(fcurves)
    bones = {b.name for b in obj.data.bones}
    if not any(b in bones for b in channels):
        return None
    span = actions.keyed_frame_range(fcurves)
    if span is None:
        return None
    start, end = span
    frames = start + np.arange(int(np.floor(end - start + 1e-6)) + 1)
    rig = actions.rig_of(obj)
    pose = rig.forward(actions.sample_basis(obj, rig, fcurves, frames))
    joints = rigmap.apply(rig.to_world(pose[:, :, :3, 3]))
    return joints * metres_per_unit(joints, unit_scale), scene_fps


def collect(blend_actions, objects, fallback, scene_fps: float, unit_scale: float = 1.0,
            skip_own: bool = True) -> tuple[list[BlendClip], list[tuple[str, str]]]:
    """Sample every pose action of the file: (clips, [(action name, why it was skipped)]).

    Actions this add-on applied (they hold a library clip already) are skipped when `skip_own`.
    """
    from runtime.errors import MotionSearchError
    from runtime.motion import motion_from_positions

    clips, skipped = [], []
    maps: dict[str, object] = {}
    for action in blend_actions:
        if skip_own and actions.SOURCE_KEY in action.keys():
            continue
        owners = users_of(action, objects) or ([fallback] if fallback is not None else [])
        if not owners:
            skipped.append((action.name, "no armature uses it"))
            continue
        obj = owners[0]
        if obj.name not in maps:
            try:
                maps[obj.name] = apply.resolve_map(obj)
            except apply.ApplyError as e:
                maps[obj.name] = e
        rigmap = maps[obj.name]
        if isinstance(rigmap, Exception):
            skipped.append((action.name, str(rigmap)))
            continue
        got = sample(action, obj, rigmap, scene_fps, unit_scale)
        if got is None:
            continue  # not a pose action of this armature (object or shape key animation)
        world, fps = got
        if len(world) < 2:
            skipped.append((action.name, "fewer than two frames"))
            continue
        try:
            motion = motion_from_positions(retarget.from_blender(world), fps, f"{ID_PREFIX}{action.name}")
        except MotionSearchError as e:
            skipped.append((action.name, str(e)))
            continue
        digest = actions.content_hash(actions.action_fcurves(action, obj),
                                      extra=f"{fps:g}|{obj.name}|{','.join(bonemap.detected_bones(rigmap).values())}")
        clips.append(BlendClip(f"{ID_PREFIX}{action.name}", motion, digest, action.name, obj.name))
    return clips, skipped


def clip_motion(action_name: str, blend_actions, objects, fallback, scene_fps: float, unit_scale: float = 1.0):
    """The Motion of one action of the file (as indexed), or a sentence saying why there is none."""
    action = blend_actions.get(action_name)
    if action is None:
        return f"The action '{action_name}' is no longer in this file: update the index"
    owners = users_of(action, objects) or ([fallback] if fallback is not None else [])
    if not owners:
        return f"No armature plays the action '{action_name}'"
    return action_motion(action, owners[0], scene_fps, unit_scale)


def action_motion(action, obj, scene_fps: float, unit_scale: float = 1.0):
    """The Motion of `action` played on the armature `obj`, or a sentence saying why there is none."""
    from runtime.errors import MotionSearchError
    from runtime.motion import motion_from_positions

    try:
        rigmap = apply.resolve_map(obj)
    except apply.ApplyError as e:
        return str(e)
    got = sample(action, obj, rigmap, scene_fps, unit_scale)
    if got is None:
        return f"The action '{action.name}' has no pose keys for '{obj.name}'"
    world, fps = got
    if len(world) < 2:
        return f"The action '{action.name}' is too short: fewer than two frames"
    try:
        return motion_from_positions(retarget.from_blender(world), fps, f"{ID_PREFIX}{action.name}")
    except MotionSearchError as e:
        return f"The action '{action.name}' cannot be read: {getattr(e, 'reason', e)}"
