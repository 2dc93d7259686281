"""Test rigs and pose read-out: what Blender actually evaluates, in canonical coordinates."""

from __future__ import annotations

import math

import bpy
import numpy as np

from runtime.motion import J

# A standing T-pose in Blender axes (metres, Z up, facing -Y; +X is the character's left).
_TPOSE = {
    "pelvis": (0.0, 0.0, 0.95), "spine1": (0.0, 0.01, 1.06), "spine2": (0.0, 0.01, 1.18), "spine3": (0.0, 0.0, 1.31),
    "neck": (0.0, 0.0, 1.50), "head": (0.0, -0.01, 1.62),
    "left_hip": (0.09, 0.0, 0.91), "left_knee": (0.10, -0.01, 0.50), "left_ankle": (0.10, 0.03, 0.08),
    "left_foot": (0.11, -0.11, 0.02),
    "left_collar": (0.03, 0.0, 1.44), "left_shoulder": (0.17, 0.01, 1.45), "left_elbow": (0.45, 0.02, 1.45),
    "left_wrist": (0.70, 0.0, 1.45),
}
_TPOSE |= {k.replace("left_", "right_"): (-x, y, z) for k, (x, y, z) in _TPOSE.items() if k.startswith("left_")}

# Rigify deform bones: (name, head joint, tail joint or offset, parent)
_RIGIFY = [
    ("DEF-spine", "pelvis", "spine1", None),
    ("DEF-spine.001", "spine1", "spine2", "DEF-spine"),
    ("DEF-spine.002", "spine2", "spine3", "DEF-spine.001"),
    ("DEF-spine.003", "spine3", "neck", "DEF-spine.002"),
    ("DEF-spine.004", "neck", (0.0, 0.0, 0.06), "DEF-spine.003"),
    ("DEF-spine.005", (0.0, 0.0, 1.56), "head", "DEF-spine.004"),  # upper neck: not a canonical joint
    ("DEF-spine.006", "head", (0.0, 0.0, 0.20), "DEF-spine.005"),
]
for _s, _S in (("left", "L"), ("right", "R")):
    _RIGIFY += [
        (f"DEF-pelvis.{_S}", "pelvis", f"{_s}_hip", "DEF-spine"),  # not a canonical joint
        (f"DEF-thigh.{_S}", f"{_s}_hip", f"{_s}_knee", f"DEF-pelvis.{_S}"),
        (f"DEF-shin.{_S}", f"{_s}_knee", f"{_s}_ankle", f"DEF-thigh.{_S}"),
        (f"DEF-foot.{_S}", f"{_s}_ankle", f"{_s}_foot", f"DEF-shin.{_S}"),
        (f"DEF-toe.{_S}", f"{_s}_foot", (0.0, -0.06, 0.0), f"DEF-foot.{_S}"),
        (f"DEF-shoulder.{_S}", f"{_s}_collar", f"{_s}_shoulder", "DEF-spine.003"),
        (f"DEF-upper_arm.{_S}", f"{_s}_shoulder", f"{_s}_elbow", f"DEF-shoulder.{_S}"),
        (f"DEF-forearm.{_S}", f"{_s}_elbow", f"{_s}_wrist", f"DEF-upper_arm.{_S}"),
        (f"DEF-hand.{_S}", f"{_s}_wrist", (0.08 if _s == "left" else -0.08, 0.0, 0.0), f"DEF-forearm.{_S}"),
    ]


def make_rigify_armature(name: str = "rigify_rig", *, yaw_deg: float = 90.0, scale: float = 1.5,
                         location=(2.0, 1.0, 0.0)):
    """A Rigify-named deform armature built in edit mode (quaternion bones, rolls by Blender), with
    the object turned, scaled and moved so that armature space is not world space."""
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    from .conftest import make_active

    make_active(obj)
    bpy.ops.object.mode_set(mode='EDIT')
    for bone, head, tail, parent in _RIGIFY:
        h = np.array(_TPOSE[head] if isinstance(head, str) else head)
        t = np.array(_TPOSE[tail]) if isinstance(tail, str) else h + np.array(tail)
        eb = arm.edit_bones.new(bone)
        eb.head, eb.tail = h, t
        if parent:
            eb.parent = arm.edit_bones[parent]
            eb.use_connect = bool(np.allclose(arm.edit_bones[parent].tail, eb.head))
    bpy.ops.object.mode_set(mode='OBJECT')
    obj.rotation_euler = (0.0, 0.0, math.radians(yaw_deg))
    obj.scale = (scale, scale, scale)
    obj.location = location
    bpy.context.view_layer.update()
    return obj


def rename_bones(obj, names: dict[str, str]) -> None:
    for old, new in names.items():
        obj.data.bones[old].name = new


def world_heads(obj) -> dict[str, np.ndarray]:
    """Evaluated head of every pose bone, world space (after the last frame_set)."""
    mw = np.array(obj.matrix_world)
    return {pb.name: mw[:3, :3] @ np.array(pb.head) + mw[:3, 3] for pb in obj.pose.bones}


def canonical_joints(obj, rigmap, frames) -> np.ndarray:
    """(len(frames), 22, 3) canonical joints (Y up: Blender (x, y, z) -> (x, z, -y)) that Blender
    evaluates for the armature at scene `frames`, through the bone map `rigmap`."""
    scene = bpy.context.scene
    names = [b.name for b in obj.data.bones]
    out = []
    for f in frames:
        scene.frame_set(int(f))
        heads = world_heads(obj)
        out.append(rigmap.apply(np.array([heads[n] for n in names])))
    world = np.array(out)
    return np.stack([world[..., 0], world[..., 2], -world[..., 1]], axis=-1)


# Segments whose direction the retarget reproduces: each runs along one swung bone's chain.
SEGMENTS = [(a, b) for s in ("left", "right") for a, b in (
    (f"{s}_hip", f"{s}_knee"), (f"{s}_knee", f"{s}_ankle"), (f"{s}_ankle", f"{s}_foot"),
    (f"{s}_collar", f"{s}_shoulder"), (f"{s}_shoulder", f"{s}_elbow"), (f"{s}_elbow", f"{s}_wrist"))] + [
    ("spine1", "spine3"), ("spine3", "neck"), ("neck", "head")]


def segment_dirs(pos: np.ndarray, segments=SEGMENTS) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (T, S, 3) of the segments and their lengths (T, S)."""
    a = pos[:, [J[s] for s, _ in segments]]
    b = pos[:, [J[e] for _, e in segments]]
    v = b - a
    n = np.linalg.norm(v, axis=-1)
    return v / np.maximum(n, 1e-12)[..., None], n


def body_frames(pos: np.ndarray) -> np.ndarray:
    """(T, 3, 3) pelvis frames (columns left, up, forward) from hips and the pelvis-to-spine1 line."""
    up = pos[:, J["spine1"]] - pos[:, J["pelvis"]]
    up /= np.linalg.norm(up, axis=-1, keepdims=True)
    left = pos[:, J["left_hip"]] - pos[:, J["right_hip"]]
    left -= up * np.sum(left * up, axis=-1, keepdims=True)
    left /= np.linalg.norm(left, axis=-1, keepdims=True)
    return np.stack([left, up, np.cross(left, up)], axis=-1)


def yaw_matrix(theta: float) -> np.ndarray:
    """Rotation about canonical Y (up)."""
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def fit_yaw(src: np.ndarray, dst: np.ndarray) -> float:
    """The rotation about Y that best turns vectors src (..., 3) onto dst (least squares, closed form)."""
    s, d = src.reshape(-1, 3), dst.reshape(-1, 3)
    # R(theta) (x, z) = (c x + s z, -s x + c z); maximise sum d . R s
    cos_term = np.sum(d[:, 0] * s[:, 0] + d[:, 2] * s[:, 2])
    sin_term = np.sum(d[:, 0] * s[:, 2] - d[:, 2] * s[:, 0])
    return math.atan2(sin_term, cos_term)


def angles_deg(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip(np.sum(u * v, axis=-1), -1.0, 1.0)))


# Canonical chain of a plain humanoid armature: (joint the bone starts at, joint or offset it
# points to, parent joint). Names come from a convention's {joint: bone name}.
_PLAIN = [("pelvis", "spine1", None), ("spine1", "spine2", "pelvis"), ("spine2", "spine3", "spine1"),
          ("spine3", "neck", "spine2"), ("neck", "head", "spine3"), ("head", (0.0, 0.0, 0.20), "neck")]
for _s in ("left", "right"):
    _PLAIN += [(f"{_s}_hip", f"{_s}_knee", "pelvis"), (f"{_s}_knee", f"{_s}_ankle", f"{_s}_hip"),
               (f"{_s}_ankle", f"{_s}_foot", f"{_s}_knee"), (f"{_s}_foot", (0.0, -0.06, 0.0), f"{_s}_ankle"),
               (f"{_s}_collar", f"{_s}_shoulder", "spine3"), (f"{_s}_shoulder", f"{_s}_elbow", f"{_s}_collar"),
               (f"{_s}_elbow", f"{_s}_wrist", f"{_s}_shoulder"),
               (f"{_s}_wrist", (0.08 if _s == "left" else -0.08, 0.0, 0.0), f"{_s}_elbow")]


def make_plain_armature(name: str, bones: dict[str, str], *, root: str | None = None, unit: float = 1.0,
                        y_up: bool = False, extra: dict[str, tuple[str, str]] | None = None):
    """A humanoid armature standing on the floor (z = 0), facing -Y, its bones named by `bones`
    (canonical joint -> bone name), optionally under a `root` bone at the origin.

    `unit` and `y_up` build it as an FBX import does: bone positions in centimetres (unit 0.01)
    and Y up in armature space, the object rotated 90 degrees about X and scaled by `unit`.
    `extra` adds leaf bones {name: (joint at its head, parent joint)} (twist bones, a heel).
    """
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    from .conftest import make_active

    make_active(obj)

    def local(p):
        p = np.asarray(p, np.float64) / unit
        return np.array([p[0], p[2], -p[1]]) if y_up else p  # world (x, y, z) -> armature Y up

    bpy.ops.object.mode_set(mode='EDIT')
    if root:
        eb = arm.edit_bones.new(root)
        eb.head, eb.tail = local((0, 0, 0)), local((0, 0.2, 0))
    for head, tail, parent in _PLAIN:
        h = np.array(_TPOSE[head])
        t = np.array(_TPOSE[tail]) if isinstance(tail, str) else h + np.array(tail)
        eb = arm.edit_bones.new(bones[head])
        eb.head, eb.tail = local(h), local(t)
        if parent or root:
            eb.parent = arm.edit_bones[bones[parent] if parent else root]
    for bone, (at, parent) in (extra or {}).items():
        eb = arm.edit_bones.new(bone)
        eb.head, eb.tail = local(_TPOSE[at]), local(np.array(_TPOSE[at]) + (0.0, 0.0, -0.05))
        eb.parent = arm.edit_bones[bones[parent]]
    bpy.ops.object.mode_set(mode='OBJECT')
    if y_up:
        obj.rotation_euler = (math.radians(90.0), 0.0, 0.0)
    obj.scale = (unit, unit, unit)
    bpy.context.view_layer.update()
    return obj


def make_armature_from_skeleton(name: str, names, parents, heads):
    """An armature whose bones have these names, parents and heads (world = armature space, as a
    Blender armature built in place): each bone points at its child that leads furthest (the next
    bone of its chain), a leaf along its parent's direction, as modelling tools build them."""
    heads = np.asarray(heads, np.float64)
    kids: dict[int, list[int]] = {}
    for j, p in enumerate(parents):
        kids.setdefault(p, []).append(j)
    size = [1] * len(names)
    for j in sorted(range(len(names)), key=lambda j: -_depth(parents, j)):  # children before parents
        if parents[j] >= 0:
            size[parents[j]] += size[j]
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    from .conftest import make_active

    make_active(obj)
    bpy.ops.object.mode_set(mode='EDIT')
    for j, bone in enumerate(names):
        eb = arm.edit_bones.new(bone)
        eb.head = heads[j]
        ahead = [c for c in kids.get(j, []) if np.linalg.norm(heads[c] - heads[j]) > 1e-4]
        if ahead:
            eb.tail = heads[max(ahead, key=lambda c: size[c])]
        else:
            p = parents[j]
            way = heads[j] - heads[p] if p >= 0 else np.zeros(3)
            way = way if np.linalg.norm(way) > 1e-4 else np.array((0, 0, 1.0))
            eb.tail = heads[j] + way / np.linalg.norm(way) * 0.05
    for j, p in enumerate(parents):
        if p >= 0:
            arm.edit_bones[names[j]].parent = arm.edit_bones[names[p]]
    bpy.ops.object.mode_set(mode='OBJECT')
    bpy.context.view_layer.update()
    return obj


def _depth(parents, j: int) -> int:
    d = 0
    while parents[j] >= 0:
        j, d = parents[j], d + 1
    return d


def make_generated_rigify():
    """A rig generated headless from Rigify's human metarig, as a user makes one (Add > Armature >
    Human (Meta-Rig), then Generate Rig); Rigify is enabled for the generation and left as it was.
    Returns the generated rig (named "rig", active), the metarig stays in the scene."""
    import addon_utils

    loaded = addon_utils.check("rigify")[1]
    if not loaded:
        addon_utils.enable("rigify", default_set=True, persistent=True)
    try:
        bpy.ops.object.armature_human_metarig_add()
        bpy.ops.pose.rigify_generate()
    finally:
        if not loaded:
            addon_utils.disable("rigify", default_set=True)
    rig = bpy.context.active_object
    assert "DEF-spine" in rig.data.bones and "torso" in rig.pose.bones
    return rig
