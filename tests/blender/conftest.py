"""Headless Blender for the add-on tests: the add-on installed as an extension, real motion files.

Runs under the bpy venvs (`.venvs/bpy-4.5/bin/python -m pytest tests/blender`). Blender's user
folders go to a temporary directory (set before `import bpy`), so nothing touches ~/.config.
The add-on is enabled once per session from a throw-away extension repository that links to
`blender_addon/` (the way Blender loads an installed extension: `bl_ext.<repo>.motion_search`).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

_USER_DIR = tempfile.mkdtemp(prefix="ms_blender_user_")
os.environ["BLENDER_USER_RESOURCES"] = _USER_DIR

import bpy  # noqa: E402  (the bpy venvs only: ./dev test runs this folder there)
import addon_utils  # noqa: E402  (needs bpy first)

ROOT = Path(__file__).resolve().parents[2]
ADDON_SRC = ROOT / "blender_addon"
REPO = "ms_test"
PACKAGE = "motion_search"
MODULE = f"bl_ext.{REPO}.{PACKAGE}"

# Clips used across the tests (real files of the shared data).
WAVE = "dataset-2_wave-right-hand_normal_001.bvh"  # Bandai 2, 187 frames at 30 fps
WALK = "dataset-2_walk-turn-left_normal_001.bvh"  # Bandai 2, 102 frames at 30 fps
BOW = "dataset-1_bow_active_001.bvh"  # Bandai 1 (another performer), the target rig
CMU_MB = "mb-tmoco/02_01.bvh"  # CMU in MotionBuilder naming, 343 frames at 120 fps


def submodule(name: str):
    """A module of the installed add-on (`apply`, `results`, ...)."""
    return importlib.import_module(f"{MODULE}.{name}")


@pytest.fixture(scope="session", autouse=True)
def addon():
    """The add-on enabled as an extension for the whole session (every test can use its modules)."""
    repo_dir = tempfile.mkdtemp(prefix="ms_repo_")
    os.symlink(ADDON_SRC, os.path.join(repo_dir, PACKAGE))
    repos = bpy.context.preferences.extensions.repos
    repo = repos.new(name=REPO, module=REPO, custom_directory=repo_dir, source='USER')
    mod = addon_utils.enable(MODULE, default_set=True, persistent=True)
    assert mod is not None, "the add-on failed to enable (see the traceback above)"
    yield mod
    addon_utils.disable(MODULE, default_set=True)
    repos.remove(repo)
    shutil.rmtree(repo_dir, ignore_errors=True)


@pytest.fixture
def empty_scene(addon):
    """An empty file (the add-on stays enabled) with a fresh undo baseline."""
    bpy.ops.wm.read_homefile(use_empty=True)
    yield bpy.context.scene


def import_bvh(path, name: str | None = None):
    """Import a BVH file as an armature (active and selected); returns the object."""
    with contextlib.redirect_stdout(io.StringIO()):  # the importer prints progress
        assert bpy.ops.import_anim.bvh(filepath=str(path), update_scene_fps=False,
                                       update_scene_duration=False) == {'FINISHED'}
    obj = bpy.context.active_object
    if name:
        obj.name = name
    return obj


def make_active(obj) -> None:
    for o in bpy.context.view_layer.objects:
        o.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def drive_timer(fn, timeout: float = 60.0) -> None:
    """Call a bpy.app.timers function until it returns None (timers never fire headless)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            interval = fn()
            if interval is None:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(fn.__name__)
            time.sleep(interval)
    finally:
        if bpy.app.timers.is_registered(fn):
            bpy.app.timers.unregister(fn)


_status = {"code": 0}


def pytest_sessionfinish(session, exitstatus):
    _status["code"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Leave without Python finalisation once pytest has reported: bpy 4.x can hang or crash at
    interpreter exit when anything is still registered (a failed test may leave something)."""
    shutil.rmtree(_USER_DIR, ignore_errors=True)
    if "bpy" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_status["code"])


@contextlib.contextmanager
def library_preferences(folder, index_dir, bundle=None):
    """The add-on's preferences pointing at one library folder, a fresh index and the CPU; on
    exit the engine is stopped and the preferences, results and query are as they were."""
    from runtime.model import default_bundle_path

    prefs = submodule("preferences").prefs()
    engine = submodule("engine")
    engine.forget()
    saved = (prefs.bundle_path, prefs.index_path, prefs.device)
    prefs.bundle_path, prefs.index_path, prefs.device = str(bundle or default_bundle_path()), str(index_dir), 'CPU'
    prefs.library_folders.add().path = str(folder)
    try:
        yield prefs
    finally:
        engine.stop()
        engine.forget()
        prefs.library_folders.clear()
        prefs.bundle_path, prefs.index_path, prefs.device = saved
        st = bpy.context.window_manager.motion_search
        for coll in (st.results, st.words, st.joint_strengths, st.index_failed):
            coll.clear()
        with submodule("props").quiet():
            st.query = st.last_query = ""


def update_index():
    """Run Update Index to the end (its background job driven by the timer) and return the UI state."""
    engine = submodule("engine")
    assert bpy.ops.motionsearch.index_update() == {'FINISHED'}
    assert engine.STATE.job is not None
    drive_timer(engine.poll_job, timeout=300)
    return bpy.context.window_manager.motion_search
