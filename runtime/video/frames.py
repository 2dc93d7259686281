"""Frames and their times from a video file (the container's timestamps) or a folder of images
(a rate must be given: an image has no time)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import MotionFormatError, MotionSearchError

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
SETUP_HINT = ("install video support: `./dev setup-video` in the project (it makes .venvs/video), or "
              "`pip install --no-deps -r video-requirements.txt` into a Python 3.11 or 3.12 environment")


class VideoError(MotionFormatError):
    """A video (or image folder) that gives no motion: unreadable, empty, no person in it."""


class VideoSupportMissing(MotionSearchError):
    """mediapipe or OpenCV is not installed in this Python."""

    def __init__(self, missing: str):
        super().__init__(f"video support is not installed here ({missing} is missing): {SETUP_HINT}")


def cv2_module():
    try:
        import cv2
    except ImportError as e:
        raise VideoSupportMissing("opencv-python-headless") from e
    return cv2


def is_video(path: str | os.PathLike) -> bool:
    """A file with a video suffix, or a folder holding images."""
    p = Path(path)
    if p.is_dir():
        return any(f.suffix.lower() in IMAGE_SUFFIXES for f in p.iterdir())
    return p.suffix.lower() in VIDEO_SUFFIXES


def read_frames(path: str | os.PathLike, *, fps: float | None = None, start: float | None = None,
                end: float | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame number, seconds, RGB image) of each frame from `start` to `end` seconds (both included).

    A video's times are its container's timestamps (a variable-rate phone video keeps its real
    times); `fps` overrides them with a fixed rate. An image folder (its files in name order) needs `fps`.

    Raises:
        VideoError: naming the file: missing, not readable as video, no frames in the range.
        VideoSupportMissing: OpenCV is not installed.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise VideoError(path, "no such file or folder")
    if start is not None and end is not None and end <= start:
        raise VideoError(path, f"--end {end:g} s must come after --start {start:g} s")
    cv2 = cv2_module()
    count = 0
    frames = _folder_frames(path, fps, cv2) if os.path.isdir(path) else _video_frames(path, fps, cv2)
    for number, t, bgr in frames:
        if start is not None and t < start - 1e-6:
            continue
        if end is not None and t > end + 1e-6:
            break
        count += 1
        yield number, t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if not count:
        where = "" if start is None and end is None else f" between {start or 0:g} s and " + \
            (f"{end:g} s" if end is not None else "the end")
        raise VideoError(path, f"no frames{where}")


def _video_frames(path: str, fps: float | None, cv2):
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise VideoError(path, "cannot be read as a video (not a video file, or a codec OpenCV lacks)")
        number = 0
        last = -1.0
        while True:
            ok, bgr = cap.read()
            if not ok:
                if number == 0:
                    raise VideoError(path, "cannot be read as a video: no frame could be decoded")
                return
            if fps:
                t = number / fps
            else:
                t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                if not t > last:  # a container without usable timestamps: its stated rate
                    rate = cap.get(cv2.CAP_PROP_FPS)
                    t = number / rate if rate and rate > 0 else last + 1 / 30
            last = t
            yield number, t, bgr
            number += 1
    finally:
        cap.release()


def _folder_frames(path: str, fps: float | None, cv2):
    files = sorted(f for f in Path(path).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise VideoError(path, f"the folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
    if not fps:
        raise VideoError(path, "a folder of images has no frame times: give its frame rate (--fps)")
    for number, f in enumerate(files):
        bgr = cv2.imread(str(f))
        if bgr is None:
            raise VideoError(str(f), "cannot be read as an image")
        yield number, number / fps, bgr
