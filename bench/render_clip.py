"""Render a motion file as a video of a simple human-shaped body, for measuring video -> motion.

    .venvs/bpy-4.5/bin/python bench/render_clip.py CLIP.bvh OUT [--views 0,45,90] [--seconds 4]
        [--start S] [--fps 20] [--size 640x480] [--truth OUT.npy]

writes OUT_0.mp4, OUT_45.mp4, ... (one video per view; the body is built once).

The body is built from the clip's canonical joints (runtime.motion: metres, Y up): a capsule per
bone (the feet too), a skin-coloured head with eyes, nose and mouth (so front and back differ),
a red-sleeved left side and a blue-sleeved right side (so left and right differ), on a grey
floor. The camera stands still, level with the hips and looking straight ahead, at `--view`
degrees around the body's frame-0 facing (0 = in front, 90 = the body's left side; `--views`),
far enough back that the whole clip stays in view, but no more than 6 m from the clip's middle
(farther, a 640x480 picture's person is too small for BlazePose's detector: a long run or walk
then leaves the picture for a while, as it would a tripod's). Workbench renders it (no GPU
needed here). `--truth` writes the canonical joints of the rendered frames (F, 22, 3), in the
clip's own frame, for the error figures.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bpy  # noqa: E402  (the bpy venvs only)
from mathutils import Matrix, Vector  # noqa: E402

from runtime.motion import BONES, JOINTS, J, load_motion  # noqa: E402

SKIN = (0.85, 0.65, 0.5, 1.0)
LEFT = (0.75, 0.12, 0.1, 1.0)
RIGHT = (0.1, 0.25, 0.75, 1.0)
TORSO = (0.55, 0.55, 0.5, 1.0)
LEGS = (0.2, 0.2, 0.25, 1.0)


def to_blender(p: np.ndarray) -> np.ndarray:
    """Canonical (Y up, facing +Z) -> Blender (Z up, facing -Y)."""
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def material(name: str, rgba) -> bpy.types.Material:
    m = bpy.data.materials.new(name)
    m.diffuse_color = rgba
    return m


def radius_of(child: str) -> float:
    if child.startswith("spine") or child in ("left_hip", "right_hip"):
        return 0.12
    if child in ("neck", "head"):
        return 0.05
    if "collar" in child:
        return 0.06
    if "knee" in child:
        return 0.075
    if "ankle" in child:
        return 0.055
    if "shoulder" in child or "elbow" in child:
        return 0.05
    return 0.04


def colour_of(child: str, parent: str):
    if child.startswith(("spine", "neck")) or "collar" in child or child in ("left_hip", "right_hip", "head"):
        return TORSO
    if any(k in child for k in ("knee", "ankle", "foot")):
        return LEGS if "foot" not in child else (0.1, 0.1, 0.1, 1.0)
    return LEFT if child.startswith("left_") else RIGHT


def add_capsule(name: str, radius: float, mat) -> bpy.types.Object:
    """A unit-length cylinder along +Z from its origin, with round ends (spheres at both ends are
    separate objects: simpler to key)."""
    bpy.ops.mesh.primitive_cylinder_add(vertices=16, radius=radius, depth=1.0, location=(0, 0, 0.5))
    ob = bpy.context.object
    ob.name = name
    bpy.ops.object.transform_apply(location=True)
    ob.data.materials.append(mat)
    return ob


def add_sphere(name: str, radius: float, mat, parent=None, location=(0, 0, 0)) -> bpy.types.Object:
    bpy.ops.mesh.primitive_uv_sphere_add(segments=16, ring_count=8, radius=radius, location=location)
    ob = bpy.context.object
    ob.name = name
    ob.data.materials.append(mat)
    if parent is not None:
        ob.parent = parent
    return ob


def key_segment(ob, a: Vector, b: Vector, frame: int) -> None:
    d = b - a
    length = max(d.length, 1e-4)
    ob.location = a
    ob.rotation_mode = 'QUATERNION'
    ob.rotation_quaternion = Vector((0, 0, 1)).rotation_difference(d.normalized())
    ob.scale = (1.0, 1.0, length)
    for path in ("location", "rotation_quaternion", "scale"):
        ob.keyframe_insert(path, frame=frame)


def head_frame(p: np.ndarray) -> Matrix:
    """Head orientation at one frame (Blender axes): up from neck to head, left from the collars."""
    up = Vector(p[J["head"]] - p[J["neck"]]).normalized()
    left = Vector(p[J["left_collar"]] - p[J["right_collar"]])
    left = (left - up * left.dot(up)).normalized()
    fwd = left.cross(up)  # body forward: left x up (as runtime.motion's canonical frame)
    return Matrix((left, -fwd, up)).transposed()  # local X = left, local -Y = forward, Z = up


def build_body(pos: np.ndarray, fps: float) -> None:
    scene = bpy.context.scene
    mats = {}

    def mat(rgba):
        if rgba not in mats:
            mats[rgba] = material(f"m{len(mats)}", rgba)
        return mats[rgba]

    segs, joints = [], []
    for c, p in BONES:
        if JOINTS[c] == "head":
            continue
        name = JOINTS[c]
        segs.append((c, p, add_capsule(f"bone_{name}", radius_of(name), mat(colour_of(name, JOINTS[p])))))
    for j, name in enumerate(JOINTS):
        if name in ("head", "pelvis") or name.startswith("spine"):
            continue
        joints.append((j, add_sphere(f"joint_{name}", radius_of(name) * 1.05,
                                     mat(colour_of(name, "")) if "collar" not in name else mat(TORSO))))
    hands = [(J[f"{s}_wrist"], J[f"{s}_elbow"],
              add_sphere(f"hand_{s}", 0.05, mat(SKIN))) for s in ("left", "right")]
    torso = add_sphere("pelvis_blob", 0.15, mat(LEGS))
    head = bpy.data.objects.new("head_pivot", None)
    scene.collection.objects.link(head)
    add_sphere("skull", 0.11, mat(SKIN), head, (0, 0, 0.1))
    dark = mat((0.02, 0.02, 0.02, 1.0))
    add_sphere("eye_l", 0.018, dark, head, (0.04, -0.095, 0.13))
    add_sphere("eye_r", 0.018, dark, head, (-0.04, -0.095, 0.13))
    add_sphere("nose", 0.022, mat((0.8, 0.45, 0.35, 1.0)), head, (0.0, -0.11, 0.09))
    add_sphere("mouth", 0.02, mat((0.5, 0.1, 0.1, 1.0)), head, (0.0, -0.1, 0.05)).scale = (1.6, 0.5, 0.5)
    hair = add_sphere("hair", 0.112, mat((0.15, 0.08, 0.03, 1.0)), head, (0, 0.035, 0.15))
    hair.scale = (1.0, 1.0, 0.9)
    for f in range(len(pos)):
        p = pos[f]
        frame = f + 1
        for c, par, ob in segs:
            key_segment(ob, Vector(p[par]), Vector(p[c]), frame)
        for j, ob in joints:
            ob.location = Vector(p[j])
            ob.keyframe_insert("location", frame=frame)
        for w, e, ob in hands:
            ob.location = Vector(p[w]) + 0.06 * (Vector(p[w]) - Vector(p[e])).normalized()
            ob.keyframe_insert("location", frame=frame)
        torso.location = Vector(p[J["pelvis"]])
        torso.keyframe_insert("location", frame=frame)
        head.location = Vector(p[J["head"]])
        head.keyframe_insert("location", frame=frame)
        head.rotation_mode = 'QUATERNION'
        head.rotation_quaternion = head_frame(p).to_quaternion()
        head.keyframe_insert("rotation_quaternion", frame=frame)
    scene.frame_start, scene.frame_end = 1, len(pos)
    scene.render.fps = int(round(fps))


def place_camera(pos: np.ndarray, view_deg: float, aspect: float, max_distance: float = 6.0) -> None:
    """A still camera at `view_deg` around the frame-0 facing, framing every joint of the clip, but
    no farther than `max_distance` from its middle (a long run then leaves the picture for a while)."""
    scene = bpy.context.scene
    p0 = pos[0]
    left = p0[J["left_hip"]] - p0[J["right_hip"]]
    left[2] = 0
    left /= np.linalg.norm(left)
    fwd = np.cross(left, [0, 0, 1.0])
    a = math.radians(view_deg)
    look_from = math.cos(a) * fwd + math.sin(a) * left  # unit direction from the body to the camera
    centre = (pos.reshape(-1, 3).min(0) + pos.reshape(-1, 3).max(0)) / 2
    centre[2] = 0.5 * (pos[..., 2].max() + max(pos[..., 2].min(), 0))
    lens, sensor = 35.0, 36.0
    half_w = math.atan(sensor / 2 / lens)
    half_h = math.atan(sensor / aspect / 2 / lens)
    # distance: every joint inside 85% of the frame
    right_dir = np.cross(look_from, [0, 0, 1.0])
    right_dir /= np.linalg.norm(right_dir)
    rel = pos.reshape(-1, 3) - centre
    x = np.abs(rel @ right_dir)
    z = np.abs(rel[:, 2])
    depth = rel @ look_from  # towards the camera
    dist = float(np.max(np.maximum(x / math.tan(half_w * 0.85), z / math.tan(half_h * 0.85)) + depth)) + 0.3
    dist = min(max(dist, 3.0), max_distance)  # farther, and BlazePose's detector no longer finds the person
    cam = scene.objects.get("cam")
    if cam is None:
        cam_data = bpy.data.cameras.new("cam")
        cam_data.lens, cam_data.sensor_width = lens, sensor
        cam = bpy.data.objects.new("cam", cam_data)
        scene.collection.objects.link(cam)
    cam.location = Vector(centre + look_from * dist)
    cam.rotation_mode = 'QUATERNION'
    cam.rotation_quaternion = Vector(-look_from).to_track_quat('-Z', 'Y')
    scene.camera = cam


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clip")
    ap.add_argument("out", help="where the videos go: OUT_<view>.mp4")
    ap.add_argument("--views", default="0", help="camera angles around the body, degrees (0 front, 90 left side)")
    ap.add_argument("--start", type=float, default=0.0, help="first second of the clip")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--fps", type=float, default=20.0)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--truth", default=None, help="write the rendered frames' canonical joints here (.npy)")
    args = ap.parse_args(argv)
    motion = load_motion(args.clip, target_fps=args.fps)
    a = int(round(args.start * args.fps))
    b = min(motion.num_frames, a + int(round(args.seconds * args.fps)))
    canon = motion.positions[a:b].astype(np.float64)
    if args.truth:
        np.save(args.truth, canon.astype(np.float32))
    pos = to_blender(canon)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    w, h = (int(v) for v in args.size.split("x"))
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = w, h, 100
    scene.render.engine = 'BLENDER_WORKBENCH'
    scene.display.shading.light = 'STUDIO'
    scene.display.shading.color_type = 'MATERIAL'
    scene.display.shading.show_shadows = True
    world = bpy.data.worlds.new("w")
    scene.world = world
    bpy.ops.mesh.primitive_plane_add(size=40.0, location=(0, 0, 0))
    bpy.context.object.data.materials.append(material("floor", (0.35, 0.4, 0.35, 1.0)))
    build_body(pos, args.fps)
    if hasattr(scene.render.image_settings, "media_type"):  # Blender 5.0: videos are a media type of their own
        scene.render.image_settings.media_type = 'VIDEO'
    scene.render.image_settings.file_format = 'FFMPEG'
    scene.render.ffmpeg.format = 'MPEG4'
    scene.render.ffmpeg.codec = 'H264'
    scene.render.ffmpeg.constant_rate_factor = 'HIGH'
    scene.render.use_file_extension = False
    for view in (float(v) for v in args.views.split(",")):
        place_camera(pos, view, w / h)
        out = Path(f"{args.out}_{view:g}.mp4").resolve()
        scene.render.filepath = str(out)
        bpy.ops.render.render(animation=True)
        print(f"wrote {out}: {len(pos)} frames at {args.fps:g} fps, view {view:g} deg")


if __name__ == "__main__":
    main()
