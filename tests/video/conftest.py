"""Video tests: run in the video environment (`.venvs/video/bin/python -m pytest tests/video`).

Real films: the Pose2Sim demo (one person, 4 calibrated cameras, 60 fps; BSD-3-Clause), taken out
of its PyPI wheel into the cache (never committed). The wheel is looked for in <cache>/wheels,
else fetched with `pip download`; where neither works the tests that need it skip, saying so.
Rendered films: a Bandai-Namco clip rendered by bench/render_clip.py under headless Blender
(.venvs/bpy-4.5), with its true joints.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from runtime import shared_data

os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ log lines
ROOT = Path(__file__).resolve().parents[2]
POSE2SIM = "Pose2Sim==0.10.49"
WHEEL = "pose2sim-0.10.49-py3-none-any.whl"
DEMO = "Pose2Sim/Demo_SinglePerson"
BPY = ROOT / ".venvs" / "bpy-4.5" / "bin" / "python"


@pytest.fixture(scope="session", autouse=True)
def _video_support():
    try:
        import cv2  # noqa: F401
        from mediapipe.python.solutions import pose  # noqa: F401
    except ImportError:
        pytest.fail("tests/video run in the video environment: .venvs/video/bin/python -m pytest tests/video "
                    "(./dev setup-video makes it)")


def _from_wheel(requirement: str, wheel_name: str, members: list[str]) -> Path:
    """The files `members` of a PyPI wheel, taken out into <cache>/video/demo (the wheel from
    <cache>/wheels, else downloaded there); skips the test, saying why, when neither works."""
    out = shared_data.cache_dir() / "video" / "demo"
    if all((out / m).is_file() for m in members):
        return out
    wheels = shared_data.cache_dir() / "wheels"
    wheel = wheels / wheel_name
    if not wheel.is_file():
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", requirement, "-d", str(wheels)],
                              capture_output=True, text=True)
        if done.returncode != 0 or not wheel.is_file():
            pytest.skip(f"the {requirement} wheel is not in {wheels} and pip could not download it: "
                        f"{(done.stderr.strip().splitlines() or [''])[-1]}")
    with zipfile.ZipFile(wheel) as z:
        for name in members:
            z.extract(name, out)
    return out


@pytest.fixture(scope="session")
def pose2sim_demo() -> Path:
    """The Pose2Sim single-person demo folder (videos/cam01-04.mp4, calibration/Calib.qca.txt)."""
    members = [f"{DEMO}/videos/cam0{k}.mp4" for k in range(1, 5)] + [f"{DEMO}/calibration/Calib.qca.txt"]
    return _from_wheel(POSE2SIM, WHEEL, members) / DEMO


@pytest.fixture(scope="session")
def sports2d_demo() -> Path:
    """Sports2D's demo film: two people outdoors, 1768x994, 30 fps, 230 frames."""
    member = "Sports2D/Demo/demo.mp4"
    return _from_wheel("Sports2D==0.8.34", "sports2d-0.8.34-py3-none-any.whl", [member]) / member


@pytest.fixture(scope="session")
def cam01(pose2sim_demo) -> Path:
    return pose2sim_demo / "videos" / "cam01.mp4"


@pytest.fixture(scope="session")
def rendered_wave(tmp_path_factory) -> tuple[Path, Path]:
    """A right-hand wave (Bandai-Namco 2, test split) rendered from the front: (video, truth .npy)."""
    if not BPY.is_file():
        pytest.skip(f"rendering needs headless Blender: {BPY} (./dev setup makes it)")
    clip = shared_data.extracted("bandai-namco-2") / "data" / "dataset-2_wave-right-hand_normal_008.bvh"
    out = tmp_path_factory.mktemp("rendered") / "wave"
    subprocess.run([str(BPY), str(ROOT / "bench" / "render_clip.py"), str(clip), str(out), "--views", "0",
                    "--seconds", "3", "--truth", f"{out}.npy"], check=True, capture_output=True, text=True)
    return Path(f"{out}_0.mp4"), Path(f"{out}.npy")


def pytest_configure(config):
    # protobuf 4 warns about mediapipe's use of an old call; nothing to act on here
    config.addinivalue_line("filterwarnings", "ignore:SymbolDatabase.GetPrototype:UserWarning")
