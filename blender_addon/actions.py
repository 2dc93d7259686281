"""Actions on armatures for Blender 4.2 to 5.0: reading rest poses, writing keys, reading keys back.

4.4 brought layered actions (slots, layers, strips, channelbags) and 5.0 removed the legacy
`Action.fcurves`; `new_pose_action` and `action_fcurves` take the right path for the running
version. Keys go in with `foreach_set`, a few milliseconds for a hundred channels.
"""

from __future__ import annotations

import contextlib
import hashlib
import re

import bpy
import numpy as np
from mathutils import Quaternion

from runtime.io import euler_matrix
from runtime.retarget import Rig

LAYERED = bpy.app.version >= (4, 4, 0)
SOURCE_KEY = "motion_search_source"  # ID property on actions this add-on made: the clip's file
_PATH = re.compile(r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]\.(\w+)$')
_BONE = re.compile(r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]')


# ---------------------------------------------------------------------------------------------
# the armature

def armature_of(obj):
    """The armature object for the active object: itself, or the armature deforming a mesh."""
    if obj is None:
        return None
    if obj.type == 'ARMATURE':
        return obj
    for mod in getattr(obj, "modifiers", ()):
        if mod.type == 'ARMATURE' and mod.object is not None and mod.object.type == 'ARMATURE':
            return mod.object
    if obj.parent is not None and obj.parent.type == 'ARMATURE':
        return obj.parent
    return None


def _matrices(collection, attr: str, n: int) -> np.ndarray:
    buf = np.empty(n * 16, np.float32)
    collection.foreach_get(attr, buf)
    return buf.reshape(n, 4, 4).transpose(0, 2, 1).astype(np.float64)  # stored column by column


def rig_of(obj) -> Rig:
    """The armature's bones at rest, with the object's world matrix."""
    bones = obj.data.bones
    names = [b.name for b in bones]
    parents = [b.parent.name if b.parent else None for b in bones]
    rest = _matrices(bones, "matrix_local", len(names))
    connected = [b.use_connect for b in bones]
    return Rig.from_bones(names, parents, rest, np.array(obj.matrix_world, np.float64), connected)


@contextlib.contextmanager
def progress_bar(wm=None):
    """A `progress(done, total)` callable showing Blender's progress indicator (the cursor turns
    into a counter) while the block runs; it begins on the first call, so work that never reports
    shows nothing, and it always ends. `wm`: the window manager (the context's by default)."""
    wm = wm if wm is not None else getattr(bpy.context, "window_manager", None)
    begun = False

    def progress(done: int, total: int) -> None:
        nonlocal begun
        if wm is None:
            return
        if not begun:
            wm.progress_begin(0, max(int(total), 1))
            begun = True
        wm.progress_update(int(done))

    try:
        yield progress
    finally:
        if begun:
            wm.progress_end()


def pose_heads(obj, names) -> np.ndarray:
    """Current (evaluated) head positions of the named pose bones, armature space (len(names), 3)."""
    pbs = obj.pose.bones
    return np.array([pbs[n].head for n in names], np.float64)


# ---------------------------------------------------------------------------------------------
# writing keys

def _new_fcurve_fn(obj, action):
    ad = obj.animation_data or obj.animation_data_create()
    if LAYERED:
        slot = action.slots.new(id_type='OBJECT', name=obj.name)
        strip = action.layers.new("Layer").strips.new(type='KEYFRAME')
        bag = strip.channelbag(slot, ensure=True)
        ad.action = action
        ad.action_slot = slot

        def new_fcurve(path, index, group):
            fc = bag.fcurves.new(path, index=index)
            fc.group = bag.groups.get(group) or bag.groups.new(group)
            return fc
    else:  # 4.2, 4.3: assign first, then legacy F-curves
        ad.action = action

        def new_fcurve(path, index, group):
            return action.fcurves.new(path, index=index, action_group=group)
    return new_fcurve


def rotation_values(quaternions: np.ndarray, mode: str) -> tuple[str, np.ndarray]:
    """Channel name and values (T, k) for a bone in `mode` from continuous quaternions (T, 4) w,x,y,z."""
    if mode == 'QUATERNION':
        return "rotation_quaternion", np.asarray(quaternions, np.float64)
    if mode == 'AXIS_ANGLE':
        out = []
        for q in quaternions:
            axis, angle = Quaternion(q).to_axis_angle()
            out.append((angle, axis[0], axis[1], axis[2]))
        return "rotation_axis_angle", np.array(out)
    out, prev = [], None
    for q in quaternions:  # each Euler close to the previous one: no 360 degree flips between keys
        e = Quaternion(q).to_euler(mode) if prev is None else Quaternion(q).to_euler(mode, prev)
        out.append(tuple(e))
        prev = e
    return "rotation_euler", np.array(out)


IDENTITY = {"location": (0.0, 0.0, 0.0), "scale": (1.0, 1.0, 1.0), "rotation_quaternion": (1.0, 0.0, 0.0, 0.0),
            "rotation_euler": (0.0, 0.0, 0.0), "rotation_axis_angle": (0.0, 0.0, 1.0, 0.0)}


def rotation_channel(mode: str) -> str:
    return {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(mode, "rotation_euler")


def new_pose_action(obj, name: str, frames, tracks, interpolation: str = 'LINEAR'):
    """A new action on `obj` with keys; the previous action stays in the file, untouched.

    Args:
        frames: (F,) scene frames.
        tracks: (bone name, channel, values (F, k) or (1, k)) per animated channel, e.g. ("Hips",
            "location", (F, 3)), ("Spine", "rotation_euler", (F, 3)), ("Arm", '["IK_FK"]', (1, 1)) for a
            custom property. A single row is one key at
            frames[0]: a constant channel.
    """
    frames = np.asarray(frames, np.float32)
    action = bpy.data.actions.new(name)
    new_fcurve = _new_fcurve_fn(obj, action)
    interp = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items[interpolation].value
    for bone, channel, values in tracks:
        values = np.asarray(values, np.float32)
        values = values.reshape(len(values) if len(values) in (1, len(frames)) else len(frames), -1)
        n = len(values)
        co = np.empty((n, 2), np.float32)
        co[:, 0] = frames[:n]
        modes = np.full(n, interp, np.int32)
        path = 'pose.bones["%s"]%s%s' % (bpy.utils.escape_identifier(bone), "" if channel.startswith("[") else ".",
                                          channel)  # '["prop"]': a custom property
        for i in range(values.shape[1]):
            fc = new_fcurve(path, i, bone)
            kps = fc.keyframe_points
            kps.add(n)
            co[:, 1] = values[:, i]
            kps.foreach_set("co", co.ravel())
            kps.foreach_set("interpolation", modes)
            fc.update()
    return action


# ---------------------------------------------------------------------------------------------
# reading keys

def action_fcurves(action, obj=None) -> list:
    """The F-curves of an action (for a layered action: the slot `obj` uses, else its first object slot)."""
    if action is None:
        return []
    if not LAYERED:
        return list(action.fcurves)
    from bpy_extras import anim_utils

    slot = None
    ad = obj.animation_data if obj is not None else None
    if ad is not None and ad.action == action and ad.action_slot is not None:
        slot = ad.action_slot
    if slot is None:
        slot = next((s for s in action.slots if s.target_id_type == 'OBJECT'), None)
    if slot is None:
        return list(getattr(action, "fcurves", ()) or ())
    bag = anim_utils.action_get_channelbag_for_slot(action, slot)
    return list(bag.fcurves) if bag else []


def _unescape(name: str) -> str:
    return name.replace('\\"', '"').replace("\\\\", "\\")


def path_bone(data_path: str) -> str | None:
    """The pose bone an animation path (an F-curve's or a driver's) starts at, or None."""
    m = _BONE.match(data_path)
    return _unescape(m.group(1)) if m else None


def pose_channels(fcurves) -> dict[str, dict[str, dict[int, object]]]:
    """{bone: {channel: {index: fcurve}}} for the pose-bone F-curves among `fcurves`."""
    out: dict[str, dict[str, dict[int, object]]] = {}
    for fc in fcurves:
        m = _PATH.match(fc.data_path)
        if m:
            bone = _unescape(m.group(1))
            out.setdefault(bone, {}).setdefault(m.group(2), {})[fc.array_index] = fc
    return out


def content_hash(fcurves, extra: str = "") -> str:
    """A hash of an action's keys (paths, indices, key coordinates), for telling edited actions apart."""
    h = hashlib.sha1(extra.encode("utf-8"))
    for fc in sorted(fcurves, key=lambda f: (f.data_path, f.array_index)):
        kps = fc.keyframe_points
        co = np.empty(len(kps) * 2, np.float32)
        kps.foreach_get("co", co)
        h.update(f"{fc.data_path}[{fc.array_index}]{len(kps)}".encode("utf-8"))
        h.update(co.tobytes())
    return h.hexdigest()


def _evaluate(channel: dict[int, object] | None, size: int, frames: np.ndarray, default) -> np.ndarray:
    out = np.empty((len(frames), size))
    for i in range(size):
        fc = (channel or {}).get(i)
        out[:, i] = [fc.evaluate(f) for f in frames] if fc is not None else default[i]
    return out


def _quaternion_matrices(q: np.ndarray) -> np.ndarray:
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def _axis_angle_matrices(v: np.ndarray) -> np.ndarray:
    angle, axis = v[:, 0], v[:, 1:]
    axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-12)
    half = angle / 2
    return _quaternion_matrices(np.concatenate([np.cos(half)[:, None], axis * np.sin(half)[:, None]], -1))


def euler_matrices(angles: np.ndarray, mode: str) -> np.ndarray:
    """Blender Euler (radians, (F, 3) as x, y, z) in rotation mode `mode` ('XYZ' = X first) -> (F, 3, 3)."""
    order = mode[::-1]  # 'XYZ' applies X, then Y, then Z: R = Rz @ Ry @ Rx
    cols = ["XYZ".index(a) for a in order]
    return euler_matrix(order, np.degrees(angles[:, cols]))


def sample_basis(obj, rig: Rig, fcurves, frames: np.ndarray) -> np.ndarray:
    """Each bone's `matrix_basis` (F, n, 4, 4) at `frames` from `fcurves` (un-keyed channels keep
    the pose bone's current values); constraints and drivers are not evaluated."""
    channels = pose_channels(fcurves)
    frames = np.asarray(frames, np.float64)
    basis = np.broadcast_to(np.eye(4), (len(frames), len(rig.names), 4, 4)).copy()
    for b, name in enumerate(rig.names):
        ch = channels.get(name)
        if not ch:
            continue
        pb = obj.pose.bones[name]
        loc = _evaluate(ch.get("location"), 3, frames, tuple(pb.location))
        scale = _evaluate(ch.get("scale"), 3, frames, tuple(pb.scale))
        mode = pb.rotation_mode
        if mode == 'QUATERNION':
            rot = _quaternion_matrices(_evaluate(ch.get("rotation_quaternion"), 4, frames, tuple(pb.rotation_quaternion)))
        elif mode == 'AXIS_ANGLE':
            rot = _axis_angle_matrices(_evaluate(ch.get("rotation_axis_angle"), 4, frames, tuple(pb.rotation_axis_angle)))
        else:
            rot = euler_matrices(_evaluate(ch.get("rotation_euler"), 3, frames, tuple(pb.rotation_euler)), mode)
        basis[:, b, :3, :3] = rot * scale[:, None, :]
        basis[:, b, :3, 3] = loc
    return basis


def keyed_frame_range(fcurves) -> tuple[float, float] | None:
    """First and last key over the pose-bone F-curves, or None without keys."""
    lo, hi = None, None
    for fcs in pose_channels(fcurves).values():
        for fcd in fcs.values():
            for fc in fcd.values():
                if len(fc.keyframe_points):
                    a, b = fc.range()
                    lo = a if lo is None else min(lo, a)
                    hi = b if hi is None else max(hi, b)
    return None if lo is None else (float(lo), float(hi))
