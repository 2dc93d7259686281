"""A clip as the model sees it: the canonical 22-joint skeleton, rotations and forward kinematics,
rig conventions and mapping by shape, loading any file (or converted scene clip) into a canonical
`Motion` (metres, Y up, 20 fps), and its 29 joint-angle channels over 14 body parts.

May import: runtime.io, runtime.errors, runtime.hashing. `python -m runtime.motion show` draws a clip.
"""

from .canonical import (MOTION_SUFFIXES, NOMINAL_LEG_M, TARGET_FPS, Motion, canonical_motion, clip_range, leg_length,
                        load_motion, load_motion_range, metres_per_unit, motion_from_positions, read_animation, resample, shape_pose,
                        source_range, to_canonical_frame)
from .features import (C, CHANNELS, MIRROR_PERM, MIRROR_SIGN, NUM_CHANNELS, NUM_PARTS, PART_JOINTS, PART_NAMES,
                       PART_OF_CHANNEL, PARTS, ChannelStats, Windows, clip_angles, motion_windows, window_angles,
                       window_starts)
from .kinematics import forward_kinematics, normalize, rotation_between, rotation_to_vector
from .rig_shape import RigShapeError, ShapeMap, map_shape, rest_heads
from .rigs import (CONVENTIONS, KIT_JOINTS, UNSURE_BELOW, Candidate, RigMap, load_mapping_file, map_rig, map_skeleton,
                   normalize_name)
from .scene_clip import clip_motion, load_scene_clip
from .skeleton import BONES, JOINTS, PARENTS, J, mirror_positions
