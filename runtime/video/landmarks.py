"""BlazePose GHUM 3D landmarks of each frame (mediapipe 0.10.14's `solutions.pose`, whose full
model ships inside its wheel: `model_complexity=1` runs offline; 0 and 2 would download one)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from .frames import VideoSupportMissing

NUM_LANDMARKS = 33


@dataclass(frozen=True, eq=False)
class Landmarks:
    """What the pose model saw, frame by frame (F frames read).

    Attributes:
        source: the video.
        frames: (F,) int frame numbers of the file.
        times: (F,) float64 seconds (the container's timestamps).
        world: (F, 33, 3) float32 metres, origin between the hips, camera axes (x right, y down,
            z away from the camera); NaN where no person was found.
        image: (F, 33, 2) float32 image position (x, y) as a fraction of the width and height; NaN likewise.
        visibility: (F, 33) float32 in [0, 1]; 0 where no person was found.
        width, height: the frames' size in pixels.
        seconds: time spent detecting.
    """

    source: str
    frames: np.ndarray
    times: np.ndarray
    world: np.ndarray
    image: np.ndarray
    visibility: np.ndarray
    width: int
    height: int
    seconds: float = 0.0

    @property
    def found(self) -> np.ndarray:
        """(F,) bool: a person was found in the frame."""
        return np.isfinite(self.world[:, 0, 0])

    def __len__(self) -> int:
        return len(self.times)


def _pose_module():
    try:
        from mediapipe.python.solutions import pose
    except ImportError as e:
        raise VideoSupportMissing("mediapipe 0.10.14") from e
    return pose


@contextlib.contextmanager
def _quiet_native_logs() -> Iterator[None]:
    """TFLite and mediapipe's C++ write log lines straight to file descriptor 2 (not Python's
    sys.stderr) at the model's start and first frames; they say nothing to a user. Python's own
    errors are raised as usual after the descriptor is back."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 (a windowed program): nothing to quiet
        yield
        return
    with open(os.devnull, "w") as null, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def detect_landmarks(frames: Iterable[tuple[int, float, np.ndarray]], source: str = "<video>",
                     progress: Callable[[int, float], None] | None = None) -> Landmarks:
    """Run BlazePose (tracking mode: each frame starts from the last one's person) on RGB frames
    as `read_frames` gives them; `progress(frames done, seconds of video)` after each."""
    pose = _pose_module()
    numbers, times, world, image, vis = [], [], [], [], []
    width = height = 0
    t0 = time.perf_counter()
    with _quiet_native_logs(), pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                   enable_segmentation=False, min_detection_confidence=0.5, min_tracking_confidence=0.5) as model:
        for number, t, rgb in frames:
            height, width = rgb.shape[:2]
            result = model.process(rgb)
            numbers.append(number)
            times.append(t)
            if result.pose_world_landmarks is None or result.pose_landmarks is None:
                world.append(np.full((NUM_LANDMARKS, 3), np.nan, np.float32))
                image.append(np.full((NUM_LANDMARKS, 2), np.nan, np.float32))
                vis.append(np.zeros(NUM_LANDMARKS, np.float32))
            else:
                world.append(np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark], np.float32))
                image.append(np.array([(p.x, p.y) for p in result.pose_landmarks.landmark], np.float32))
                vis.append(np.array([p.visibility for p in result.pose_landmarks.landmark], np.float32))
            if progress is not None:
                progress(len(times), t)
    n = len(times)
    return Landmarks(source, np.asarray(numbers, np.int64), np.asarray(times, np.float64),
                     np.asarray(world, np.float32).reshape(n, NUM_LANDMARKS, 3),
                     np.asarray(image, np.float32).reshape(n, NUM_LANDMARKS, 2),
                     np.asarray(vis, np.float32).reshape(n, NUM_LANDMARKS), width, height,
                     time.perf_counter() - t0)
