"""Without mediapipe (the main environment), runtime still imports and video commands say how to get it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mediapipe") is not None,
                                reason="this environment has video support (tests/video covers it)")


def test_video_commands_say_how_to_install_video_support(tmp_path):
    film = tmp_path / "film.mp4"
    film.write_bytes(b"\x00" * 64)
    for args in (["video", str(film), "--out", str(tmp_path / "o.bvh")],
                 ["search", "--like-video", str(film), "--index", str(tmp_path / "none")]):
        done = subprocess.run([sys.executable, "-m", "runtime", *args], capture_output=True, text=True)
        assert done.returncode == 1
        err = done.stderr.strip().splitlines()[-1]
        if args[0] == "video":
            assert err.startswith("error: video support is not installed here") and "./dev setup-video" in err
            assert "video-requirements.txt" in err
        else:  # the index is checked before the film is read
            assert "none" in err


def test_runtime_video_imports_without_mediapipe():
    import runtime.video as video

    assert "mediapipe" not in sys.modules and callable(video.video_motion)
