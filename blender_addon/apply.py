"""Putting a clip on an armature: load, map the bones, retarget, key a new action, mark the timeline.

`apply_clip` is what the Apply operator runs (and what scripts can call): every check and all the
computing happen before the first change to the file, so an error changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from runtime import retarget

from . import actions, bonemap, nla, results, rigify

ACTION_SUFFIX = " (motion search)"
# Blender 4.5 keeps 63 bytes of a name; leave room for the ".001" it adds to a taken name.
ACTION_NAME_BYTES = 59
# More than this share of the driven bones under constraints: a control rig, keys would not show.
CONSTRAINED_MAX_SHARE = 0.5


@dataclass
class Applied:
    """What `apply_clip` did, for the operator's report and for tests."""

    action: str
    previous_action: str | None
    frame_start: int
    frame_end: int
    bones: int
    markers: list[tuple[str, int]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    placement: str = ""
    strip: str = ""  # applied as an NLA strip: its name and its track's
    track: str = ""


class ApplyError(Exception):
    """Something the user must fix; the message is a sentence for the UI."""


def user_bone_map(obj) -> dict[str, str]:
    """The bone map entries the user set on this armature (joint -> bone name)."""
    pg = getattr(obj.data, "motion_search", None)
    if pg is None:
        return {}
    from runtime.motion import JOINTS

    return {j: getattr(pg, j) for j in JOINTS if getattr(pg, j, "")}


def skeleton_of(obj) -> tuple[tuple[str, ...], tuple[int, ...], np.ndarray]:
    """Bone names, parent indices (-1 root) and rest heads in world axes (for mapping by shape)."""
    bones = obj.data.bones
    names = tuple(b.name for b in bones)
    index = {n: i for i, n in enumerate(names)}
    parents = tuple(index[b.parent.name] if b.parent else -1 for b in bones)
    mw = np.array(obj.matrix_world)
    heads = np.array([tuple(b.head_local) for b in bones], np.float64).reshape(-1, 3) @ mw[:3, :3].T
    return names, parents, heads


def resolve_map(obj):
    """The armature's bone map (detected, with the user's entries); raises ApplyError."""
    names, parents, heads = skeleton_of(obj)
    try:
        return bonemap.resolve(obj.name, list(names), user_bone_map(obj), parents, heads)
    except bonemap.BoneMapError as e:
        raise ApplyError(str(e)) from None


def load_clip(path: str, source_fps: float = 0.0, target_fps: float = 20.0):
    """The canonical Motion of a file at `target_fps` (the scene's rate keeps fast motion crisp),
    or of one clip `<file>#<clip name>` of an FBX, glTF or .blend file; raises ApplyError with the
    reader's message."""
    from runtime.errors import MotionSearchError
    from runtime.io import split_clip_id
    from runtime.motion import load_motion

    from . import preferences

    if not path:
        raise ApplyError("No clip to apply: pick a search result first")
    try:  # the library bone map read the file for the index: read it the same way here
        overrides = preferences.library_rig_overrides(preferences.prefs())
    except bonemap.BoneMapError as e:
        raise ApplyError(str(e)) from None
    try:
        if split_clip_id(path):
            from . import scene_files

            return scene_files.load(path, source_fps, target_fps, rig_overrides=overrides)
        return load_motion(path, fps=source_fps or None, target_fps=target_fps, rig_overrides=overrides)
    except MotionSearchError as e:
        raise ApplyError(f"Cannot load the clip: {e}") from None


def replace_markers(scene, specs: list[tuple[str, int]], prefix: str = results.MARKER_PREFIX) -> int:
    """Remove this add-on's markers (named with `prefix`) and add `specs` [(name, frame)].

    Markers are looked up by name every time: a kept reference to a removed marker is not safe.
    """
    old = [m for m in scene.timeline_markers if m.name.startswith(prefix)]
    for m in old:
        scene.timeline_markers.remove(m)
    for name, frame in specs:
        m = scene.timeline_markers.new(name if name.startswith(prefix) else prefix + name, frame=int(frame))
        m.select = False
    return len(old)


def keyed_bones(rig, rigmap, driven) -> list[str]:
    """The bones Apply keys, in hierarchy order: the `driven` ones, the bones the bone map reads
    (`rigmap` built on `rig.names`) and their ancestors. Other bones are left without keys."""
    used = {rig.names[i] for i in rigmap.source_joints} | set(driven)
    index = {n: i for i, n in enumerate(rig.names)}
    keep = set()
    for bone in used:
        i = index[bone]
        while i >= 0 and rig.names[i] not in keep:
            keep.add(rig.names[i])
            i = int(rig.parents[i])
    return [n for n in rig.names if n in keep]


def _constrained(obj, bones) -> list[str]:
    return [b for b in bones if len(obj.pose.bones[b].constraints)]


def _active_constraints(obj, bones) -> list[str]:
    return [b for b in bones if any(c.enabled and c.influence > 0.0 and not c.mute
                                    for c in obj.pose.bones[b].constraints)]


def action_name(clip: str, source: str) -> str:
    """The applied action's name: the clip's name, or for a long one its distinctive end and a
    short hash of the whole (two long names never meet at Blender's 63-byte limit)."""
    import hashlib

    full = clip + ACTION_SUFFIX
    if len(full.encode("utf-8")) <= ACTION_NAME_BYTES:
        return full
    tag = " #" + hashlib.sha1(f"{clip}\0{source}".encode("utf-8")).hexdigest()[:6]
    room = ACTION_NAME_BYTES - len((tag + ACTION_SUFFIX).encode("utf-8")) - len("…".encode("utf-8"))
    tail = clip
    while len(tail.encode("utf-8")) > room:
        tail = tail[1:]
    return "…" + tail + tag + ACTION_SUFFIX


def apply_clip(
    obj,
    scene,
    path: str,
    *,
    start_frame: int = -1,
    end_frame: int = -1,
    source_fps: float = 0.0,
    label: str = "",
    markers: list[tuple[str, int]] | None = None,
    motion=None,
    as_strip: bool = False,
    blend_in: int = 0,
    blend_out: int = 0,
) -> Applied:
    """Retarget a file's frames [start_frame, end_frame] (source frames; -1 = file start/end)
    onto armature `obj` as a new action keyed from `scene.frame_start`.

    Sets the scene's end frame to the clip's last key and replaces the add-on's timeline markers
    with `markers` [(name, source frame)]. The previous action is kept; when it is the user's own
    (not one this add-on applied) it gets a fake user, so saving the file does not drop it.
    `as_strip`: key from the current frame and add the action as an NLA strip (see `nla`) with
    `blend_in`/`blend_out` frames; the active action stays, and the end frame only grows.
    Raises ApplyError before changing anything.
    """
    from runtime.motion import leg_length

    if obj is None or obj.type != 'ARMATURE':
        raise ApplyError("Select an armature (or a mesh it deforms) to apply the clip to")
    if obj.library is not None:
        raise ApplyError(f"'{obj.name}' is linked from {obj.library.filepath}: make a library override to animate it")
    if obj.mode == 'EDIT':
        raise ApplyError(f"Leave Edit Mode on '{obj.name}' to apply a clip")
    if obj.animation_data is not None and obj.animation_data.use_tweak_mode:
        raise ApplyError(f"'{obj.name}' is in NLA tweak mode: leave it (Tab in the NLA editor) to apply a clip")
    rigmap = resolve_map(obj)
    fps = retarget.scene_fps(scene.render.fps, scene.render.fps_base)
    motion = motion if motion is not None else load_clip(path, source_fps, fps)
    timing = retarget.Timing.of(motion)
    try:
        i0, i1 = retarget.clip_span(timing, start_frame, end_frame)
    except ValueError as e:
        raise ApplyError(str(e)) from None
    samples = retarget.scene_samples(i0, i1, timing.fps, fps)
    clip = retarget.interpolate(motion.positions.astype(np.float64), samples)

    rig = actions.rig_of(obj)
    generated = rigify.is_generated(obj)
    if generated:  # solved on the deform bones, keyed on the FK controls
        rig = rigify.deform_rig(obj, rig)
        try:
            rigmap = rigify.remap(rigmap, [b.name for b in obj.data.bones], rig, obj.name)
        except ValueError as e:
            raise ApplyError(str(e)) from None
    plan = retarget.plan(rig, rigmap)
    rest_joints = rig.to_world(plan.rest_joints())
    pose_joints = rig.to_world(rigmap.apply(actions.pose_heads(obj, rig.names)))
    where = retarget.placement([("rest", rest_joints), ("pose", pose_joints)], np.array(obj.matrix_world))
    basis, _ = retarget.retarget(plan, clip, where, leg_length(motion.positions))
    tracks = retarget.tracks(plan, basis)

    warnings = []
    if generated:
        warnings.append(f"'{obj.name}' is a Rigify rig: keyed its FK controls and torso, and its arms' and legs' "
                        "IK/FK switches to FK")
    elif rig.connected[plan.pelvis]:
        warnings.append(f"'{tracks.pelvis}' is connected to its parent, so the clip cannot move it around")
    bones = obj.data.bones
    loose = [] if generated else [b for b in tracks.bones if b != tracks.pelvis and (
        not bones[b].use_inherit_rotation or bones[b].inherit_scale != 'FULL')]
    if loose:
        warnings.append(f"bones that do not inherit their parent's rotation may not follow: {', '.join(loose[:6])}")
    driven_by_rig = [] if generated else _active_constraints(obj, tracks.bones)
    if len(driven_by_rig) > CONSTRAINED_MAX_SHARE * len(tracks.bones):
        is_rigify = "rig_id" in obj.data.keys() or any(b.name.startswith("ORG-") for b in obj.data.bones)
        raise ApplyError(
            f"'{obj.name}' " + ("is a generated Rigify rig: its deform bones" if is_rigify else "is a control rig: the bones")
            + f" the clip would drive ({', '.join(driven_by_rig[:4])}, ...) follow constraints, so keys on them "
            "would not move it. " + ("Apply the clip to the metarig, or to a plain armature without constraints "
                                     "(only a rig generated from Rigify's human metarig is keyed through its FK "
                                     "controls)." if is_rigify else
                                     "Apply it to the deform armature, or set the bone map to the control bones."))
    constrained = [] if generated else _constrained(obj, tracks.bones)
    if constrained:
        warnings.append(f"bones with constraints may not follow the clip: {', '.join(constrained[:6])}"
                        + (" ..." if len(constrained) > 6 else ""))

    # Keys go on the bones the clip is solved for: the driven bones their rotations (the pelvis
    # its path too); the other bones of the bone map, and every bone on the way from the root
    # to them, their rest pose (the solve takes them at rest, so a pose left over from another
    # action must not bend the chain). Bones outside the map (fingers, face, twist bones, props)
    # get no keys: the user's own animation on them stays.
    channels = []
    driven = {bone: k for k, bone in enumerate(tracks.bones)}
    for bone in [] if generated else keyed_bones(rig, rigmap, tracks.bones):
        mode = obj.pose.bones[bone].rotation_mode
        if bone in driven:
            channels.append((bone, *actions.rotation_values(tracks.quaternions[:, driven[bone]], mode)))
        else:
            rot = actions.rotation_channel(mode)
            channels.append((bone, rot, [actions.IDENTITY[rot]]))
        if bone == tracks.pelvis:
            channels.append((bone, "location", tracks.pelvis_location))
        else:
            channels.append((bone, "location", [actions.IDENTITY["location"]]))
        channels.append((bone, "scale", [actions.IDENTITY["scale"]]))

    start = int(scene.frame_current if as_strip else scene.frame_start)
    keys = start + np.arange(len(samples))
    if as_strip:
        try:
            nla.check(obj, start, int(keys[-1]) if len(keys) > 1 else start + 1, blend_in, blend_out)
        except nla.StripError as e:
            raise ApplyError(str(e)) from None
        active = obj.animation_data.action if obj.animation_data is not None else None
        if active is not None:
            warnings.append(f"'{active.name}' stays the active action and plays over the NLA strips: "
                            "unlink it to see them")

    if generated:  # Blender evaluates the controls' constraints; their poses are given back
        with actions.progress_bar() as progress:
            channels = rigify.channels(obj, rigify.control_bases(obj, rig, rig.forward(basis),
                                                                 rigify.targets(rigmap, rig), progress))

    # -- from here on the file changes
    ad = obj.animation_data
    previous = ad.action if ad is not None else None
    previous_slot = getattr(ad, "action_slot", None) if ad is not None else None
    if previous is not None and actions.SOURCE_KEY not in previous.keys() and not as_strip:
        previous.use_fake_user = True  # the user's own animation must not vanish on save (0 users)
    name = action_name(results.clip_name(label, path or motion.source), str(path or motion.source))
    action = actions.new_pose_action(obj, name, keys, channels)
    action[actions.SOURCE_KEY] = str(path or motion.source)
    action["motion_search_frames"] = [int(start_frame), int(end_frame)]
    end = int(keys[-1]) if len(keys) > 1 else start + 1
    placed_strip = None
    if as_strip:
        placed_strip = nla.add_strip(obj, action, start, blend_in, blend_out, previous, previous_slot)
    scene.frame_end = max(end, scene.frame_end) if as_strip else end
    scene.frame_set(start)

    placed = []
    for marker_name, source_frame in markers or []:
        f = retarget.source_to_scene(timing, source_frame, i0, start, fps)
        placed.append((marker_name, min(max(f, start), end)))
    replace_markers(scene, placed)
    return Applied(action.name, previous.name if previous else None, start, end,
                   len(rigify.CONTROLS) if generated else len(tracks.bones),
                   placed, warnings, where.source, placed_strip.strip if placed_strip else "",
                   placed_strip.track if placed_strip else "")
