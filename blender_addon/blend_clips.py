"""The animation already in the .blend file as canonical clips, so the index can search it too.

Each action that keys pose bones is sampled on an armature that uses it (else on the given
fallback armature) through that armature's bone map, at every frame of the scene rate: the map
gives the 22 canonical joints from world bone positions, and `runtime.motion.motion_from_positions`
makes the Motion (20 fps, metres, Y up). A plain armature's keys are evaluated from the F-curves
and forward kinematics in numpy. Where the bones the map reads (or bones above them) follow
constraints or drivers, as a generated Rigify rig's deform bones follow its controls, the keys
say nothing by themselves: Blender evaluates the rig as it shows it, frame by frame, in a
temporary scene that holds only the armature (its constraint targets come along).
Nothing in the file changes: the user's scene keeps its frame, and an action played for the
sampling is unassigned again.
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


def follows_constraints(obj, rigmap) -> bool:
    """Whether a bone the map reads, or a bone above it, follows an active constraint or a driver:
    then its keys alone do not say where it is (a generated Rigify rig's deform bones)."""
    bones = obj.data.bones
    names = [b.name for b in bones]
    chain = set()
    for i in rigmap.source_joints:
        b = bones[names[int(i)]]
        while b is not None and b.name not in chain:
            chain.add(b.name)
            b = b.parent
    pbs = obj.pose.bones
    if any(c.enabled and c.influence > 0.0 and not c.mute for n in chain for c in pbs[n].constraints):
        return True
    drivers = obj.animation_data.drivers if obj.animation_data is not None else ()
    return any(not d.mute and actions.path_bone(d.data_path) in chain for d in drivers)


def sample(action, obj, rigmap, scene_fps: float, unit_scale: float = 1.0, progress=None):
    """(canonical positions (F, 22, 3) in metres, Blender world axes (Z up), fps) of `action` on
    `obj`, or None when the action keys none of the armature's bones. Evaluated by Blender where
    the mapped bones follow constraints (see `follows_constraints`); `progress(done, total)` is
    called per frame there."""
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
    if follows_constraints(obj, rigmap):
        world = evaluated_heads(action, obj, frames, scene_fps, progress)
    else:
        rig = actions.rig_of(obj)
        world = rig.to_world(rig.forward(actions.sample_basis(obj, rig, fcurves, frames))[:, :, :3, 3])
    joints = rigmap.apply(world)
    return joints * metres_per_unit(joints, unit_scale), scene_fps


def evaluated_heads(action, obj, frames: np.ndarray, scene_fps: float, progress=None) -> np.ndarray:
    """World head positions (F, n, 3) of every bone of `obj` (in `obj.data.bones` order) as Blender
    evaluates them with `action` playing alone (no NLA), constraints and drivers included, at
    scene `frames` (fractions are subframes). The armature is evaluated in a temporary scene of
    its own: the user's scene is not evaluated and keeps its frame; the armature's action, slot and
    NLA settings are given back afterwards (in NLA tweak mode it is evaluated as it stands)."""
    import bpy

    names = [b.name for b in obj.data.bones]
    order = {pb.name: i for i, pb in enumerate(obj.pose.bones)}
    slot = np.array([order[n] for n in names])
    buf = np.empty(len(order) * 3, np.float32)
    created = obj.animation_data is None
    ad = obj.animation_data_create() if created else obj.animation_data
    saved = {k: getattr(ad, k) for k in ("action", "use_nla", "action_influence", "action_blend_type")}
    if actions.LAYERED:
        saved["action_slot"] = ad.action_slot
    scene = bpy.data.scenes.new("motion search sampling")
    out = np.empty((len(frames), len(names), 3))
    try:
        scene.render.fps, scene.render.fps_base = max(1, round(scene_fps)), 1.0
        scene.collection.objects.link(obj)
        if not ad.use_tweak_mode:
            if ad.action != action:
                ad.action = action
            if actions.LAYERED and ad.action_slot is None:
                ad.action_slot = next((s for s in action.slots if s.target_id_type == 'OBJECT'), None)
            ad.use_nla, ad.action_influence, ad.action_blend_type = False, 1.0, 'REPLACE'
        for k, f in enumerate(frames):
            whole = int(np.floor(f))
            scene.frame_set(whole, subframe=float(f - whole))  # evaluates the scene's depsgraph
            ev = obj.evaluated_get(scene.view_layers[0].depsgraph)
            ev.pose.bones.foreach_get("head", buf)
            mw = np.array(ev.matrix_world, np.float64)
            out[k] = buf.reshape(-1, 3)[slot] @ mw[:3, :3].T + mw[:3, 3]
            if progress is not None:
                progress(k + 1, len(frames))
    finally:
        bpy.data.scenes.remove(scene)
        if created:
            obj.animation_data_clear()
        elif not ad.use_tweak_mode:
            for k in ("action", "action_slot", "use_nla", "action_influence", "action_blend_type"):
                if k in saved and getattr(ad, k) != saved[k]:
                    setattr(ad, k, saved[k])
    return out


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
        with actions.progress_bar() as progress:
            got = sample(action, obj, rigmap, scene_fps, unit_scale, progress)
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
    with actions.progress_bar() as progress:
        got = sample(action, obj, rigmap, scene_fps, unit_scale, progress)
    if got is None:
        return f"The action '{action.name}' has no pose keys for '{obj.name}'"
    world, fps = got
    if len(world) < 2:
        return f"The action '{action.name}' is too short: fewer than two frames"
    try:
        return motion_from_positions(retarget.from_blender(world), fps, f"{ID_PREFIX}{action.name}")
    except MotionSearchError as e:
        return f"The action '{action.name}' cannot be read: {getattr(e, 'reason', e)}"
