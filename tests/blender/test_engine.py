"""Background work and its timer: progress into the sidebar, cancel, errors, and the operators'
checks that run before the search runtime is needed."""

from __future__ import annotations

import os
import time
import types

import bpy
import pytest

from runtime.errors import MotionFormatError
from runtime.motion import load_motion

from .conftest import drive_timer, submodule


def _loader(paths):
    """Real work in the shape of LibraryIndex.update: load each file, report progress, stop on request."""

    def work(progress, should_stop):
        added, failed = 0, []
        for i, path in enumerate(paths):
            if should_stop():
                break
            progress(i, len(paths), os.path.basename(path))
            try:
                load_motion(path)
                added += 1
            except MotionFormatError as e:
                failed.append((path, e.reason))
        progress(len(paths) if not should_stop() else i, len(paths), "")
        return types.SimpleNamespace(added=added, updated=0, removed=0, unchanged=0, failed=failed)

    return work


@pytest.fixture
def engine(addon):
    eng = submodule("engine")
    yield eng
    eng.stop()


def test_job_runs_in_background_and_finishes_on_the_timer(empty_scene, engine, bandai2, tmp_path):
    broken = tmp_path / "broken.bvh"
    broken.write_text("HIERARCHY\nROOT Hips\n{\n")
    paths = [str(p) for p in sorted(bandai2.glob("dataset-2_wave-*_normal_00*.bvh"))[:4]] + [str(broken)]
    finished = []
    operators = submodule("operators")

    def on_finish(job):
        finished.append(job)
        operators._finish_index_job(job)

    job = engine.start_job(_loader(paths), on_finish=on_finish)
    assert bpy.app.timers.is_registered(engine.poll_job)
    with pytest.raises(RuntimeError, match="already running"):
        engine.start_job(_loader(paths))
    drive_timer(engine.poll_job)
    assert finished == [job] and job.error is None and engine.STATE.job is None
    assert job.result.added == 4 and job.fraction == 1.0
    st = bpy.context.window_manager.motion_search
    assert st.index_status == "Index updated: 4 added, 0 updated, 0 removed, 0 unchanged, 1 failed"
    assert [(f.path, f.message) for f in st.index_failed] == [(str(broken), job.result.failed[0][1])]
    assert st.index_failed[0].message  # the reader's reason, for the failed-files list


def test_cancel_stops_between_files(empty_scene, engine, bandai2):
    paths = [str(p) for p in sorted(bandai2.glob("*.bvh"))[:200]]
    seen = []

    def work(progress, should_stop):
        result = _loader(paths)(lambda d, t, n: (seen.append(d), progress(d, t, n)), should_stop)
        return result

    job = engine.start_job(work)
    deadline = time.monotonic() + 30
    while not seen and time.monotonic() < deadline:
        time.sleep(0.001)
    assert bpy.ops.motionsearch.index_cancel() == {'FINISHED'}
    drive_timer(engine.poll_job)
    assert job.cancelled and job.result.added < len(paths)
    assert bpy.ops.motionsearch.index_cancel() == {'CANCELLED'}  # nothing running any more


def test_job_error_is_reported(empty_scene, engine):
    def work(progress, should_stop):
        raise OSError("disk full")

    engine.start_job(work, on_finish=submodule("operators")._finish_index_job)
    drive_timer(engine.poll_job)
    assert bpy.context.window_manager.motion_search.index_status == "Indexing failed: disk full"


def test_progress_is_published(empty_scene, engine):
    job = engine.Job(lambda progress, stop: None, "Indexing")
    job._progress(3, 12, "walk_01.bvh")
    engine.publish(job)
    st = bpy.context.window_manager.motion_search
    assert st.index_progress == pytest.approx(0.25)
    assert st.index_status == "Indexing 3/12: walk_01.bvh"


def test_search_needs_a_query(empty_scene):
    bpy.context.window_manager.motion_search.query = "   "
    with pytest.raises(RuntimeError, match="Type what the motion should show"):
        bpy.ops.motionsearch.search()


def test_index_update_needs_something_to_index(empty_scene):
    with pytest.raises(RuntimeError, match="Nothing to index"):
        bpy.ops.motionsearch.index_update()


def test_library_folders_from_preferences(empty_scene, tmp_path, bandai2):
    preferences = submodule("preferences")
    p = preferences.prefs()
    try:
        for path, use in ((str(bandai2), True), (str(tmp_path / "gone"), True), (str(tmp_path), False)):
            item = p.library_folders.add()
            item.path, item.use = path, use
        sources, problems = preferences.library_sources(p)
        assert sources == [os.path.normpath(str(bandai2))]
        assert problems == [f"library folder not found: {tmp_path / 'gone'}"]
    finally:
        p.library_folders.clear()


def test_apply_uses_the_selected_result_and_its_words(empty_scene, bandai1, bandai2):
    """The Apply button with a result selected: its file, frame range, name and word markers."""
    from .conftest import BOW, WAVE, import_bvh

    obj = import_bvh(bandai1 / BOW)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    st = bpy.context.window_manager.motion_search
    results = submodule("results")
    hit = types.SimpleNamespace(clip_id="bandai2/wave", path=str(bandai2 / WAVE), label="", score=0.91,
                                start_frame=30, end_frame=120, fps=30.0, duration_s=3.0)
    results.fill(st.results, results.hit_rows([hit]))
    results.fill(st.words, [{"word": "waves", "part": "elbow_r", "part_label": "right elbow",
                             "joints": "right_elbow,right_wrist", "start_frame": 60, "end_frame": 90, "score": 0.7}])
    with submodule("props").quiet():
        st.results_index = 0
    try:
        assert bpy.ops.motionsearch.apply() == {'FINISHED'}
        assert obj.animation_data.action.name == f"{WAVE[:-4]} (motion search)"
        assert (scene.frame_start, scene.frame_end) == (1, 91)
        assert [(m.name, m.frame) for m in scene.timeline_markers] == [("MS: waves", 31)]
        scene.motion_search.use_markers = False
        assert bpy.ops.motionsearch.apply() == {'FINISHED'}
        assert len(scene.timeline_markers) == 0
    finally:
        st.results.clear()
        st.words.clear()
