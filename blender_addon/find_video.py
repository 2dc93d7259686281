"""Find Similar to Video: the person in a film read as a motion (runtime.video, BlazePose), the
library ranked by how alike it is (as Find Similar), and the motion shown on the active armature.

Blender's Python has no mediapipe, and the extension stays lean without it: the film is read by
another Python that has video support (the Video Python preference; `./dev setup-video` makes
one, docs/VIDEO.md), as `python -m runtime video FILM --out FILM.bvh` with this add-on's own
`runtime` package. The BVH is kept in the add-on's user data folder (`video/`) and applied like
any clip, so what was understood can be looked at, and kept.
"""

from __future__ import annotations

import json
import os
import subprocess

import bpy
from bpy.props import BoolProperty, FloatProperty, StringProperty
from bpy.types import Operator
from bpy_extras.io_utils import ImportHelper

from runtime.errors import MotionSearchError

from .operators import _armature, _load_engine, _settings
from .preferences import prefs, video_dir, video_python

FILM_GLOB = "*.mp4;*.mov;*.avi;*.mkv;*.webm;*.m4v;*.mpg;*.mpeg;*.wmv"
TIMEOUT_S = 1800
SETUP = ("Video support is not set up: click Install Video Support in the add-on's preferences (Edit > Preferences "
         "> Add-ons > Motion Search; downloads about 450 MB once), or set Video Python there to a Python that has it")

# runs this add-on's `runtime` (only it: not the other packages beside it) in the video Python
_RUNNER = ("import importlib.util, sys; d = sys.argv.pop(1); "
           "s = importlib.util.spec_from_file_location('runtime', d + '/__init__.py', submodule_search_locations=[d]); "
           "m = importlib.util.module_from_spec(s); sys.modules['runtime'] = m; s.loader.exec_module(m); "
           "from runtime.cli import main; sys.exit(main(sys.argv[1:]))")


class VideoFailed(Exception):
    """The film could not be read: the message is for the user."""


def extract(python: str, film: str, out_bvh: str, start: float = 0.0, end: float = 0.0) -> dict:
    """Run `runtime video` in `python` on `film` (its seconds start..end; 0 = its ends) and
    return its JSON report; the motion is written to `out_bvh`.

    Raises:
        VideoFailed: naming the film (the video command's own message) or the Python.
    """
    import runtime

    package = os.path.dirname(os.path.abspath(runtime.__file__))
    cmd = [python, "-c", _RUNNER, package, "video", film, "--out", out_bvh, "--json"]
    if start > 0:
        cmd += ["--start", f"{start:g}"]
    if end > 0:
        cmd += ["--end", f"{end:g}"]
    env = dict(os.environ, GLOG_minloglevel="2", PYTHONNOUSERSITE="1")
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)  # Blender's own would point the other Python at Blender's library
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
    except OSError as e:
        raise VideoFailed(f"Video Python {python} cannot be run ({e.strerror or e}): {SETUP}") from None
    except subprocess.TimeoutExpired:
        raise VideoFailed(f"{film}: reading it took over {TIMEOUT_S // 60} minutes: choose a shorter stretch") from None
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
        errors = [ln[len("error: "):] for ln in lines if ln.startswith("error: ")]
        if errors:
            raise VideoFailed(errors[-1])
        last = lines[-1] if lines else f"exit status {done.returncode}"
        raise VideoFailed(f"Video Python {python} failed: {last}")
    try:
        return json.loads(done.stdout[done.stdout.index("{"):])
    except ValueError:
        raise VideoFailed(f"Video Python {python} gave no report: is it this add-on's version?") from None


class MOTIONSEARCH_OT_find_similar_video(Operator, ImportHelper):
    """Find the library's clips that move like the person in a video (read by the Video Python of the preferences)"""

    bl_idname = "motionsearch.find_similar_video"
    bl_label = "Find Similar to Video…"
    bl_options = {'REGISTER'}

    filter_glob: StringProperty(default=FILM_GLOB, options={'HIDDEN'})
    start: FloatProperty(name="Start (s)", default=0.0, min=0.0, description="First second of the video to read")
    end: FloatProperty(name="End (s)", default=0.0, min=0.0,
                       description="Last second of the video to read (0 = to its end)")
    use_apply: BoolProperty(name="Show on Armature", default=True,
                            description="Apply the motion read from the video to the active armature (a new action)")

    def invoke(self, context, event):
        if not video_python(prefs(context)):
            self.report({'ERROR'}, SETUP)
            return {'CANCELLED'}
        return super().invoke(context, event)

    def execute(self, context):
        from runtime.motion import load_motion

        from . import engine
        from .find_similar import show_hits

        python = video_python(prefs(context))
        if not python:
            self.report({'ERROR'}, SETUP)
            return {'CANCELLED'}
        film = bpy.path.abspath(self.filepath)
        if not os.path.isfile(film):
            self.report({'ERROR'}, f"{film}: video file not found")
            return {'CANCELLED'}
        stem = os.path.splitext(os.path.basename(film))[0]
        out = os.path.join(video_dir(), f"{stem}.bvh")
        try:
            loaded = _load_engine(self, context)
            if loaded is None:
                return {'CANCELLED'}
            wm = context.window_manager
            wm.progress_begin(0, 1)
            try:
                report = extract(python, film, out, self.start, self.end)
            finally:
                wm.progress_end()
            motion = load_motion(out)
            searcher = engine.searcher(fusion=getattr(prefs(context), "use_fusion", True))
            query = searcher.encode(motion, f"{stem} (video)")
            hits = searcher.search_like(query, k=_settings(context).result_count)
        except VideoFailed as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        except ImportError as e:
            self.report({'ERROR'}, f"The search runtime is missing from this installation ({e})")
            return {'CANCELLED'}
        except (ValueError, OSError, MotionSearchError) as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        show_hits(context, hits, query.name)
        engine.STATE.video_motion = out
        note = (f"{len(hits)} clips alike '{stem}' ({report['frames']} frames read, a person in "
                f"{report['frames_with_person']}" + (f", {report['mirrored_frames']} mirrored frames mended"
                                                     if report["mirrored_frames"] else "") + ")")
        if self.use_apply and _armature(context) is not None:
            try:
                bpy.ops.motionsearch.apply('EXEC_DEFAULT', filepath=out, label=f"{stem} (video)", use_markers=False)
            except RuntimeError as e:  # the apply operator reported why (a bone map to check, edit mode, ...)
                self.report({'WARNING'}, f"{note}; not shown on the armature: {str(e).strip()}")
                return {'FINISHED'}
            note += f"; shown on {_armature(context).name}"
        self.report({'INFO'}, note)
        return {'FINISHED'}


def requirements_file() -> str:
    """video-requirements.txt: inside the extension, or at the root of a development checkout."""
    here = os.path.dirname(os.path.abspath(__file__))
    for folder in (here, os.path.dirname(here)):
        path = os.path.join(folder, "video-requirements.txt")
        if os.path.isfile(path):
            return path
    return ""


def install_video_python(folder: str, requirements: str, python: str, should_stop=lambda: False) -> str:
    """A virtual environment at `folder`, made by `python` (Blender's own: 3.11 up to Blender 5.0),
    with the packages of `requirements` (--no-deps: each is listed); returns its python.

    Raises:
        VideoFailed: saying which step failed and pip's last line.
    """
    windows = os.name == "nt"
    exe = os.path.join(folder, "Scripts" if windows else "bin", "python.exe" if windows else "python")
    steps = [("making the environment", [python, "-m", "venv", folder]),
             ("installing the packages (about 450 MB from PyPI)",
              [exe, "-m", "pip", "install", "--disable-pip-version-check", "--no-deps", "-r", requirements])]
    env = dict(os.environ, PYTHONNOUSERSITE="1")
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    for what, cmd in steps:
        if should_stop():
            raise VideoFailed("Installing video support was cancelled")
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise VideoFailed(f"Installing video support failed while {what}: {last}")
    return exe


class MOTIONSEARCH_OT_install_video_support(Operator):
    """Make a Python with video support for Find Similar to Video (about 450 MB from PyPI, once, in the background)"""

    bl_idname = "motionsearch.install_video_support"
    bl_label = "Install Video Support"

    def execute(self, context):
        import sys

        from . import engine

        requirements = requirements_file()
        if not requirements:
            self.report({'ERROR'}, "video-requirements.txt is missing from this installation of the add-on")
            return {'CANCELLED'}
        if engine.STATE.job is not None and engine.STATE.job.running:
            self.report({'WARNING'}, "Wait for the running job (indexing) to finish")
            return {'CANCELLED'}
        folder = os.path.join(os.path.dirname(video_dir()), "video-python")

        def work(progress, should_stop):  # in the worker thread: no bpy here
            progress(0, 1, "installing video support")
            return install_video_python(folder, requirements, sys.executable, should_stop)

        def finish(job):
            st = bpy.context.window_manager.motion_search
            if job.error is not None:
                st.index_status = str(job.error)
                return
            prefs().video_python = job.result
            st.index_status = f"Video support installed: {job.result}"

        engine.start_job(work, "Installing video support", on_finish=finish)
        self.report({'INFO'}, f"Installing video support into {folder} in the background")
        return {'FINISHED'}


class MOTIONSEARCH_OT_apply_video_motion(Operator):
    """Apply the motion read from the last video to the active armature (a new action)"""

    bl_idname = "motionsearch.apply_video_motion"
    bl_label = "Show Video Motion"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        from . import engine

        path = getattr(engine.STATE, "video_motion", "")
        return bool(path) and os.path.isfile(path) and _armature(context) is not None

    def execute(self, context):
        from . import engine

        path = engine.STATE.video_motion
        name = os.path.splitext(os.path.basename(path))[0]
        return bpy.ops.motionsearch.apply('EXEC_DEFAULT', filepath=path, label=f"{name} (video)", use_markers=False)


classes = (MOTIONSEARCH_OT_find_similar_video, MOTIONSEARCH_OT_apply_video_motion,
           MOTIONSEARCH_OT_install_video_support)
