"""Video -> motion on a real film (Pose2Sim's cam01) and on a rendered clip with its true joints."""

from __future__ import annotations

import numpy as np
import pytest

from runtime.motion import J, leg_length, mirror_positions
from runtime.video import (VideoError, find_mirrored, mend_mirrored, motion_from_landmarks, read_frames,
                           video_motion)


@pytest.fixture(scope="module")
def cam01_motion(cam01):
    return video_motion(cam01, end=1.0)


def test_a_real_film_gives_an_upright_person_at_its_own_frame_times(cam01_motion):
    v = cam01_motion
    lm = v.landmarks
    assert len(lm) == 61 and lm.found.all()  # 0-1 s of a 60 fps film, both ends included
    assert np.allclose(np.diff(lm.times), 1 / 60, atol=1e-3) and v.video_fps == pytest.approx(60, abs=0.1)
    m = v.motion
    assert m.fps == 20 and m.num_frames == 21 and m.rig == "blazepose"
    assert m.source_fps == pytest.approx(60, abs=0.1) and m.first_source_frame == 0
    p = m.positions
    assert 0.6 < leg_length(p) < 1.0  # an adult's legs, in metres
    # levelled: head over pelvis over ankles, feet on the floor
    assert (p[:, J["head"], 1] > p[:, J["pelvis"], 1] + 0.4).all()
    assert (p[:, J["pelvis"], 1] > p[:, J["left_ankle"], 1] + 0.5).all()
    assert abs(np.percentile(p[:, [J["left_ankle"], J["right_ankle"]], 1], 1)) < 0.15
    assert v.trimmed == 0 and v.filled == 0 and "61 frames (60 fps), a person in 61" in v.summary()


def test_the_trunk_joints_sit_where_the_projects_rigs_put_them(cam01_motion):
    p = cam01_motion.motion.positions
    hips = (p[:, J["left_hip"]] + p[:, J["right_hip"]]) / 2
    shoulders = (p[:, J["left_shoulder"]] + p[:, J["right_shoulder"]]) / 2
    trunk = np.linalg.norm(shoulders - hips, axis=-1)
    along = lambda j: np.sum((p[:, J[j]] - hips) * (shoulders - hips), -1) / trunk ** 2  # noqa: E731
    assert np.allclose(along("spine1"), 0.449, atol=0.02) and np.allclose(along("neck"), 1.082, atol=0.03)
    assert (along("spine1") < along("spine2")).all() and (along("spine2") < along("spine3")).all()
    head_from_neck = np.linalg.norm(p[:, J["head"]] - p[:, J["neck"]], axis=-1) / trunk
    assert np.allclose(head_from_neck, 0.163, atol=0.01)


def test_a_mirrored_stretch_is_found_and_mended(cam01_motion):
    """Left and right labels swapped in frames 20-34 of the real landmarks: found exactly, and
    mending gives the original back."""
    world = cam01_motion.landmarks.world
    times = cam01_motion.landmarks.times
    assert find_mirrored(world, times).count == 0
    swapped = np.zeros(len(world), bool)
    swapped[20:35] = True
    broken = mend_mirrored(world, swapped)  # a swap is its own inverse
    found = find_mirrored(broken, times)
    assert found.stretches == [(20, 34)]
    assert np.array_equal(mend_mirrored(broken, found.frames), world)


def test_a_real_left_right_swap_is_found(pose2sim_demo):
    """Pose2Sim's cam02: BlazePose's 2D labels swap in frames 40-64 and a few later frames (seen by
    reprojecting the person triangulated from the other three cameras: bench/bench_video_real.py)."""
    v = video_motion(pose2sim_demo / "videos" / "cam02.mp4")
    flagged = v.mirrored.frames
    assert flagged[45:61].all() and not flagged[:36].any() and not flagged[85:].any()
    assert 25 <= v.mirrored.count <= 40 and "mirrored (left/right swapped) in" in v.summary()
    assert "mended" in v.summary()


def test_a_jump_to_another_person_keeps_the_longest_stretch_of_one(sports2d_demo):
    """Sports2D's demo: two people; BlazePose follows one, then jumps to the other at 5.67 s and back
    at 6.73 s (its hips cross the image in one frame)."""
    v = video_motion(sports2d_demo)
    assert [round(t, 2) for t in v.switches] == [5.67, 6.73]
    m = v.motion
    assert m.first_source_frame / m.source_fps < 0.2 and m.first_source_frame / m.source_fps + m.duration < 5.67
    assert "the model jumped to another person at 5.67 s, 6.73 s: kept" in v.summary()


def test_frames_without_a_person_are_trimmed_at_the_ends_and_filled_inside(cam01_motion):
    lm = cam01_motion.landmarks
    from dataclasses import replace

    world, image, vis = lm.world.copy(), lm.image.copy(), lm.visibility.copy()
    for k in [0, 1, 2, 30, 31, 60]:
        world[k], image[k], vis[k] = np.nan, np.nan, 0.0
    v = motion_from_landmarks(replace(lm, world=world, image=image, visibility=vis))
    assert (v.trimmed, v.filled) == (4, 2)
    assert v.motion.first_source_frame == 3 and np.isfinite(v.motion.positions).all()
    assert "4 at the ends left out; 2 without one filled in" in v.summary()


def test_a_rendered_clip_comes_back_close_to_its_truth_with_left_and_right_right(rendered_wave):
    video, truth_file = rendered_wave
    truth = np.load(truth_file)
    v = video_motion(video)
    m = v.motion
    assert v.landmarks.found.all() and m.source_fps == pytest.approx(20)
    n = min(m.num_frames, len(truth))
    pred, true = m.positions[:n].astype(np.float64), truth[:n].astype(np.float64)

    def pa_error(a, b):  # per-frame Procrustes (rotation, translation, scale), mean over joints, metres
        out = []
        for f in range(len(a)):
            x, y = a[f] - a[f].mean(0), b[f] - b[f].mean(0)
            u, s, vt = np.linalg.svd(x.T @ y)
            d = np.sign(np.linalg.det(u @ vt))
            r = u @ np.diag([1, 1, d]) @ vt
            out.append(np.linalg.norm((s * [1, 1, d]).sum() / (x ** 2).sum() * x @ r - y, axis=-1).mean())
        return np.array(out)

    err = pa_error(pred, true)
    assert err.mean() < 0.10  # metres, over the 22 joints
    assert (err < pa_error(pred, mirror_positions(true))).mean() > 0.9  # left is left
    # the waving hand is the right one, up by the head, in the extracted motion as in the truth
    up = lambda p, side: p[:, J[f"{side}_wrist"], 1] - p[:, J["neck"], 1]  # noqa: E731
    assert up(true, "right").max() > 0.1 and up(pred, "right").max() > 0.1
    assert up(pred, "left").max() < 0.0


def test_an_image_folder_needs_a_rate_and_reads_in_name_order(cam01, tmp_path):
    import cv2

    for k, (_, _, rgb) in enumerate(read_frames(cam01, end=0.1)):
        cv2.imwrite(str(tmp_path / f"f{k:03d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    with pytest.raises(VideoError, match="has no frame times: give its frame rate"):
        list(read_frames(tmp_path))
    frames = list(read_frames(tmp_path, fps=60))
    assert [n for n, _, _ in frames] == list(range(7)) and frames[-1][1] == pytest.approx(0.1)


def test_bad_input_is_a_short_error_naming_the_file(tmp_path):
    import cv2

    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(VideoError, match=r"notes\.mp4: cannot be read as a video"):
        video_motion(text)
    with pytest.raises(VideoError, match=r"missing\.mp4: no such file"):
        video_motion(tmp_path / "missing.mp4")
    empty = tmp_path / "empty_room.mp4"  # a grey wall: nobody in it
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"mp4v"), 25, (320, 240))
    for _ in range(10):
        writer.write(np.full((240, 320, 3), 128, np.uint8))
    writer.release()
    with pytest.raises(VideoError, match=r"empty_room\.mp4: no person found in any of its 10 frames"):
        video_motion(empty)
    with pytest.raises(VideoError, match=r"no frames between 5 s and 6 s"):
        video_motion(empty, start=5, end=6)
