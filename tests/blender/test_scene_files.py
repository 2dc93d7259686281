"""FBX, glTF and .blend clips in the index: files written by Blender's own exporters from real BVH
clips, read back by a background Blender (runtime.io.blender_files), compared with the BVH, indexed,
searched and applied."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from dataclasses import replace
from pathlib import Path

import bpy
import numpy as np
import pytest

from runtime.index import LibraryIndex
from runtime.io import NO_BLENDER, Converted, convert_files, find_converter
from runtime.model import Bundle, default_bundle_path
from runtime.motion import clip_motion, leg_length, load_motion, to_canonical_frame

from .conftest import BOW, WALK, WAVE, drive_timer, import_bvh, library_preferences, make_active, submodule


def _quiet(op, **kw):
    with contextlib.redirect_stdout(io.StringIO()):
        assert op(**kw) == {'FINISHED'}


@pytest.fixture(scope="module")
def exported(addon, bandai2, tmp_path_factory) -> Path:
    """two.fbx (takes Wave and Backward), two.glb (animations), two.blend (actions): one armature
    from the BVH file WAVE, with its action and a copy played backwards (actions made for one
    armature; another BVH's action would not fit this armature's bone rest frames)."""
    out = tmp_path_factory.mktemp("exported")
    bpy.ops.wm.read_homefile(use_empty=True)
    with contextlib.redirect_stdout(io.StringIO()):
        bpy.ops.import_anim.bvh(filepath=str(bandai2 / WAVE), update_scene_fps=True, update_scene_duration=True)
    arm = bpy.context.active_object
    arm.name = "Armature"
    wave = arm.animation_data.action
    wave.name = "Wave"
    backward = wave.copy()
    backward.name, backward.use_fake_user = "Backward", True
    first, last = (int(round(x)) for x in wave.frame_range)
    for fc in submodule("actions").action_fcurves(backward, arm):
        for kp in fc.keyframe_points:
            kp.co.x = first + last - kp.co.x
            kp.interpolation = 'LINEAR'
        fc.update()  # sorts the keys again
    make_active(arm)
    _quiet(bpy.ops.export_scene.fbx, filepath=str(out / "two.fbx"), use_selection=True, bake_anim=True,
           bake_anim_use_all_actions=True, bake_anim_use_nla_strips=False, bake_anim_simplify_factor=0.0,
           add_leaf_bones=False)  # unsimplified keys: the comparison measures reading, not key reduction
    _quiet(bpy.ops.export_scene.gltf, filepath=str(out / "two.glb"), export_format='GLB', use_selection=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out / "two.blend"), copy=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    return out


@pytest.fixture(scope="module")
def converter():
    conv = find_converter()
    assert conv is not None and conv.is_python  # the bpy venv's Python: no Blender executable here
    return conv


def _convert(path: Path, converter, cache: Path) -> Converted:
    from runtime.hashing import content_hash

    return convert_files([(str(path), content_hash(path))], converter, cache)[str(path)]


@pytest.mark.parametrize("name", ["two.fbx", "two.glb", "two.blend"])
def test_every_animation_is_a_clip_and_matches_the_bvh(exported, converter, bandai2, tmp_path, name):
    result = _convert(exported / name, converter, tmp_path)
    assert result.error == "" and not result.from_cache
    clips = {c.name: c for c in result.clips}
    assert sorted(clips) == ["Backward", "Wave"]
    wave = load_motion(bandai2 / WAVE)
    backward = to_canonical_frame(wave.positions[::-1].astype(np.float64))  # 125 frames at 20 fps: one grid
    for clip_name, want in (("Wave", wave), ("Backward", replace(wave, positions=backward))):
        got = clip_motion(clips[clip_name], f"{exported / name}#{clip_name}")
        assert got.rig == want.rig == "bandai"
        # glTF too: sampled at its keys (0.8 frames apart on Blender's 24 fps timeline), at their 30 fps
        assert got.source_fps == want.source_fps == 30.0 and got.num_frames == want.num_frames
        error = np.linalg.norm(got.positions - want.positions, axis=-1).max()
        assert error < 0.01 * leg_length(want.positions), f"{name}#{clip_name}: {error:.4f} m"
    again = _convert(exported / name, converter, tmp_path)
    assert again.from_cache and [c.name for c in again.clips] == [c.name for c in result.clips]


def test_a_library_of_bvh_fbx_glb_and_blend(exported, converter, bandai2, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    for name in ("two.fbx", "two.glb", "two.blend"):
        shutil.copy(exported / name, library / name)
    os.symlink(bandai2 / WAVE, library / WAVE)
    (library / "broken.fbx").write_bytes((exported / "two.fbx").read_bytes()[:5000])  # truncated
    (library / "notes.txt").write_text("not motion\n")
    bundle = Bundle.load(default_bundle_path(), device="cpu")
    index = LibraryIndex.create(tmp_path / "index", bundle)

    report = index.update([str(library)], bundle, converter=converter)
    assert report.converted == 4 and report.added == 7
    ids = sorted(c.id.replace(str(library) + os.sep, "") for c in index.ok_clips)
    assert ids == sorted([WAVE] + [f"two.{ext}#{n}" for ext in ("fbx", "glb", "blend") for n in ("Backward", "Wave")])
    [(path, error)] = report.failed
    assert path.endswith("broken.fbx") and "failed to read complete nested block" in error  # the importer's words
    assert report.not_read == [(str(library / "notes.txt"), "not a motion file")]
    fbx_wave = next(c for c in index.clips if c.id.endswith("two.fbx#Wave"))
    assert fbx_wave.label == "two #Wave" and fbx_wave.path == str(library / "two.fbx")

    again = index.update([str(library)], bundle, converter=converter)  # only the failed file is read again
    assert (again.converted, again.added, again.updated, again.unchanged) == (1, 0, 0, 7)
    assert [p for p, _ in again.failed] == [str(library / "broken.fbx")]
    no_blender = index.update([str(library)], bundle, converter=None)  # unchanged: no Blender needed
    assert (no_blender.unchanged, no_blender.removed) == (7, 0)
    assert no_blender.not_read == again.not_read + [(str(library / "broken.fbx"), NO_BLENDER)]  # not retried
    assert [p for p, _ in no_blender.failed] == [str(library / "broken.fbx")]  # still failed, still listed


@pytest.fixture
def addon_library(empty_scene, exported, bandai2, tmp_path):
    """The add-on's preferences pointing at a folder with an FBX file and a BVH file."""
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(exported / "two.fbx", library / "two.fbx")
    os.symlink(bandai2 / WALK, library / WALK)
    bpy.context.scene.motion_search.use_blend_actions = False
    with library_preferences(library, tmp_path / "index"):
        yield library


def test_update_index_search_and_apply_an_fbx_take(addon_library, bandai1, tmp_path):
    engine = submodule("engine")
    assert bpy.ops.motionsearch.index_update() == {'FINISHED'}
    drive_timer(engine.poll_job, timeout=300)
    st = bpy.context.window_manager.motion_search
    assert st.index_status.startswith("Index updated: 3 added, 0 updated, 0 removed, 0 unchanged, 0 failed, "
                                      "1 file converted by Blender"), st.index_status
    assert list(Path(tmp_path / "index" / "converted").glob("*.npz"))  # cached for Apply

    st.query = "a person waves the right hand"
    labels = [r.label for r in st.results]
    assert sorted(labels) == sorted(["two #Wave", "two #Backward", Path(WALK).stem])
    with submodule("props").quiet():
        st.results_index = labels.index("two #Wave")
    obj = import_bvh(bandai1 / BOW)
    assert bpy.ops.motionsearch.apply() == {'FINISHED'}
    action = obj.animation_data.action
    assert action.name == "two #Wave (motion search)"
    row = st.results[st.results_index]
    frames = bpy.context.scene.frame_end - bpy.context.scene.frame_start + 1
    scene_fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    assert abs(frames - (row.end_frame - row.start_frame) / row.fps * scene_fps) <= 2
