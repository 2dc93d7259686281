"""FBX, glTF and .blend clips of the library from inside Blender: which Blender converts them, where
the converted clips are cached, and loading one for Apply (runtime.io.blender_files does the work).

Conversion runs in a separate background Blender (this Blender's own executable), never in the
user's session: an import there would add objects and actions to the user's file, and an
importer crash would take the session down.
"""

from __future__ import annotations

import os

import bpy


def converter():
    """This Blender's executable; under bpy-as-a-module (no executable), the Python that has bpy."""
    from runtime.io import Converter, find_converter

    binary = bpy.app.binary_path
    if binary and os.path.isfile(binary):
        return Converter(binary)
    return find_converter()


def cache_dir(context=None) -> str:
    """The index's conversion cache (`converted/` in the library index folder)."""
    from . import preferences

    return os.path.join(preferences.index_path(preferences.prefs(context or bpy.context)), "converted")


def load(ident: str, source_fps: float = 0.0, target_fps: float = 20.0, rig_overrides=None):
    """The canonical Motion of clip `<file>#<clip name>`: from the cache, else converted now (in a
    background Blender; the UI waits for it). Raises runtime.errors.MotionSearchError."""
    from runtime.motion import load_scene_clip

    return load_scene_clip(ident, cache_dir(), converter(), fps=source_fps or None, target_fps=target_fps,
                           rig_overrides=rig_overrides)
