"""Describe Action: the active armature's action in words, from the same sampling as the index."""

from __future__ import annotations

import types

import bpy
import numpy as np
import pytest

from .conftest import BOW, import_bvh, submodule

RAISE = "dataset-2_raise-up-right-hand_normal_001.bvh"


def _state():
    return bpy.context.window_manager.motion_search


def _execute(context=None):
    """Run the operator's execute() with a stand-in `self` that records the reports: what it
    returns and reports (bpy.ops turns an ERROR report into a RuntimeError)."""
    reports = []
    op = types.SimpleNamespace(report=lambda level, message: reports.append((set(level), message)))
    result = submodule("operators").MOTIONSEARCH_OT_describe_action.execute(op, context or bpy.context)
    return result, reports


@pytest.mark.parametrize("name", ["dataset-2_wave-right-hand_normal_001.bvh", RAISE])
def test_describes_the_right_hand(empty_scene, bandai2, name, capsys):
    """A real Bandai-Namco right-hand clip imported as an action is described as a right-hand motion."""
    scene = empty_scene
    scene.render.fps, scene.render.fps_base = 30, 1.0  # the file's rate: one key per scene frame
    obj = import_bvh(bandai2 / name)
    action, frame = obj.animation_data.action, scene.frame_current
    assert bpy.ops.motionsearch.describe_action() == {'FINISHED'}
    st = _state()
    assert st.action_described == action.name
    assert st.action_summary.startswith("A person") and "right" in st.action_summary
    assert "left" not in st.action_summary
    out = capsys.readouterr().out
    assert st.action_summary in out and "(right)" in out  # the events, one line each, on the console
    assert scene.frame_current == frame and obj.animation_data.action == action  # nothing changed
    result, reports = _execute()
    assert result == {'FINISHED'} and reports == [({'INFO'}, f"{action.name}: {st.action_summary}")]


def test_the_mesh_of_an_armature_describes_its_action(empty_scene, bandai2):
    scene = empty_scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    rig = import_bvh(bandai2 / RAISE)
    mesh = bpy.data.objects.new("body", bpy.data.meshes.new("body"))
    scene.collection.objects.link(mesh)
    mesh.modifiers.new("Armature", 'ARMATURE').object = rig
    bpy.context.view_layer.objects.active = mesh
    assert bpy.ops.motionsearch.describe_action() == {'FINISHED'} and "right" in _state().action_summary


def test_no_armature_or_no_action(empty_scene, bandai1):
    st = _state()
    st.action_summary, st.action_described = "An old summary.", "old"
    result, reports = _execute()
    assert result == {'CANCELLED'} and [r[0] for r in reports] == [{'ERROR'}]
    assert "Select an armature" in reports[0][1]
    assert st.action_summary == "" and st.action_described == ""  # no stale summary stays on show
    with pytest.raises(RuntimeError, match="Select an armature"):
        bpy.ops.motionsearch.describe_action()

    obj = import_bvh(bandai1 / BOW)
    obj.animation_data.action = None
    result, reports = _execute()
    assert result == {'CANCELLED'} and reports == [({'ERROR'}, f"'{obj.name}' has no action to describe")]
    with pytest.raises(RuntimeError, match="has no action to describe"):
        bpy.ops.motionsearch.describe_action()
    assert st.action_summary == ""


def test_too_short_action_is_a_warning(empty_scene, bandai1):
    """A few frames hold no action: a warning and CANCELLED, not a traceback."""
    scene = empty_scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    obj = import_bvh(bandai1 / BOW)
    short = submodule("actions").new_pose_action(obj, "short", [1, 2, 3, 4, 5],
                                                 [("Hips", "location", np.zeros((5, 3)))])
    assert obj.animation_data.action == short
    result, reports = _execute()
    assert result == {'CANCELLED'} and [r[0] for r in reports] == [{'WARNING'}]
    assert reports[0][1].startswith("Cannot describe 'short': ") and "too few to describe" in reports[0][1]
    assert bpy.ops.motionsearch.describe_action() == {'CANCELLED'}  # a warning: bpy.ops does not raise
    assert _state().action_summary == ""


def test_unmappable_rig_is_an_error(empty_scene, bandai1):
    obj = import_bvh(bandai1 / BOW)
    obj.data.bones["Head"].name = "skull"
    result, reports = _execute()
    assert result == {'CANCELLED'} and [r[0] for r in reports] == [{'ERROR'}]
    assert "no bone found for Head" in reports[0][1]
    with pytest.raises(RuntimeError, match="no bone found for Head"):
        bpy.ops.motionsearch.describe_action()
