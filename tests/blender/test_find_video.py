"""Find Similar to Video in Blender: a rendered right-hand wave is read by the video environment's
Python, the library's clips fill the results list, and the motion is shown on the armature; without
video support the button says how to get it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import bpy
import pytest

from .conftest import BOW, drive_timer, import_bvh, library_preferences, submodule, update_index

ROOT = Path(__file__).resolve().parents[2]
VIDEO_PYTHON = ROOT / ".venvs" / "video" / "bin" / "python"
LIBRARY = ["dataset-2_wave-right-hand_normal_014.bvh", "dataset-2_wave-left-hand_normal_002.bvh",
           "dataset-2_walk-turn-left_normal_007.bvh", "dataset-2_raise-up-both-hands_normal_006.bvh",
           "dataset-2_run_normal_020.bvh"]


@pytest.fixture(scope="module")
def wave_film(bandai2, tmp_path_factory):
    """A right-hand wave (a take outside the library) rendered from the front, 2 s at 20 fps."""
    out = tmp_path_factory.mktemp("film") / "wave"
    subprocess.run([sys.executable, str(ROOT / "bench" / "render_clip.py"),
                    str(bandai2 / "dataset-2_wave-right-hand_normal_008.bvh"), str(out), "--views", "0",
                    "--seconds", "2"], check=True, capture_output=True, text=True)
    return Path(f"{out}_0.mp4")


@pytest.fixture
def library(empty_scene, bandai2, tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    for name in LIBRARY:
        os.symlink(bandai2 / name, folder / name)
    with library_preferences(folder, tmp_path / "index") as prefs:
        saved = prefs.video_python
        try:
            yield prefs
        finally:
            prefs.video_python = saved


def test_without_video_support_the_button_says_how_to_get_it(library, monkeypatch, tmp_path):
    find_video = submodule("find_video")
    monkeypatch.setattr(find_video, "video_python", lambda p: "")
    with pytest.raises(RuntimeError, match="Video support is not set up: click Install Video Support"):
        bpy.ops.motionsearch.find_similar_video('EXEC_DEFAULT', filepath=str(tmp_path / "film.mp4"))
    monkeypatch.setattr(find_video, "video_python", lambda p: str(tmp_path / "no-python"))
    film = tmp_path / "film.mp4"
    film.write_bytes(b"\0" * 16)
    update_index()
    with pytest.raises(RuntimeError, match="no-python cannot be run"):
        bpy.ops.motionsearch.find_similar_video('EXEC_DEFAULT', filepath=str(film))


@pytest.mark.skipif(not VIDEO_PYTHON.is_file(), reason=f"needs the video environment {VIDEO_PYTHON} "
                    "(./dev setup-video)")
def test_find_similar_to_video_fills_the_results_and_shows_the_motion(library, wave_film, bandai1, tmp_path):
    library.video_python = str(VIDEO_PYTHON)
    st = update_index()
    rig = import_bvh(bandai1 / BOW, "Performer")
    before = rig.animation_data.action.name
    assert bpy.ops.motionsearch.find_similar_video('EXEC_DEFAULT', filepath=str(wave_film)) == {'FINISHED'}
    names = [os.path.basename(r.path) for r in st.results]
    assert len(names) == len(LIBRARY) and names[0] == LIBRARY[0], names  # the other right-hand wave first
    engine = submodule("engine")
    assert engine.STATE.like == "wave_0 (video)" and len(st.words) == 0
    assert os.path.isfile(engine.STATE.video_motion) and engine.STATE.video_motion.endswith("wave_0.bvh")
    action = rig.animation_data.action
    assert action.name != before and action.name.startswith("wave_0 (video)")
    assert bpy.context.scene.frame_end - bpy.context.scene.frame_start >= 30  # 2 s at the scene's rate
    # shown again later (a new action each time), from the sidebar's button
    assert bpy.ops.motionsearch.apply_video_motion() == {'FINISHED'}
    assert rig.animation_data.action.name != action.name
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a film")
    with pytest.raises(RuntimeError, match=r"notes\.mp4: cannot be read as a video"):
        bpy.ops.motionsearch.find_similar_video('EXEC_DEFAULT', filepath=str(bad))


def test_install_video_support_makes_a_python_and_sets_the_preference(library, monkeypatch, tmp_path):
    """The environment is made with Blender's own Python (here: the requirements are a comment, so
    nothing is downloaded; the real file pins mediapipe and the rest)."""
    find_video = submodule("find_video")
    engine = submodule("engine")
    requirements = tmp_path / "video-requirements.txt"
    requirements.write_text("# nothing to install in this test\n")
    monkeypatch.setattr(find_video, "requirements_file", lambda: str(requirements))
    folder = os.path.join(os.path.dirname(submodule("preferences").video_dir()), "video-python")
    try:
        assert bpy.ops.motionsearch.install_video_support() == {'FINISHED'}
        drive_timer(engine.poll_job, timeout=300)
        st = bpy.context.window_manager.motion_search
        python = os.path.join(folder, "bin", "python")
        assert st.index_status == f"Video support installed: {python}", st.index_status
        assert library.video_python == python and os.path.isfile(python)
        assert submodule("preferences").video_python(library) == python
        requirements.write_text("motion-search-no-such-package==0.0.1\n")  # pip fails: said so
        assert bpy.ops.motionsearch.install_video_support() == {'FINISHED'}
        drive_timer(engine.poll_job, timeout=300)
        assert st.index_status.startswith("Installing video support failed while installing the packages"), \
            st.index_status
    finally:
        shutil.rmtree(folder, ignore_errors=True)
