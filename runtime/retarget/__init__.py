"""Canonical joint positions onto any armature's rest pose (numpy only): the per-bone solve, where
the clip is placed, and the frame arithmetic between a file, its canonical clip and a scene. The
Blender add-on keys what `retarget` returns; `retarget_onto` writes it onto another file's BVH
skeleton (`python -m runtime retarget`).

May import: runtime.motion, runtime.io, runtime.errors.
"""

from .skeleton_file import retarget_onto, skeleton_rig
from .solve import (Placement, Plan, Rig, Tracks, align_start, continuous_quaternions, facing_yaw, from_blender,
                    is_standing, matrix_to_quaternion, place, placement, plan, retarget, solve, to_blender, tracks)
from .timing import Timing, clip_span, interpolate, scene_fps, scene_samples, source_to_scene
