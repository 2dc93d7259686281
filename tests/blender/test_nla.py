"""Apply as an NLA strip: real Bandai clips chained on real rigs, blended, and undone in one step."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from .conftest import BOW, WALK, WAVE, import_bvh, submodule
from .rigs import make_rigify_armature


def _nla_state(obj_name: str):
    """Everything the NLA path may change, looked up again (undo invalidates Python references)."""
    obj = bpy.data.objects[obj_name]
    ad = obj.animation_data
    tracks = [(t.name, [(s.name, s.frame_start, s.frame_end, s.blend_in, s.blend_out,
                         s.action.name if s.action else None) for s in t.strips])
              for t in (ad.nla_tracks if ad else ())]
    return (ad.action.name if ad and ad.action else None, tracks, sorted(a.name for a in bpy.data.actions),
            bpy.context.scene.frame_end)


def _strip_mode(scene, blend_in: int, blend_out: int) -> None:
    s = scene.motion_search
    s.apply_as, s.blend_in, s.blend_out = 'NLA', blend_in, blend_out


def _apply_at(scene, frame: int, path) -> set:
    scene.frame_set(frame)
    return bpy.ops.motionsearch.apply('EXEC_DEFAULT', True, filepath=str(path))


def _no_overlaps(ad) -> None:
    for track in ad.nla_tracks:
        spans = sorted((s.frame_start, s.frame_end) for s in track.strips)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), (track.name, spans)


def test_strips_chain_keep_the_action_and_undo_one_by_one(empty_scene, bandai1, bandai2):
    scene = empty_scene
    obj = import_bvh(bandai1 / BOW)
    name, own = obj.name, obj.animation_data.action.name  # the import's own action stays active
    _strip_mode(scene, 5, 8)
    bpy.ops.ed.undo_push(message="baseline")
    state0 = _nla_state(name)

    assert _apply_at(scene, 40, bandai2 / WAVE) == {'FINISHED'}
    state1 = _nla_state(name)
    ad = bpy.data.objects[name].animation_data
    assert ad.action.name == own and not ad.use_tweak_mode
    (track,) = ad.nla_tracks
    (first,) = track.strips
    action = first.action
    assert action.name == f"{WAVE[:-4]} (motion search)"
    assert action[submodule("actions").SOURCE_KEY] == str(bandai2 / WAVE)
    assert (first.frame_start, first.blend_in, first.blend_out) == (40.0, 5.0, 8.0)
    assert tuple(action.frame_range) == (40.0, first.frame_end) and first.frame_end > 40 + 100  # about 149 frames
    assert first.extrapolation == 'NOTHING'
    assert scene.frame_end >= first.frame_end

    # a second clip starting inside the first goes on a new track above it
    assert _apply_at(scene, 120, bandai2 / WALK) == {'FINISHED'}
    ad = bpy.data.objects[name].animation_data
    assert [len(t.strips) for t in ad.nla_tracks] == [1, 1]
    second = ad.nla_tracks[1].strips[0]
    assert second.action.name == f"{WALK[:-4]} (motion search)" and second.frame_start == 120.0
    assert (second.blend_in, second.blend_out) == (5.0, 8.0)
    state2 = _nla_state(name)
    # a third after both goes on the top track, after the second
    third_start = int(second.frame_end) + 10
    assert _apply_at(scene, third_start, bandai2 / WAVE) == {'FINISHED'}
    state3 = _nla_state(name)
    ad = bpy.data.objects[name].animation_data
    assert [len(t.strips) for t in ad.nla_tracks] == [1, 2]
    assert ad.nla_tracks[1].strips[1].frame_start == third_start
    _no_overlaps(ad)
    assert ad.action.name == own

    # each apply is one undo step: the strip, its track when new, and its action go together
    bpy.ops.ed.undo()
    assert _nla_state(name) == state2 != state3
    bpy.ops.ed.undo()
    assert _nla_state(name) == state1
    bpy.ops.ed.undo()
    assert _nla_state(name) == state0
    assert not bpy.ops.ed.undo.poll()


def test_strip_plays_with_its_blend_and_no_action_is_left_active(empty_scene, bandai2):
    """Without an action before, the strip's action is not left active, and the NLA plays it:
    nothing at the strip's first frame (blend in from 0), the clip's keys at full influence."""
    scene = empty_scene
    obj = make_rigify_armature(yaw_deg=0.0, scale=1.0, location=(0.0, 0.0, 0.0))
    scene.frame_set(40)
    done = submodule("apply").apply_clip(obj, scene, str(bandai2 / WAVE), as_strip=True, blend_in=5, blend_out=8)
    ad = obj.animation_data
    assert ad.action is None and done.previous_action is None
    strip = ad.nla_tracks[done.track].strips[done.strip]
    assert strip.action.name == done.action and strip.frame_start == done.frame_start == 40
    assert strip.frame_end == done.frame_end
    fcurves = {(fc.data_path, fc.array_index): fc for fc in submodule("actions").action_fcurves(strip.action, obj)}
    path = 'pose.bones["DEF-upper_arm.R"].rotation_quaternion'
    keyed = lambda f: np.array([fcurves[(path, i)].evaluate(f) for i in range(4)])  # noqa: E731
    pb = obj.pose.bones["DEF-upper_arm.R"]
    scene.frame_set(40)  # influence 0: the rest pose
    assert np.allclose(pb.rotation_quaternion, (1.0, 0.0, 0.0, 0.0), atol=1e-6)
    for f in (60, 90, done.frame_end - 10):  # full influence: the clip's keys
        scene.frame_set(f)
        assert not np.allclose(keyed(f), (1.0, 0.0, 0.0, 0.0), atol=1e-2)  # the arm moves in the clip
        assert np.allclose(pb.rotation_quaternion, keyed(f), atol=1e-5), f
    scene.frame_set(42)  # in the blend in: between rest and the clip
    q = np.array(pb.rotation_quaternion)
    assert not np.allclose(q, keyed(42), atol=1e-4) and not np.allclose(q, (1.0, 0.0, 0.0, 0.0), atol=1e-4)


@pytest.mark.parametrize("case", ["blends too long", "tweak mode"])
def test_bad_strip_input_reports_and_changes_nothing(empty_scene, bandai1, bandai2, case):
    scene = empty_scene
    obj = import_bvh(bandai1 / BOW)
    name = obj.name
    _strip_mode(scene, 5, 8)
    assert _apply_at(scene, 10, bandai2 / WAVE) == {'FINISHED'}
    if case == "blends too long":
        _strip_mode(scene, 100, 100)
        expected = r"Blend in and out \(100 \+ 100 frames\) are longer than the clip"
    else:
        obj.animation_data.action = None
        obj.animation_data.use_tweak_mode = True
        assert obj.animation_data.use_tweak_mode
        expected = "is in NLA tweak mode"
    bpy.ops.ed.undo_push(message="baseline")
    before = _nla_state(name)
    with pytest.raises(RuntimeError, match=expected):
        _apply_at(scene, 300, bandai2 / WALK)
    assert _nla_state(name) == before


def test_sidebar_offers_apply_as_and_blends_for_strips(empty_scene, bandai2):
    from .test_register import _draw

    import_bvh(bandai2 / WAVE)
    panels, settings = submodule("panels"), bpy.context.scene.motion_search
    assert settings.apply_as == 'ACTION'  # the default: Apply behaves as before

    def props():
        return [args[1] for name, args, _ in _draw(panels.MOTIONSEARCH_PT_sidebar, bpy.context)
                if name.endswith(".prop") and args[0] == settings]
    assert props() == ["apply_as"]
    settings.apply_as = 'NLA'
    assert props() == ["apply_as", "blend_in", "blend_out"]
