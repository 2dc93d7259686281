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
    # video support stays out of the zip: only the pins Install Video Support uses
    assert "mediapipe==0.10.14" in (folder / "video-requirements.txt").read_text()
    assert not any("mediapipe" in w or "opencv" in w for w in manifest["wheels"])
    names = zipfile.ZipFile(wheel).namelist()
    assert "runtime/motion/canonical.py" in names and "runtime/io/bvh.py" in names
    assert "runtime/describe/__init__.py" in names  # Describe Action and the result descriptions
    assert all(n.startswith(("runtime/", "motion_search_runtime-0.1.0.dist-info/")) for n in names)
    assert not any("__pycache__" in n for n in names)
    # a pure wheel imports straight from the zip (ahead of the repo's editable install)
    code = f"import sys; sys.path.insert(0, {str(wheel)!r}); import runtime.motion, runtime.motion.rigs; print(runtime.motion.rigs.__file__)"
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


_INSTALL = r"""
import glob, os, sys, tempfile
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="ms_zip_user_")
import bpy
for k, z in enumerate(sys.argv[1:]):  # each zip into its own repository
    repo_dir = tempfile.mkdtemp(prefix="ms_zip_repo_")
    bpy.context.preferences.extensions.repos.new(name=f"ms_zip{k}", module=f"ms_zip{k}", custom_directory=repo_dir,
                                                 source='USER')
    try:
        bpy.ops.extensions.package_install_files(filepath=z, repo=f"ms_zip{k}", enable_on_install=True)
    except RuntimeError as e:
        print("REFUSED", os.path.basename(z), e)
    print("ENABLED", os.path.basename(z), f"bl_ext.ms_zip{k}.motion_search" in bpy.context.preferences.addons)
site = bpy.utils.user_resource('EXTENSIONS', path=".local")
print("ORT", sorted(os.path.basename(p) for p in glob.glob(site + "/lib/python3*/site-packages/onnxruntime/capi/*.so")))
import runtime
print("RUNTIME", runtime.__file__.startswith(site))
sys.stdout.flush()
os._exit(0)
"""


def test_one_zip_per_blender_python_installs_in_its_blender(tmp_path):
    """Linux zips for Python 3.11 and 3.13, each with its own onnxruntime only; this Blender (Python
    3.11) installs and enables the cp311 zip from disk, wheels and all, and refuses the cp313 one."""
    out = tmp_path / "dist"
    done = subprocess.run([sys.executable, str(ROOT / "blender_addon" / "build_extension.py"), "--platforms",
                           "linux-x64", "--work-dir", str(tmp_path / "work"), "--out-dir", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imports ok" in done.stdout  # the cp311 wheels alone run an ONNX session
    zips = sorted(p.name for p in out.iterdir())
    assert zips == ["motion_search-0.1.0-linux_x64-cp311.zip", "motion_search-0.1.0-linux_x64-cp313.zip"]
    for name in zips:
        tag = name[-9:-4]
        with zipfile.ZipFile(out / name) as zf:
            manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
            wheels = [n for n in zf.namelist() if n.startswith("wheels/")]
            assert "model/manifest.json" in zf.namelist()
        assert manifest["blender_version_min"] == "4.2.0" and manifest["platforms"] == ["linux-x64"]
        assert sorted(w.removeprefix("./") for w in manifest["wheels"]) == sorted(wheels)
        ort = [w for w in wheels if w.startswith("wheels/onnxruntime-")]
        assert len(ort) == 1 and f"-{tag}-{tag}-manylinux" in ort[0], wheels
        assert all("win_amd64" not in w and "macosx" not in w for w in wheels)
    assert sys.version_info[:2] == (3, 11)  # Blender 4.5 and 5.0 (bpy requires Python 3.11)
    cp311, cp313 = (str(out / z) for z in zips)
    done = subprocess.run([sys.executable, "-c", _INSTALL, cp313, cp311], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)  # not the repo: `runtime` must come from the zip
    log = done.stdout + done.stderr
    assert done.returncode == 0, log
    # Blender's own refusal, from the wheels' tags
    assert "REFUSED motion_search-0.1.0-linux_x64-cp313.zip" in log and "isn't compatible with (3.13)" in log
    assert "ENABLED motion_search-0.1.0-linux_x64-cp313.zip False" in log
    assert "REFUSED motion_search-0.1.0-linux_x64-cp311.zip" not in log
    assert "ENABLED motion_search-0.1.0-linux_x64-cp311.zip True" in log
    assert "RUNTIME True" in log  # the runtime comes from the zip's wheel
    assert "cpython-311-x86_64-linux-gnu.so" in log.split("ORT", 1)[1].splitlines()[0], log
