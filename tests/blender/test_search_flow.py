"""The whole search flow in Blender: index a library folder in the background, search, explain,
apply the selected hit, highlight. With the shipped model (models/default), or the bundle that
MOTION_SEARCH_BUNDLE names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import bpy
import pytest

from runtime.index import write_metadata
from runtime.model import default_bundle_path

from .conftest import BOW, WAVE, import_bvh, library_preferences, submodule, update_index

BUNDLE = default_bundle_path()
LIBRARY = [WAVE, "dataset-2_walk-turn-left_normal_001.bvh", "dataset-2_raise-up-both-hands_normal_001.bvh",
           "dataset-2_run_normal_001.bvh", "dataset-2_wave-left-hand_normal_001.bvh"]


@pytest.fixture
def configured(empty_scene, bandai2, tmp_path):
    """Preferences pointing at a small library folder (real clips plus one broken file) and a fresh index."""
    library = tmp_path / "library"
    library.mkdir()
    for name in LIBRARY:
        os.symlink(bandai2 / name, library / name)
    (library / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n")
    with library_preferences(library, tmp_path / "index", BUNDLE):
        yield library


_index = update_index


def test_index_search_explain_apply_highlight(configured, bandai1):
    scene = bpy.context.scene
    scene.motion_search.use_blend_actions = False
    st = _index()
    # the broken file is reported as failed (kept as a failed entry, tried again at every update), not as added
    assert st.index_status.startswith(f"Index updated: {len(LIBRARY)} added, 0 updated, 0 removed, 0 unchanged, "
                                      "1 failed")
    assert [os.path.basename(f.path) for f in st.index_failed] == ["broken.bvh"]
    assert st.provider_note  # which onnxruntime provider runs the model

    st.query = "a person waves with the right hand"  # Enter in the field searches
    assert st.last_query == st.query and len(st.results) == len(LIBRARY)
    assert st.results_index == 0 and st.results[0].score >= st.results[-1].score
    assert {os.path.basename(r.path) for r in st.results} == set(LIBRARY)
    _check_descriptions(st.results, submodule("engine").STATE.hits)
    assert len(st.words) >= 5 and len(st.joint_strengths) == 22  # the first hit is explained at once
    assert all(w.part_label and w.joints for w in st.words)

    obj = import_bvh(bandai1 / BOW)
    top = st.results[0]
    assert bpy.ops.motionsearch.apply() == {'FINISHED'}
    assert obj.animation_data.action.name == f"{top.label} (motion search)"
    meaningful = [w.word for w in st.words if not w.stop]
    assert sorted(m.name for m in scene.timeline_markers) == sorted(f"MS: {w}" for w in meaningful)
    assert bpy.ops.motionsearch.highlight() == {'FINISHED'}
    assert any(pb.color.palette == 'CUSTOM' for pb in obj.pose.bones)
    assert bpy.ops.motionsearch.reset_colors() == {'FINISHED'}

    with submodule("props").quiet():
        st.results_index = len(st.results) - 1
    assert bpy.ops.motionsearch.explain() == {'FINISHED'} and len(st.words) >= 5

    st = _index()  # nothing changed on disk: nothing is encoded again; the failed file is tried again
    assert st.index_status.startswith(f"Index updated: 0 added, 0 updated, 0 removed, {len(LIBRARY)} unchanged, "
                                      "1 failed")
    assert [os.path.basename(f.path) for f in st.index_failed] == ["broken.bvh"]  # still listed as failed


def _check_descriptions(rows, hits) -> None:
    """Each result carries its hit's description (what the index stores for the clip); once the index
    stores them, every one of these real clips has one."""
    assert [r.clip_id for r in rows] == [str(h.clip_id) for h in hits]
    for row, hit in zip(rows, hits):
        want = str(getattr(hit, "description", "") or "")
        assert row.description == want
        if hasattr(hit, "description"):
            assert row.description, row.label
    by_file = {os.path.basename(r.path): r.description for r in rows}
    if by_file[WAVE]:
        assert "right" in by_file[WAVE]


def test_actions_of_the_file_are_searchable_and_apply(configured, bandai1):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    performer = import_bvh(bandai1 / BOW)
    action = performer.animation_data.action.name
    st = _index()
    # the library plus the file's action; broken.bvh is reported as failed, not added
    assert st.index_status.startswith(f"Index updated: {len(LIBRARY) + 1} added, 0 updated, 0 removed, "
                                      "0 unchanged, 1 failed")
    st.query = "a person bows"
    ids = [r.clip_id for r in st.results]
    assert f"blend:{action}" in ids
    with submodule("props").quiet():
        st.results_index = ids.index(f"blend:{action}")
    target = import_bvh(bandai1 / BOW)  # another armature: the action is retargeted onto it
    assert bpy.ops.motionsearch.apply() == {'FINISHED'}
    assert target.animation_data.action.name == f"{action} (motion search)"


def _another_model(index_dir: Path) -> None:
    write_metadata(index_dir, dict(json.loads((index_dir / "metadata.json").read_text()), model_id="0123456789abcdef"))


def _flip_a_byte(index_dir: Path) -> None:
    codes = next(index_dir.glob("chunk-*/codes.npy"))
    data = bytearray(codes.read_bytes())
    data[-10] ^= 0x40
    codes.write_bytes(bytes(data))


@pytest.mark.parametrize("change, error", [
    (_another_model, "built with model 0123456789abcdef.*encode the library again"),  # an add-on update's new model
    (_flip_a_byte, "codes.npy: damaged index file.*Update Index"),  # a file of the index damaged on disk
])
def test_an_index_search_cannot_use_is_named_and_update_index_encodes_it_again(configured, change, error):
    bpy.context.scene.motion_search.use_blend_actions = False
    _index()
    change(Path(submodule("preferences").prefs().index_path))
    submodule("engine").forget()
    st = bpy.context.window_manager.motion_search
    with submodule("props").quiet():
        st.query = "a person runs"
    with pytest.raises(RuntimeError, match=error):
        bpy.ops.motionsearch.search()
    st = _index()
    assert st.index_status.startswith(f"Index updated: {len(LIBRARY)} added, 0 updated, 0 removed, 0 unchanged")
    assert bpy.ops.motionsearch.search() == {'FINISHED'} and len(st.results) == len(LIBRARY)


def test_missing_bundle_is_reported(configured, tmp_path):
    submodule("preferences").prefs().bundle_path = str(tmp_path / "no bundle here")
    st = bpy.context.window_manager.motion_search
    with submodule("props").quiet():
        st.query = "a person jumps"
    with pytest.raises(RuntimeError, match="Model bundle: .*model bundle not found"):
        bpy.ops.motionsearch.search()
    assert len(st.results) == 0
    with pytest.raises(RuntimeError, match="Model bundle"):
        bpy.ops.motionsearch.index_update()
    assert submodule("engine").STATE.job is None


def test_rank_with_descriptions_preference(configured):
    """The preference Rank with Descriptions (on by default): on, hits carry the MaxSim and the
    description score that make their fused score; off, they are ranked by MaxSim alone, in the
    order of those MaxSim scores."""
    bpy.context.scene.motion_search.use_blend_actions = False
    st = _index()
    prefs = submodule("preferences").prefs()
    engine = submodule("engine")
    assert prefs.use_fusion
    query = "someone jogging forward"
    try:
        st.query = query
        on = list(engine.STATE.hits)
        assert len(on) == len(LIBRARY) and all(h.maxsim is not None and h.description_score is not None for h in on)
        assert [h.score for h in on] == sorted((h.score for h in on), reverse=True)
        prefs.use_fusion = False
        assert bpy.ops.motionsearch.search() == {'FINISHED'}
        off = list(engine.STATE.hits)
        assert all(h.maxsim is None for h in off)
        assert [h.clip_id for h in off] == [h.clip_id for h in sorted(on, key=lambda h: -h.maxsim)]
        assert [r.clip_id for r in st.results] == [str(h.clip_id) for h in off]
    finally:
        prefs.use_fusion = True
