"""Video -> motion: a film of one person as a canonical `Motion`, for searching the library with it.

    frames (a video file, or a folder of images with a stated rate) -> BlazePose GHUM 3D landmarks
    (mediapipe, run offline from its wheel) -> mirrored stretches mended -> the canonical 22 joints
    -> placed in the camera's space from the 2D landmarks -> levelled by the body -> resampled and
    smoothed -> `Motion`

mediapipe and OpenCV are imported only when frames are read or landmarks detected: without them
the rest of `runtime` works, and asking for video says how to install it (`VideoSupportMissing`).

May import: runtime.motion, runtime.retarget, runtime.io, runtime.errors.
"""

from .body import BLAZEPOSE, canonical_joints, level, place_in_camera
from .extract import VideoMotion, motion_from_landmarks, video_motion
from .frames import IMAGE_SUFFIXES, VIDEO_SUFFIXES, VideoError, VideoSupportMissing, is_video, read_frames
from .landmarks import Landmarks, detect_landmarks
from .mirror import Mirrored, find_mirrored, mend_mirrored
from .skeleton import canonical_skeleton, video_bvh
