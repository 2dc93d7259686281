"""Find Similar in Blender: from the selected result and from the active armature's action, with the
shipped model on real Bandai-Namco clips; the hits fill the results list, the query itself left out."""

from __future__ import annotations

import os

import bpy
import pytest


from .conftest import WAVE, import_bvh, library_preferences, submodule, update_index

WAVE_2 = "dataset-2_wave-right-hand_normal_002.bvh"
LIBRARY = [WAVE, WAVE_2, "dataset-2_wave-left-hand_normal_001.bvh", "dataset-2_walk-turn-left_normal_001.bvh",
           "dataset-2_raise-up-both-hands_normal_001.bvh", "dataset-2_run_normal_001.bvh"]


@pytest.fixture
def library(empty_scene, bandai2, tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    for name in LIBRARY:
        os.symlink(bandai2 / name, folder / name)
    with library_preferences(folder, tmp_path / "index"):
        yield folder


_index = update_index


def test_find_similar_from_the_selected_result(library):
    bpy.context.scene.motion_search.use_blend_actions = False
    st = _index()
    st.query = "a person waves with the right hand"
    names = [os.path.basename(r.path) for r in st.results]
    with submodule("props").quiet():
        st.results_index = names.index(WAVE)
    assert bpy.ops.motionsearch.find_similar(source='RESULT') == {'FINISHED'}
    names = [os.path.basename(r.path) for r in st.results]
    assert names[0] == WAVE_2, names  # another take of the same content and style
    assert WAVE not in names and len(names) == len(LIBRARY) - 1
    assert st.results_index == 0 and st.results[0].score >= st.results[-1].score
    engine = submodule("engine")
    assert [str(h.clip_id) for h in engine.STATE.hits] == [r.clip_id for r in st.results]
    assert engine.STATE.like == os.path.splitext(WAVE)[0] and len(st.words) == 0
    with submodule("props").quiet():
        st.results_index = 1
    assert bpy.ops.motionsearch.explain() == {'FINISHED'} and len(st.words) == 0  # nothing to explain: no words
    st.query = "a person runs"  # a text search again: explained as before
    assert engine.STATE.like == "" and len(st.words) >= 3


def test_find_similar_from_the_armatures_action(library, bandai2):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    performer = import_bvh(bandai2 / "dataset-2_wave-right-hand_normal_003.bvh")  # a take outside the library
    action = performer.animation_data.action.name
    st = _index()  # the file's action is indexed too
    assert st.index_status.startswith(f"Index updated: {len(LIBRARY) + 1} added")
    assert bpy.ops.motionsearch.find_similar(source='ACTION') == {'FINISHED'}
    ids = [r.clip_id for r in st.results]
    assert f"blend:{action}" not in ids and len(ids) == len(LIBRARY)  # the action itself is left out
    assert "wave-right-hand" in os.path.basename(st.results[0].path), [r.label for r in st.results]
    bpy.ops.object.select_all(action='DESELECT')
    bpy.context.view_layer.objects.active = None
    with pytest.raises(RuntimeError, match="Select an armature"):
        bpy.ops.motionsearch.find_similar(source='ACTION')
