"""Runs INSIDE Blender: reads FBX, glTF/GLB and .blend files and writes every armature animation
in them as bone positions. Never imported by the runtime (it imports bpy); started by
runtime.io.blender_files as

    blender -b --factory-startup --python blender_worker.py -- --jobs JOBS.json
    python-with-bpy blender_worker.py --jobs JOBS.json

JOBS.json holds {"jobs": [{"path": file to read, "out": .npz to write, "tmp": its name while being
written, "root": the folder a glTF's references must stay in}], "events": a file to append events
to, "memory_limit": bytes of address space the worker may add past start-up (or null),
"watch_stdin": whether to exit at the end of stdin}. One process reads many files; each file goes
into a fresh empty scene. Per file the worker appends to the events file one JSON line {"event":
"start", "path"} before reading it, then {"event": "done", "path", "ok", "clips" | "error"}, and
{"event": "end"} after the last; a "start" without its "done" means Blender died on that file.
Events have their own file, not stdout: importers print a lot, some of it without a newline. The
containment (parent death, memory cap, references, no image lookups) is listed in
runtime.io.blender_files.

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

A bone that is connected to its parent but whose action moves its location (an FBX importer
connects a pelvis that sits on its root bone's tail, and Blender then ignores the pelvis's
location keys: the clip's root motion is lost) is disconnected before sampling; the clip's meta
names it under "freed".

.blend files are opened (wm.open_mainfile, scripts not trusted) rather than appended from with
bpy.data.libraries.load: opening gives the scene's frame rate and the armatures as placed
(transforms, parents, constraints), which appending actions and armatures alone would lose.
"""

import errno
import json
import os
import signal
import sys
import threading
import traceback
from urllib.parse import unquote

import bpy  # noqa: F401  (this file runs only inside Blender)
import numpy as np

FORMAT = 4  # of the .npz; runtime.io.blender_files.CACHE_FORMAT must match (4: connected movers freed)
IMPORTERS = {".fbx": "io_scene_fbx", ".glb": "io_scene_gltf2", ".gltf": "io_scene_gltf2"}
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Events:
    """The events file: one JSON object per line, flushed at once."""

    def __init__(self, path: str):
        self._file = open(path, "a", encoding="utf-8")

    def emit(self, **event) -> None:
        self._file.write(json.dumps(event) + "\n")
        self._file.flush()


# ------------------------------------------------------------------------------------ containment

def die_with_parent(watch_stdin: bool) -> None:
    """Exit when the parent is gone: at the end of stdin (a pipe only the parent holds open, when
    `watch_stdin`), and on Linux by the kernel's parent-death signal, which also ends an importer
    stuck in C code."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if not watch_stdin:
        return

    def watch() -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError as e:
            if e.errno in (errno.EBADF, errno.EINVAL):  # no stdin at all: nothing to watch
                return
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def cap_memory(limit) -> None:
    """Let the address space grow by at most `limit` bytes past what Blender holds now (Linux; macOS
    does not enforce RLIMIT_AS and Windows has none)."""
    if not limit or not sys.platform.startswith("linux"):
        return
    import resource

    try:
        with open("/proc/self/statm") as f:
            now = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = now + int(limit)
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    except (OSError, ValueError):
        pass


def _no_image_lookups() -> None:
    """FBX textures become empty placeholders: no file named in an FBX is opened (its embedded
    data is still packed into the placeholder), no folder searched. Motion needs no images."""
    from bpy_extras import image_utils

    def placeholder(imagepath, dirname="", place_holder=False, *args, **kwargs):
        if not place_holder:
            return None
        image = bpy.data.images.new(os.path.basename(imagepath) or "image", 1, 1)
        image.filepath = imagepath
        return image

    image_utils.load_image = placeholder


def gltf_document(path: str) -> dict:
    """The JSON of a .gltf file, or the JSON chunk of a .glb (raises RuntimeError when unreadable)."""
    with open(path, "rb") as f:
        head = f.read(20)
        if path.lower().endswith(".glb") or head[:4] == b"glTF":
            if len(head) < 20 or head[:4] != b"glTF" or head[16:20] != b"JSON":
                raise RuntimeError("not a glTF binary file (no glTF header and JSON chunk)")
            size = int.from_bytes(head[12:16], "little")
            text = f.read(size)
        else:
            text = head + f.read()
    try:
        doc = json.loads(text.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise RuntimeError(f"the glTF's JSON cannot be read ({e})") from None
    if not isinstance(doc, dict):
        raise RuntimeError("the glTF's JSON is not an object")
    return doc


def check_references(path: str, root: str) -> None:
    """Refuse a glTF whose buffers or images name a file outside `root` or anything but a regular
    file (before the importer opens it: it would read /dev/zero until memory runs out)."""
    doc = gltf_document(path)
    base, inside = os.path.dirname(os.path.abspath(path)), os.path.realpath(root)
    for kind in ("buffers", "images"):
        entries = doc.get(kind)
        for k, entry in enumerate(entries if isinstance(entries, list) else ()):
            uri = entry.get("uri") if isinstance(entry, dict) else None
            if not isinstance(uri, str) or uri.startswith("data:"):
                continue
            shown = uri if len(uri) <= 60 else uri[:57] + "..."
            if "://" in uri:
                raise RuntimeError(f"{kind[:-1]} {k} is not a file beside it ({shown!r}): not read")
            target = os.path.realpath(os.path.join(base, unquote(uri)))
            if not (target + os.sep).startswith(inside.rstrip(os.sep) + os.sep):
                raise RuntimeError(f"{kind[:-1]} {k} points outside the library folder ({shown!r}): not read")
            if os.path.exists(target) and not os.path.isfile(target):
                raise RuntimeError(f"{kind[:-1]} {k} is not a regular file ({shown!r}): not read")


# ------------------------------------------------------------------------------------ reading

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
        bpy.ops.import_scene.fbx(filepath=path, use_image_search=False)
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


def _free_connected_movers(obj, action, slot) -> list:
    """Disconnect bones whose action moves their location but whose `use_connect` makes Blender
    ignore it: an FBX importer connects a pelvis whose head sits on its root bone's tail, and the
    clip then loses all its root motion (a walk on the spot). The rest pose is unchanged (a
    connected bone's head is its parent's tail already); returns the names freed."""
    moving = set()
    for bag_slot, fcurves in _channelbags(action):
        if slot is not None and bag_slot is not None and bag_slot != slot:
            continue
        for fc in fcurves:
            if fc.data_path.endswith('"].location') and fc.data_path.startswith('pose.bones["'):
                values = [kp.co[1] for kp in fc.keyframe_points]
                if values and max(values) - min(values) > 1e-4:
                    moving.add(fc.data_path[len('pose.bones["'):-len('"].location')].replace('\\"', '"'))
    stuck = [b.name for b in obj.data.bones if b.use_connect and b.name in moving]
    if not stuck:
        return []
    for other in bpy.context.view_layer.objects:
        other.select_set(other == obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode='EDIT')
    for name in stuck:
        obj.data.edit_bones[name].use_connect = False
    bpy.ops.object.mode_set(mode='OBJECT')
    return stuck


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


def convert(path: str, out: str, tmp: str) -> list:
    read_file(path)
    scene = bpy.context.scene
    arrays, meta = {}, []
    for k, (name, obj, action, slot) in enumerate(clip_plan()):
        freed = _free_connected_movers(obj, action, slot)
        names, parents, pos, fps, start = sample(obj, action, slot, scene)
        arrays[f"names_{k}"] = np.array(names)
        arrays[f"parents_{k}"] = np.array(parents, np.int32)
        arrays[f"positions_{k}"] = pos
        meta.append({"name": name, "armature": obj.name, "action": action.name, "fps": fps,
                     "first_frame": start, "frames": int(pos.shape[0]), "bones": len(obj.pose.bones),
                     "freed": freed})
    if not meta:
        raise RuntimeError("no armature animation in the file (no action keys the bones of an armature)")
    np.savez(tmp, meta=np.array(json.dumps({"format": FORMAT, "clips": meta})), **arrays)
    os.replace(tmp, out)
    return meta


def _message(e: BaseException) -> str:
    if isinstance(e, MemoryError):
        return "out of memory (the conversion's memory cap was reached)"
    text = str(e).strip() or type(e).__name__
    lines = [ln for ln in text.splitlines() if ln.strip()]
    last = lines[-1] if lines else text
    last = last[len("Error: "):] if last.startswith("Error: ") else last
    return last if len(last) <= 300 else last[:297] + "..."


def run_job(job: dict, events: Events) -> None:
    path = job["path"]
    events.emit(event="start", path=path)
    try:
        if path.lower().endswith((".gltf", ".glb")):
            check_references(path, job.get("root") or os.path.dirname(path))
        clips = convert(path, job["out"], job["tmp"])
    except Exception as e:  # noqa: BLE001 - any importer failure (MemoryError too) is this file's, not the batch's
        sys.stderr.write(traceback.format_exc())
        events.emit(event="done", path=path, ok=False, error=_message(e))
    else:
        events.emit(event="done", path=path, ok=True, clips=clips)


def main(argv) -> int:
    with open(argv[argv.index("--jobs") + 1], encoding="utf-8") as f:
        spec = json.load(f)
    die_with_parent(spec.get("watch_stdin", False))
    events = Events(spec["events"])
    cap_memory(spec.get("memory_limit"))
    _no_image_lookups()
    for job in spec["jobs"]:
        run_job(job, events)
    events.emit(event="end")
    return 0


if __name__ == "__main__":
    args = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    code = main(args)
    sys.stdout.flush()
    os._exit(code)  # bpy as a module can hang at interpreter exit
