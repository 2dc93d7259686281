"""The extension build: the runtime wheel holds the runtime only, and Blender's tool validates the folder."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile

from .conftest import ROOT


def test_validate_only_build(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "blender_addon" / "build_extension.py"), "--validate-only",
                           "--work-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success parsing TOML" in done.stdout
    folder = tmp_path / "motion_search"
    manifest = tomllib.loads((folder / "blender_manifest.toml").read_text())
    assert manifest["id"] == "motion_search" and manifest["blender_version_min"] == "4.2.0"
    assert manifest["platforms"] == ["linux-x64", "windows-x64", "macos-arm64"]
    wheel = folder / manifest["wheels"][0]
    assert manifest["wheels"] == ["./wheels/motion_search_runtime-0.1.0-py3-none-any.whl"] and wheel.is_file()
    assert not (folder / "build_extension.py").exists() and (folder / "__init__.py").is_file()
    names = zipfile.ZipFile(wheel).namelist()
    assert "runtime/motion.py" in names and "runtime/io/bvh.py" in names
    assert "runtime/describe/__init__.py" in names  # Describe Action and the result descriptions
    assert all(n.startswith(("runtime/", "motion_search_runtime-0.1.0.dist-info/")) for n in names)
    assert not any("__pycache__" in n for n in names)
    # a pure wheel imports straight from the zip (ahead of the repo's editable install)
    code = f"import sys; sys.path.insert(0, {str(wheel)!r}); import runtime.motion, runtime.rigs; print(runtime.rigs.__file__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and str(wheel) in out.stdout, out.stderr


def test_runtime_wheel_is_reproducible(tmp_path):
    sys.path.insert(0, str(ROOT / "blender_addon"))
    try:
        import build_extension
    finally:
        sys.path.remove(str(ROOT / "blender_addon"))
    a = build_extension.build_runtime_wheel(tmp_path / "a").read_bytes()
    b = build_extension.build_runtime_wheel(tmp_path / "b").read_bytes()
    assert a == b
