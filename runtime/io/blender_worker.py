"""Runs INSIDE Blender: reads FBX, glTF/GLB and .blend files and writes every armature animation
in them as bone positions. Never imported by the runtime (it imports bpy); started by
runtime.io.blender_files as

    blender -b --factory-startup --python blender_worker.py -- --jobs JOBS.json
    python-with-bpy blender_worker.py --jobs JOBS.json

JOBS.json is a list of {"path": file to read, "out": .npz to write}. One process reads many files;
each file goes into a fresh empty scene. Per file the worker prints, on stdout, a line starting with
MARKER and a JSON object: {"event": "start", "path"} before reading it, then {"event": "done",
"path", "ok", "clips" | "error"}; the parent reads only these lines (importers print a lot), and a
"start" without its "done" means Blender died on that file.

Each clip is one action on one armature, evaluated frame by frame by Blender itself
(scene.frame_set: constraints, drivers and object motion included) over the action's frame range
at the scene's frame rate (FBX: the file's; .blend: the file's scene). An action keyed evenly off
whole frames (a glTF animation: Blender's importer puts its 30 or 120 fps keys on its own 24 fps
timeline) is evaluated at its keys instead (sub-frames), so the motion is not interpolated on the
way, and its rate is the keys' own (scene rate / key spacing), its frames counted in that rate.
The .npz holds `meta` (JSON: per clip its name, armature, fps, first frame) and, per
clip k, `names_k` (bone names; a leaf bone's tail is added as `<bone>_end`), `parents_k` (each
one's parent index, -1 for a root; a tail's is its bone, so the runtime can map a rig by its shape)
and `positions_k` (frames, bones, 3) float32 world positions in Blender units, Z up. Bone mapping,
units and axes are the runtime's job, so a user's bone map never needs Blender again.

.blend files are opened (wm.open_mainfile, scripts not trusted) rather than appended from with
bpy.data.libraries.load: opening gives the scene's frame rate and the armatures as placed
(transforms, parents, constraints), which appending actions and armatures alone would lose.
"""

import json
import os
import sys
import traceback

import bpy  # noqa: F401  (this file runs only inside Blender)
import numpy as np

MARKER = "@@motion_search "
FORMAT = 3  # of the .npz; runtime.io.blender_files.CACHE_FORMAT must match
IMPORTERS = {".fbx": "io_scene_fbx", ".glb": "io_scene_gltf2", ".gltf": "io_scene_gltf2"}


def emit(**event) -> None:
    sys.stdout.write(MARKER + json.dumps(event) + "\n")
    sys.stdout.flush()


def _enable(module: str) -> None:
    import addon_utils

    if not addon_utils.check(module)[1]:
        addon_utils.enable(module, default_set=False)


def read_file(path: str) -> None:
    """Load `path` into a fresh file (raises RuntimeError with the importer's message)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".blend":
        try:
            bpy.ops.wm.open_mainfile(filepath=path, load_ui=False, use_scripts=False)
        except TypeError:  # a version without use_scripts: scripts stay untrusted by default
            bpy.ops.wm.open_mainfile(filepath=path, load_ui=False)
        return
    bpy.ops.wm.read_factory_settings(use_empty=True)
    _enable(IMPORTERS[suffix])
    if suffix == ".fbx":
        bpy.ops.import_scene.fbx(filepath=path)
    else:
        bpy.ops.import_scene.gltf(filepath=path)


def _channelbags(action):
    """(slot or None, fcurves) of an action: layered (4.4+) or legacy."""
    layers = getattr(action, "layers", None)
    if layers:
        for layer in layers:
            for strip in layer.strips:
                for bag in getattr(strip, "channelbags", ()):
                    yield bag.slot, list(bag.fcurves)
        return
    fcurves = getattr(action, "fcurves", None)
    if fcurves is not None:
        yield None, list(fcurves)


def _bones_keyed(fcurves) -> set:
    out = set()
    for fc in fcurves:
        p = fc.data_path
        if p.startswith('pose.bones["'):
            out.add(p[len('pose.bones["'):].split('"]', 1)[0].replace('\\"', '"'))
    return out


def _users(action) -> set:
    """Names of objects that play `action` (active or in an NLA strip)."""
    out = set()
    for obj in bpy.data.objects:
        ad = obj.animation_data
        if ad is None:
            continue
        if ad.action == action or any(s.action == action for t in ad.nla_tracks for s in t.strips):
            out.add(obj.name)
    return out


def clip_plan():
    """[(clip name, armature object, action, slot or None)] for every action keying pose bones."""
    armatures = [o for o in bpy.data.objects if o.type == 'ARMATURE']
    plan = []
    for action in bpy.data.actions:
        best = None
        users = _users(action)
        for slot, fcurves in _channelbags(action):
            keyed = _bones_keyed(fcurves)
            if not keyed:
                continue
            for obj in armatures:
                covered = len(keyed & set(obj.data.bones.keys()))
                if covered * 2 < len(keyed):
                    continue
                score = (obj.name in users, covered)
                if best is None or score > best[0]:
                    best = (score, obj, slot)
        if best is None:
            continue
        _, obj, slot = best
        name = action.name
        while name.startswith(obj.name + "|") and len(name) > len(obj.name) + 1:
            name = name[len(obj.name) + 1:]  # FBX takes: "<object>|<take>" (Blender's own: "<object>|<action>")
        plan.append((name, obj, action, slot))
    names = [p[0] for p in plan]
    return [(n if names.count(n) == 1 else f"{n} ({o.name})", o, a, s) for n, o, a, s in plan]


def key_step(action, slot) -> tuple[float, float]:
    """(scene frames between samples of `action`, a key's frame): 1, or the spacing of its keys
    when they lie evenly on a grid off whole frames (baked at another rate: a glTF animation at
    30 fps on Blender's 24 fps timeline has keys every 0.8 frames) and fill most of it (not a few
    hand-set keys)."""
    times = set()
    for bag_slot, fcurves in _channelbags(action):
        if slot is not None and bag_slot is not None and bag_slot != slot:
            continue
        for fc in fcurves:
            if fc.data_path.startswith("pose.bones["):
                times.update(round(float(kp.co[0]), 4) for kp in fc.keyframe_points)
    t = np.array(sorted(times))
    if len(t) < 3:
        return 1.0, 0.0
    gaps = np.diff(t)
    if gaps.min() < 1e-3:
        return 1.0, 0.0
    steps = gaps / gaps.min()
    if np.abs(steps - np.round(steps)).max() > 0.02:  # keys off any one grid
        return 1.0, 0.0
    intervals = int(np.round(steps).sum())  # grid steps, each gap counted (long clips: no drift)
    step = float((t[-1] - t[0]) / intervals)
    if abs(step - round(step)) < 1e-3 or len(t) < 0.5 * (intervals + 1):
        return 1.0, 0.0  # keys on whole frames (FBX, most .blend actions), or sparse keys
    return step, float(t[0])


def sample(obj, action, slot, scene):
    """(bone names, parent indices, (F, B, 3) world positions, fps, first frame) of `action` played
    on `obj`, every `key_step` frames (fps and first frame in that step's units); leaf bones' tails
    come after the bones."""
    ad = obj.animation_data or obj.animation_data_create()
    for other in bpy.data.objects:  # only this action moves anything
        if other.animation_data is not None:
            other.animation_data.use_nla = False
    ad.action = action
    if slot is not None and hasattr(ad, "action_slot"):
        ad.action_slot = slot
    start, end = (float(x) for x in action.frame_range)
    step, key = key_step(action, slot)
    if step != 1.0:  # on the keys' grid: the frame range can be a hair off it (0.200008 for 0.2)
        start, end = (key + round((x - key) / step) * step for x in (start, end))
    count = int(np.floor((end - start) / step + 1e-3)) + 1  # an FBX take's end comes back as 186.9998
    bones = obj.pose.bones
    n = len(bones)
    leaves = [i for i, b in enumerate(bones) if not b.children]
    names = [b.name for b in bones] + [bones[i].name + "_end" for i in leaves]
    index = {b.name: i for i, b in enumerate(bones)}
    parents = [index[b.parent.name] if b.parent else -1 for b in bones] + leaves
    heads, tails = np.empty(n * 3, np.float32), np.empty(n * 3, np.float32)
    out = np.empty((count, len(names), 3), np.float32)
    for k in range(count):
        f = start + k * step
        scene.frame_set(int(np.floor(f)), subframe=float(f - np.floor(f)))
        bones.foreach_get("head", heads)
        bones.foreach_get("tail", tails)
        local = np.concatenate([heads.reshape(n, 3), tails.reshape(n, 3)[leaves]])
        m = np.array(obj.matrix_world, np.float64)
        out[k] = local @ m[:3, :3].T + m[:3, 3]
    fps = scene.render.fps / (scene.render.fps_base or 1.0) / step
    return names, parents, out, fps, start / step


def convert(path: str, out: str) -> list:
    read_file(path)
    scene = bpy.context.scene
    arrays, meta = {}, []
    for k, (name, obj, action, slot) in enumerate(clip_plan()):
        names, parents, pos, fps, start = sample(obj, action, slot, scene)
        arrays[f"names_{k}"] = np.array(names)
        arrays[f"parents_{k}"] = np.array(parents, np.int32)
        arrays[f"positions_{k}"] = pos
        meta.append({"name": name, "armature": obj.name, "action": action.name, "fps": fps,
                     "first_frame": start, "frames": int(pos.shape[0]), "bones": len(obj.pose.bones)})
    if not meta:
        raise RuntimeError("no armature animation in the file (no action keys the bones of an armature)")
    tmp = f"{out}.{os.getpid()}.tmp.npz"
    np.savez(tmp, meta=np.array(json.dumps({"format": FORMAT, "clips": meta})), **arrays)
    os.replace(tmp, out)
    return meta


def _message(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    lines = [ln for ln in text.splitlines() if ln.strip()]
    last = lines[-1] if lines else text
    return last[len("Error: "):] if last.startswith("Error: ") else last


def main(argv) -> int:
    jobs_file = argv[argv.index("--jobs") + 1]
    with open(jobs_file, encoding="utf-8") as f:
        jobs = json.load(f)
    for job in jobs:
        emit(event="start", path=job["path"])
        try:
            clips = convert(job["path"], job["out"])
        except Exception as e:  # noqa: BLE001 - any importer failure is this file's, never the batch's
            sys.stderr.write(traceback.format_exc())
            emit(event="done", path=job["path"], ok=False, error=_message(e))
        else:
            emit(event="done", path=job["path"], ok=True, clips=clips)
    emit(event="end")
    return 0


if __name__ == "__main__":
    args = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    code = main(args)
    sys.stdout.flush()
    os._exit(code)  # bpy as a module can hang at interpreter exit
