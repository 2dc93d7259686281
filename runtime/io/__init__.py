"""File formats: BVH and ASF/AMC read (and BVH written) in numpy into an `Animation` (a joint tree with per-frame
local transforms, in the file's own units and axes), and FBX / glTF / .blend clips read by a
background Blender (`blender_worker.py` runs inside it) into cached bone positions.

May import: runtime.errors, runtime.hashing. Nothing here knows canonical joints or rigs.
"""

from .amc import AMC_FPS, find_asf, read_amc, read_asf
from .animation import Animation, axis_rotation, euler_angles, euler_matrix
from .blender_files import (CACHE_FORMAT, NO_BLENDER, SCENE_SUFFIXES, Converted, Converter, ConverterError, SceneClip,
                            cache_path, clip_id, convert_files, converter_at, find_converter, is_scene_file,
                            read_cached, split_clip_id)
from .bvh import format_bvh, parse_bvh, read_bvh, write_bvh
