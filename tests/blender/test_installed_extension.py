"""The extension as users install it: the zip built by blender_addon/build_extension.py, installed
with Blender's own installer into a Blender whose user folders are fresh and whose Python has no
project package (tests/blender/installed_journey.py runs the journey; its docstring says what)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import BOW, ROOT, WALK
from .test_scene_files import exported  # noqa: F401  (two.fbx, two.glb, two.blend from a real clip)

JOURNEY = Path(__file__).with_name("installed_journey.py")
# What Blender's own Python bundles: the journey's Python has these and bpy, nothing else.
BUNDLED = ("bpy", "numpy", "numpy.libs", "requests", "idna", "certifi", "urllib3", "charset_normalizer", "zstandard")
LIBRARY_BVH = [WALK, "dataset-2_raise-up-both-hands_normal_001.bvh", "dataset-2_run_normal_001.bvh",
               "dataset-2_wave-left-hand_normal_001.bvh"]


@pytest.fixture(scope="module")
def extension_zip(tmp_path_factory) -> Path:
    """The Linux zip for this Blender's Python (wheels from .cache/wheels, downloaded once)."""
    out = tmp_path_factory.mktemp("ext")
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    done = subprocess.run([sys.executable, str(ROOT / "blender_addon" / "build_extension.py"), "--platforms",
                           "linux-x64", "--pythons", python, "--work-dir", str(out / "work"), "--out-dir",
                           str(out / "dist")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (zip_path,) = (out / "dist").glob("motion_search-*.zip")
    return zip_path


def _shim(folder: Path) -> Path:
    """A folder with links to bpy, numpy and Blender's bundled packages from this venv."""
    import numpy

    site = Path(numpy.__file__).resolve().parents[1]
    folder.mkdir()
    for name in BUNDLED:
        if (site / name).exists():
            os.symlink(site / name, folder / name)
    return folder


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the test builds the linux-x64 zip")
def test_the_installed_extension_journey(extension_zip, exported, bandai1, bandai2, tmp_path):  # noqa: F811
    library = tmp_path / "library"
    library.mkdir()
    for name in ("two.fbx", "two.glb", "two.blend"):
        shutil.copy(exported / name, library / name)
    for name in LIBRARY_BVH:
        os.symlink(bandai2 / name, library / name)
    user, tmp, home = tmp_path / "user", tmp_path / "tmp", tmp_path / "home"
    for folder in (user, tmp, home):
        folder.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "BLENDER_", "MOTION_SEARCH_", "XDG_"))}
    env.update(BLENDER_USER_RESOURCES=str(user), HOME=str(home), TMPDIR=str(tmp), TEMP=str(tmp), TMP=str(tmp))
    out = tmp_path / "journey.json"
    done = subprocess.run([sys.executable, "-I", "-S", str(JOURNEY), str(_shim(tmp_path / "shim")), str(extension_zip),
                           str(library), str(bandai1 / BOW), str(ROOT), str(out)],
                          capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    log = done.stdout[-6000:] + done.stderr[-6000:]
    summary = json.loads(out.read_text()) if out.exists() else {}
    print(json.dumps(summary, indent=1))
    assert done.returncode == 0 and summary.get("ok"), log
    leftovers = [p.name for p in tmp.iterdir() if p.name.startswith("motion_search") or p.suffix == ".npz"]
    assert leftovers == [], leftovers  # no conversion run folder (bpy's own `blender_*` and `.ses` stay)
    # the home folder: Blender's own thumbnail cache and onnxruntime's device id (~/.cache/Microsoft) only
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    allowed = (".cache/thumbnails/", ".cache/Microsoft/DeveloperTools/.onnxruntime/")
    assert all(w.startswith(allowed) for w in written), written
