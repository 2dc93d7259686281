"""FBX, glTF and .blend clips as canonical Motions: the bone positions Blender wrote for a clip
(runtime.io converts and caches them) mapped onto the 22 joints, resampled, in metres, Y up."""

from __future__ import annotations

import os

import numpy as np

from ..errors import MotionFormatError
from ..hashing import content_hash
from ..io import Converter, SceneClip, convert_files, split_clip_id
from .canonical import TARGET_FPS, Motion, metres_per_unit, resample, to_canonical_frame
from .rigs import map_rig, map_skeleton


def clip_motion(clip: SceneClip, source: str, *, fps: float | None = None, rig_overrides=None,
                target_fps: float | None = None):
    """The canonical Motion of a converted clip (as load_motion: map the rig, resample, metres, Y up).

    Raises:
        RigMappingError, MotionFormatError: naming `source` (`<file>#<clip>`).
    """
    rig = _map_clip(clip, source, rig_overrides)
    source_fps = float(fps) if fps else _tidy_fps(clip.fps)
    if not (np.isfinite(source_fps) and 1.0 <= source_fps <= 10000.0):
        raise MotionFormatError(source, f"frame rate {source_fps} is not usable")
    if len(clip.positions) < 2:
        raise MotionFormatError(source, f"the animation has {len(clip.positions)} frame(s)")
    pos = rig.apply(np.asarray(clip.positions, np.float64))
    if not np.isfinite(pos).all() or np.abs(pos).max() > 1e7:
        raise MotionFormatError(source, "joint positions are not finite or absurdly large")
    target = float(target_fps or TARGET_FPS)
    pos = resample(pos, source_fps, target)
    scale = metres_per_unit(pos, source)
    first = int(round(clip.first_frame))
    return Motion(to_canonical_frame(pos * scale).astype(np.float32), target, source, source_fps,
                  first + len(clip.positions), first, rig.convention, scale, rig.unsure_note)


def _map_clip(clip: SceneClip, source: str, rig_overrides):
    """The clip's bone map: by names, else by the skeleton's shape in its middle frame (as
    load_motion maps a BVH file: a rest pose converted from BVH can have every bone along one
    axis), left and right from where the toes point (else Blender's forward, -Y); bones' tails are
    the tips of leaf bones, not bones."""
    if clip.parents is None or len(clip.positions) == 0:
        return map_rig(clip.names, source, overrides=rig_overrides)
    count = len(clip.names) if clip.num_bones is None else clip.num_bones
    return map_skeleton(clip.names, clip.parents,
                        lambda: np.asarray(clip.positions[len(clip.positions) // 2], np.float64), source,
                        overrides=rig_overrides, forward_hint=(0.0, -1.0, 0.0),
                        ignore=np.arange(len(clip.names)) >= count)


def _tidy_fps(fps: float) -> float:
    """30.00003 (Blender's fps / fps_base after an FBX import) -> 30.0, 120.0048 (a BVH's rounded
    frame time 0.008333, kept by Blender's import and export) -> 120.0; 29.97 stays (as runtime.io.bvh)."""
    whole = round(fps)
    return float(whole) if whole and abs(fps - whole) < 1e-3 * fps else float(fps)


def load_scene_clip(ident: str, cache_dir: str | os.PathLike, converter: Converter | None, *,
                    fps: float | None = None, rig_overrides=None, target_fps: float | None = None):
    """The canonical Motion of clip `<file>#<clip name>` (from the conversion cache when the file is
    unchanged, else converted now).

    Raises:
        MotionFormatError: the file is missing, unreadable or has no such clip; RigMappingError.
    """
    split = split_clip_id(ident)
    if split is None:
        raise MotionFormatError(ident, "not a clip of an FBX, glTF or .blend file (<file>#<clip name>)")
    path, name = split
    if not os.path.isfile(path):
        raise MotionFormatError(path, "file not found")
    converted = convert_files([(path, content_hash(path))], converter, cache_dir)[path]
    if converted.clips is None:
        raise MotionFormatError(path, converted.error)
    clip = next((c for c in converted.clips if c.name == name), None)
    if clip is None:
        have = ", ".join(repr(c.name) for c in converted.clips)
        raise MotionFormatError(path, f"no clip named '{name}' in it any more (it has {have})")
    return clip_motion(clip, ident, fps=fps, rig_overrides=rig_overrides, target_fps=target_fps)
