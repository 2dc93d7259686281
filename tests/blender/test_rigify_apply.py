"""Apply on a generated Rigify rig: the FK controls put every deform bone where the retarget
solved it, at every frame, with the rig's follow settings at their defaults or changed, and the
work shows Blender's progress indicator.

Apply measures how Rigify's constraints carry each control (its parent space relative to the
controls above it) on every few frames and solves the rest in numpy (blender_addon/rigify.py);
these tests check the result where it counts, on the deform bones Blender evaluates from the
keys, including the frames between the measured ones: the rotations within a degree and a half
(the neck's parent space is interpolated), the places as far as Rigify's spine lets the chest
control reach. Speed: bench/bench_rigify.py.
"""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from .conftest import WALK, make_active, submodule
from .rigs import make_generated_rigify

FPS = 30
CHEST_REACH = 0.05  # metres: how far the chest's deform bone stays from where it was solved
ANGLE_TOL_DEG = 1.5  # the neck's parent space, interpolated between measured frames


@pytest.fixture(scope="module")
def rigify_file(addon, tmp_path_factory):
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    make_generated_rigify()
    path = tmp_path_factory.mktemp("rigify") / "generated.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    return path


class _WindowManager:
    """Records the progress calls Apply makes."""

    def __init__(self):
        self.calls = []

    def progress_begin(self, lo, hi):
        self.calls.append(("begin", lo, hi))

    def progress_update(self, value):
        self.calls.append(("update", value))

    def progress_end(self):
        self.calls.append(("end",))


def _apply_and_capture(monkeypatch, rig, path):
    """Apply `path` to `rig`; returns (what Apply did, the deform rig, the solved deform pose
    (T, n, 4, 4), {control: deform bone index}, the recorded progress calls)."""
    rigify, actions = submodule("rigify"), submodule("actions")
    seen, wm = {}, _WindowManager()
    solve = rigify.control_bases

    def spy(obj, deform, pose, placed, *args, **kwargs):
        seen.update(deform=deform, pose=pose, placed=placed)
        return solve(obj, deform, pose, placed, *args, **kwargs)

    progress_bar = actions.progress_bar
    monkeypatch.setattr(rigify, "control_bases", spy)
    monkeypatch.setattr(actions, "progress_bar", lambda w=None: progress_bar(wm))
    done = submodule("apply").apply_clip(rig, bpy.context.scene, str(path))
    return done, seen["deform"], seen["pose"], seen["placed"], wm.calls


def _deform_errors(rig, done, deform, pose, placed):
    """Per frame and placed control: how far Blender's evaluated deform bone is from the solve
    (position, armature units; angle, degrees)."""
    scene = bpy.context.scene
    pos, ang = [], []
    for k, f in enumerate(range(done.frame_start, done.frame_end + 1)):
        scene.frame_set(f)
        p, a = [], []
        for t in placed.values():
            m = np.array(rig.pose.bones[deform.names[t]].matrix)
            p.append(np.linalg.norm(m[:3, 3] - pose[k, t, :3, 3]))
            r = m[:3, :3] / np.linalg.norm(m[:3, :3], axis=0)
            cos = (np.trace(r.T @ pose[k, t, :3, :3]) - 1.0) / 2.0
            a.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
        pos.append(p)
        ang.append(a)
    return np.array(pos), np.array(ang)


@pytest.mark.parametrize("follow", ["defaults", "head and limbs follow", "head half follows"])
def test_deform_bones_follow_the_solve_at_every_frame(rigify_file, bandai2, monkeypatch, follow):
    """Defaults: one measuring pass. The head keeping the neck's rotation and two limbs the
    world's: other anchors, still one pass. The head half way between the torso's and the neck's
    rotation: its parent space depends on the neck's pose, a second pass."""
    bpy.ops.wm.open_mainfile(filepath=str(rigify_file))
    rig = bpy.data.objects["rig"]
    make_active(rig)
    if follow == "head and limbs follow":
        rig.pose.bones["torso"]["head_follow"] = 1.0
        for bone in ("upper_arm_parent.L", "thigh_parent.R"):
            rig.pose.bones[bone]["FK_limb_follow"] = 1.0
    elif follow == "head half follows":
        rig.pose.bones["torso"]["head_follow"] = 0.5
    done, deform, pose, placed, calls = _apply_and_capture(monkeypatch, rig, bandai2 / WALK)
    assert done.frame_end - done.frame_start + 1 == len(pose) == 102
    pos, ang = _deform_errors(rig, done, deform, pose, placed)
    names = list(placed)
    worst = {names[i]: round(float(ang[:, i].max()), 2) for i in np.argsort(-ang.max(axis=0))[:4]}
    assert ang.max() < ANGLE_TOL_DEG, worst
    assert np.median(ang) < 0.1, worst
    # The torso and legs land where solved. The chest's deform bone follows the chest control only
    # in part (Rigify blends the upper spine between hips and chest), so the upper body lands a
    # few cm off, all of it by the same shift: the limbs hang from the chest as solved.
    lower = [i for i, n in enumerate(names) if n == "torso" or n.startswith(("thigh", "shin", "foot"))]
    upper = [i for i in range(len(names)) if i not in lower]
    assert pos[:, lower].max() < 1e-3, {names[i]: float(pos[:, i].max()) for i in lower}
    assert pos[:, upper].max() < CHEST_REACH, {names[i]: float(pos[:, i].max()) for i in upper}
    assert np.abs(pos[:, upper] - pos[:, [names.index("chest")]]).max() < 2e-3
    # the progress indicator: begun once, counted up to its total, ended once
    assert calls[0][0] == "begin" and calls[-1] == ("end",)
    counts = [c[1] for c in calls if c[0] == "update"]
    assert counts == sorted(counts) and counts[-1] == calls[0][2]
    # measured: the rest pose, every 3rd frame and the last, every 12th and the last; then a second
    # pass, or one update to the end
    every = [len(set(range(0, len(pose), k)) | {len(pose) - 1}) for k in (3, 12)]
    second = every[0] if follow == "head half follows" else 1
    assert len(counts) == 1 + every[0] + every[1] + second


def test_progress_bar_shows_nothing_without_work():
    wm = _WindowManager()
    with submodule("actions").progress_bar(wm):
        pass
    assert wm.calls == []
    with pytest.raises(ValueError), submodule("actions").progress_bar(wm) as progress:
        progress(1, 4)
        raise ValueError
    assert wm.calls == [("begin", 0, 4), ("update", 1), ("end",)]
