"""Highlight: bones coloured by match strength per canonical joint; Reset gives the user's colours back."""

from __future__ import annotations

import json

import bpy
import numpy as np
import pytest

from .conftest import BOW, import_bvh, submodule

EIGHT_BIT = 1.0 / 255 + 1e-6  # Blender stores bone colours as 8-bit values


def _colors(obj) -> dict:
    return {pb.name: (pb.color.palette, tuple(pb.color.custom.normal), tuple(pb.color.custom.select),
                      tuple(pb.color.custom.active)) for pb in obj.pose.bones}


@pytest.fixture
def rig(empty_scene, bandai1):
    obj = import_bvh(bandai1 / BOW)
    # the user's own colours, which highlighting must not lose
    hand = obj.pose.bones["Hand_R"].color
    hand.palette = 'THEME04'
    spine = obj.pose.bones["Spine"].color
    spine.palette = 'CUSTOM'
    spine.custom.normal, spine.custom.select, spine.custom.active = (0.2, 0.4, 0.6), (0.3, 0.5, 0.7), (0.9, 0.9, 0.1)
    return obj


def test_ramp_endpoints_and_middle():
    highlight = submodule("highlight")
    stops = highlight.DEFAULT_RAMP
    assert highlight.ramp(0.0) == pytest.approx(stops[0])
    assert highlight.ramp(0.5) == pytest.approx(stops[1])
    assert highlight.ramp(1.0) == pytest.approx(stops[2])
    assert highlight.ramp(2.0) == pytest.approx(stops[2]) and highlight.ramp(-1.0) == pytest.approx(stops[0])
    assert highlight.ramp(0.25) == pytest.approx(tuple((a + b) / 2 for a, b in zip(stops[0], stops[1])))


def test_highlight_then_reset_restores_exactly(rig):
    obj = rig
    original = _colors(obj)
    strengths = {"right_wrist": 1.0, "right_elbow": 0.5, "spine1": 0.25, "pelvis": 0.0}
    assert bpy.ops.motionsearch.highlight(strengths=json.dumps(strengths)) == {'FINISHED'}
    now = _colors(obj)
    highlight = submodule("highlight")
    for joint, bone in (("right_wrist", "Hand_R"), ("right_elbow", "LowerArm_R"), ("spine1", "Spine")):
        palette, normal, _, _ = now[bone]
        assert palette == 'CUSTOM'
        assert np.allclose(normal, highlight.ramp(strengths[joint]), atol=EIGHT_BIT), bone
    assert now["Hips"] == original["Hips"]  # strength 0: left alone
    assert now["UpperLeg_L"] == original["UpperLeg_L"]  # not in the explanation
    # a second highlight (another word) recolours; bones it leaves out get their own colours back
    assert bpy.ops.motionsearch.highlight(strengths=json.dumps({"left_knee": 1.0})) == {'FINISHED'}
    now = _colors(obj)
    assert now["Hand_R"] == original["Hand_R"] and now["Spine"] == original["Spine"]
    assert now["LowerLeg_L"][0] == 'CUSTOM'
    assert bpy.ops.motionsearch.reset_colors() == {'FINISHED'}
    assert _colors(obj) == original
    assert not highlight.is_highlighted(obj.pose.bones)


def test_previous_colours_survive_save_and_reload(rig, tmp_path):
    name, original = rig.name, _colors(rig)
    bpy.ops.motionsearch.highlight(strengths=json.dumps({"right_wrist": 1.0, "spine1": 0.7}))
    path = str(tmp_path / "highlighted.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.open_mainfile(filepath=path)
    obj = bpy.data.objects[name]  # the old reference died with the old file
    assert obj.pose.bones["Hand_R"].color.palette == 'CUSTOM'
    bpy.context.view_layer.objects.active = obj
    assert bpy.ops.motionsearch.reset_colors() == {'FINISHED'}
    assert _colors(obj) == original


def test_highlight_is_one_undo_step(rig):
    name = rig.name
    bpy.ops.ed.undo_push(message="baseline")
    original = _colors(rig)
    assert bpy.ops.motionsearch.highlight('EXEC_DEFAULT', True, strengths='{"left_wrist": 1}') == {'FINISHED'}
    assert _colors(bpy.data.objects[name]) != original
    bpy.ops.ed.undo()
    assert _colors(bpy.data.objects[name]) == original
    assert not bpy.ops.ed.undo.poll()


def test_highlight_from_explanation_and_word(rig):
    """Without explicit strengths: the selected result's joint strengths, or one word's joints."""
    st = bpy.context.window_manager.motion_search
    results = submodule("results")
    results.fill(st.joint_strengths, [{"joint": "left_shoulder", "strength": 0.9}, {"joint": "head", "strength": 0.3}])
    results.fill(st.words, [{"word": "waves", "part": "elbow_r", "part_label": "right elbow",
                             "joints": "right_elbow,right_wrist", "start_frame": 10, "end_frame": 40, "score": 0.8}])
    assert bpy.ops.motionsearch.highlight() == {'FINISHED'}
    colours = _colors(rig)
    assert colours["UpperArm_L"][0] == 'CUSTOM' and colours["Head"][0] == 'CUSTOM'
    assert colours["LowerArm_R"][0] != 'CUSTOM'
    assert bpy.ops.motionsearch.highlight(word_index=0) == {'FINISHED'}
    colours = _colors(rig)
    assert colours["LowerArm_R"][0] == 'CUSTOM' and colours["Hand_R"][0] == 'CUSTOM'
    assert colours["UpperArm_L"][0] != 'CUSTOM'
    st.words.clear()
    st.joint_strengths.clear()


@pytest.mark.parametrize("strengths, message", [("", "Nothing to highlight"), ("[1, 2]", "JSON object"),
                                                ("{not json", "JSON object")])
def test_highlight_bad_input(rig, strengths, message):
    bpy.context.window_manager.motion_search.joint_strengths.clear()
    before = _colors(rig)
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.motionsearch.highlight(strengths=strengths)
    assert _colors(rig) == before


def test_highlight_needs_an_armature(empty_scene):
    with pytest.raises(RuntimeError, match="Select an armature"):
        bpy.ops.motionsearch.highlight(strengths='{"head": 1}')
    with pytest.raises(RuntimeError, match="Select an armature"):
        bpy.ops.motionsearch.reset_colors()
