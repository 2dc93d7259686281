"""A user's journey with the extension as users install it (run by test_installed_extension.py).

    python -I -S installed_journey.py SHIM ZIP LIBRARY TARGET_BVH REPO OUT_JSON

Runs in a fresh process of a bpy venv's Python, isolated (-I: no PYTHONPATH, no user site, no
script folder on sys.path; -S: no site-packages, so neither the repo's editable install nor the
venv's onnxruntime or tokenizers): only SHIM is added, a folder holding bpy, numpy and what
Blender's own Python bundles. BLENDER_USER_RESOURCES (a fresh folder) is set by the caller before
bpy is imported. The zip is installed with Blender's own installer; then: the library folder in the
preferences, Update Index twice, search, explain, Apply (action, then NLA strip), Find Similar (from
a result and from the action), Describe Action, Save / Clear / Load Bone Map. After each Update
Index and at the end the extension's files (its folder and the packages its wheels installed) are
listed again and must be as installed; the user folders may change only under the extension's own
data folder (and Python's __pycache__). Every check is an assert; a summary goes to OUT_JSON.
"""

import sys

sys.path.append(sys.argv[1])

import glob  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

SHIM, ZIP, LIBRARY, TARGET_BVH, REPO, OUT = sys.argv[1:7]
USER = os.environ["BLENDER_USER_RESOURCES"]
PKG = "bl_ext.user_default.motion_search"
TIMES: dict[str, float] = {}
SUMMARY: dict = {"times": TIMES}


def listing(folder: str) -> dict[str, tuple]:
    """Every file under `folder` (Python's __pycache__ aside) with its size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.path.relpath(path, folder)] = (st.st_size, st.st_mtime_ns)
    return out


def step(name: str):
    """Time a step of the journey."""
    class _Step:
        def __enter__(self):
            self.t0 = time.monotonic()
            print(f"[journey] {name}", flush=True)

        def __exit__(self, *exc):
            TIMES[name] = round(time.monotonic() - self.t0, 2)
    return _Step()


def drive(fn, timeout: float = 300.0) -> None:
    """Call a bpy.app.timers function until it returns None (timers never fire headless)."""
    deadline = time.monotonic() + timeout
    while True:
        interval = fn()
        if interval is None:
            return
        assert time.monotonic() < deadline, f"{fn.__name__} still running after {timeout} s"
        time.sleep(interval)


def extension_files(bpy) -> dict[str, tuple]:
    """The installed extension's folder and its wheels' packages."""
    ext = bpy.utils.user_resource('EXTENSIONS')
    files = {os.path.join("user_default", "motion_search", k): v
             for k, v in listing(os.path.join(ext, "user_default", "motion_search")).items()}
    files.update({os.path.join(".local", k): v for k, v in listing(os.path.join(ext, ".local")).items()})
    return files


def main() -> None:
    with step("import bpy"):
        import bpy
    assert not any(p.startswith(REPO) for p in sys.path), sys.path
    assert importlib.util.find_spec("runtime") is None, "the repo's runtime is importable before the install"

    with step("install"):
        bpy.ops.extensions.package_install_files(filepath=ZIP, repo="user_default", enable_on_install=True)
    assert PKG in bpy.context.preferences.addons, "the extension is not enabled after installing"
    site = glob.glob(os.path.join(bpy.utils.user_resource('EXTENSIONS', path=".local"), "lib", "python3*",
                                  "site-packages"))[0]
    for module in map(importlib.import_module, ("runtime", "onnxruntime", "tokenizers")):
        assert module.__file__.startswith(site), f"{module.__name__} from {module.__file__}, not {site}"
    installed = extension_files(bpy)
    assert any(k.startswith(os.path.join(".local", "lib")) and "onnxruntime" in k for k in installed)
    assert any(k.endswith(os.path.join("runtime", "io", "blender_worker.py")) for k in installed)
    SUMMARY["extension_files"] = len(installed)
    user_before = listing(USER)
    SUMMARY["user_files_after_install"] = len(user_before)

    engine = importlib.import_module(PKG + ".engine")
    wm, scene = bpy.context.window_manager, bpy.context.scene
    st = wm.motion_search
    prefs = bpy.context.preferences.addons[PKG].preferences
    prefs.library_folders.add().path = LIBRARY
    prefs.device = 'CPU'

    statuses = []
    for k in (1, 2):
        with step(f"update index {k}"):
            assert bpy.ops.motionsearch.index_update() == {'FINISHED'}
            drive(engine.poll_job)
        statuses.append(st.index_status)
        assert extension_files(bpy) == installed, f"Update Index {k}: " + differences(installed, extension_files(bpy))
    SUMMARY["statuses"] = statuses
    assert statuses[0].startswith("Index updated: 10 added, 0 updated, 0 removed, 0 unchanged, 0 failed"), statuses
    assert "3 files converted by Blender" in statuses[0], statuses
    assert statuses[1].startswith("Index updated: 0 added, 0 updated, 0 removed, 10 unchanged, 0 failed"), statuses

    with step("search"):
        st.query = "a person waves the right hand"
    labels = [r.label for r in st.results]
    SUMMARY["search"] = labels
    assert len(labels) == 10 and labels[0] in ("two #Wave", "two #Backward"), labels
    with step("explain"):
        assert bpy.ops.motionsearch.explain() == {'FINISHED'}
    assert len(st.words) >= 3

    with step("apply as action"):
        bpy.ops.import_anim.bvh(filepath=TARGET_BVH, update_scene_fps=False, update_scene_duration=False)
        target = bpy.context.active_object
        assert bpy.ops.motionsearch.apply() == {'FINISHED'}
    applied = target.animation_data.action
    assert applied.name == f"{labels[0]} (motion search)", applied.name

    with step("apply as NLA strip"):
        scene.motion_search.apply_as = 'NLA'
        scene.frame_set(300)
        walk = next(k for k, r in enumerate(st.results) if "walk" in r.label)
        st.results_index = walk
        assert bpy.ops.motionsearch.apply() == {'FINISHED'}
    ad = target.animation_data
    strips = [s for t in ad.nla_tracks for s in t.strips]
    assert ad.action == applied and len(strips) == 1 and strips[0].frame_start == 300.0
    assert strips[0].action.name == f"{st.results[walk].label} (motion search)"

    with step("find similar (result)"):
        fbx_wave = next(k for k, r in enumerate(st.results) if r.clip_id.endswith("two.fbx#Wave"))
        st.results_index = fbx_wave
        query_id = st.results[fbx_wave].clip_id
        assert bpy.ops.motionsearch.find_similar(source='RESULT') == {'FINISHED'}
    similar = [r.clip_id for r in st.results]
    SUMMARY["similar"] = [os.path.basename(c) for c in similar]
    assert query_id not in similar and len(similar) == 9
    assert similar[0].endswith(("two.glb#Wave", "two.blend#Wave")), similar  # the same take in another format

    with step("find similar (action)"):
        assert bpy.ops.motionsearch.find_similar(source='ACTION') == {'FINISHED'}
    assert len(st.results) >= 9

    with step("describe action"):
        assert bpy.ops.motionsearch.describe_action() == {'FINISHED'}
    SUMMARY["described"] = st.action_summary
    assert st.action_summary.startswith("A person"), st.action_summary

    from runtime.motion import JOINTS

    map_file = os.path.join(os.path.dirname(OUT), "bone map.json")
    with step("save / load bone map"):
        assert bpy.ops.motionsearch.bone_map_save('EXEC_DEFAULT', filepath=map_file) == {'FINISHED'}
        saved = json.load(open(map_file, encoding="utf-8"))
        assert bpy.ops.motionsearch.bone_map_clear() == {'FINISHED'}
        assert not any(getattr(target.data.motion_search, j) for j in JOINTS)
        assert bpy.ops.motionsearch.bone_map_load('EXEC_DEFAULT', filepath=map_file) == {'FINISHED'}
    assert sorted(saved) == sorted(JOINTS)  # the whole map; a point between two bones stays a JSON list
    bones = {j: b for j, b in saved.items() if isinstance(b, str)}
    assert len(bones) >= 20 and {j: getattr(target.data.motion_search, j) for j in bones} == bones

    assert extension_files(bpy) == installed, differences(installed, extension_files(bpy))
    after = listing(USER)
    own = os.path.join("extensions", ".user", "user_default", "motion_search") + os.sep
    changed = sorted(k for k in set(before_after_keys(user_before, after)) if not k.startswith(own))
    assert not changed, f"user folder files changed outside the extension's data: {changed[:10]}"
    SUMMARY["user_files_changed_by_extension_data"] = len([k for k in before_after_keys(user_before, after)])
    SUMMARY["user_files_after"] = len(after)


def before_after_keys(before: dict, after: dict):
    """Files added, removed or changed."""
    return [k for k in set(before) | set(after) if before.get(k) != after.get(k)]


def differences(before: dict, after: dict) -> str:
    gone = sorted(set(before) - set(after))
    added = sorted(set(after) - set(before))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return (f"the extension's files changed: {len(gone)} removed {gone[:5]}, {len(added)} added {added[:5]}, "
            f"{len(changed)} changed {changed[:5]}")


if __name__ == "__main__":
    code = 0
    try:
        main()
        SUMMARY["ok"] = True
    except BaseException:  # noqa: BLE001 - report everything, then leave without bpy's exit
        traceback.print_exc()
        SUMMARY["ok"] = False
        code = 1
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(SUMMARY, f, indent=1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
