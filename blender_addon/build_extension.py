"""Build the Motion Search Blender extension: one zip per platform and Blender Python in dist/.

    ./dev py blender_addon/build_extension.py                  everything (downloads wheels once)
    ./dev py blender_addon/build_extension.py --platforms linux-x64 --pythons 3.11   one zip
    ./dev py blender_addon/build_extension.py --validate-only  assemble with the runtime wheel only and
                                                               validate the manifest (no network; for CI)

Each Blender release bundles one Python (blender.org builds: 4.2 LTS to 5.0 Python 3.11, 5.1 and
later 3.13; Linux distributions' Blenders use the system Python), and a manifest cannot pick wheels
by Python version (Blender's `--split-platforms` splits by platform only), so one zip carrying both
Pythons' onnxruntime would be a third dead weight in any Blender. The build therefore makes one zip
per platform and Python, `motion_search-<version>-<platform>-cp311.zip`. Blender reads the Python
version from the wheels' tags, and refuses to enable a zip made for another Python ("This Python
version (3.11) isn't compatible with (3.13)"); the Blender version range stays the same for both,
so that a distribution's Blender 4.x on Python 3.13 takes the cp313 zip.

Steps, each idempotent:
  1. the `runtime` package (only it: not training/ or exporter/) as a pure-Python wheel, written
     byte-for-byte reproducibly;
  2. onnxruntime and tokenizers wheels (the versions of constraints.txt) for linux-x64, windows-x64
     and macos-arm64, CPython 3.11 (Blender 4.2 to 5.0) and 3.13 (Blender 5.1 and later), downloaded
     once into .cache/wheels/ with `pip download --only-binary=:all: --no-deps` (later builds work
     offline); numpy comes with Blender;
  3. per Python, the extension folder (.cache/extension/cp311/motion_search): the add-on's code,
     wheels/, the model bundle from models/default/ as model/ (when there is one), video-requirements.txt
     (what Install Video Support puts in a separate Python; mediapipe is not in the zip), and the
     manifest with its `wheels` and `platforms` lists written in;
  4. a check that the Linux wheels alone (plus numpy, as in Blender) import runtime, onnxruntime and
     tokenizers and run an ONNX session, so no needed dependency is missing;
  5. Blender's own extension tool (blender_ext.py, shipped in the bpy wheel) validates each folder and
     builds one zip per platform (`build --split-platforms`), named in dist/ with the Python tag.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from base64 import urlsafe_b64encode
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "blender_addon"
CACHE = ROOT / ".cache"
WHEEL_CACHE = CACHE / "wheels"
BUILD = CACHE / "extension" / "motion_search"
DIST = ROOT / "dist"
MODEL = ROOT / "models" / "default"

# Blender platform -> wheel platform tags pip may pick (pip matches tags exactly, so list the family).
PLATFORMS: dict[str, list[str]] = {
    "linux-x64": ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
    "windows-x64": ["win_amd64"],
    "macos-arm64": [f"macosx_{v}_0_arm64" for v in (15, 14, 13, 12, 11)]
    + [f"macosx_{v}_0_universal2" for v in (15, 14, 13, 12, 11)] + ["macosx_10_9_universal2"],
}
# Python -> the blender.org releases that bundle it (bpy, Blender as a module, is built for its
# Blender's Python: bpy 4.2 to 5.0 require Python 3.11; Blender 5.1 moved to 3.13).
BLENDER_PYTHONS = {"3.11": "Blender 4.2 to 5.0", "3.13": "Blender 5.1 and later"}
PYTHONS = tuple(BLENDER_PYTHONS)
# Compiled packages Blender lacks. onnxruntime also declares flatbuffers, packaging and protobuf, but
# neither importing it nor running a session uses them (step 4 checks this on every build).
PACKAGES = ("onnxruntime", "tokenizers")
ADDON_FILES_EXCLUDED = {"build_extension.py"}
# The pins of the separate Python that reads films (docs/VIDEO.md); a text file, mediapipe stays out of the zip.
VIDEO_REQUIREMENTS = "video-requirements.txt"


def log(msg: str) -> None:
    print(f"[build] {msg}", flush=True)


def pinned(name: str) -> str:
    """`name==version` from constraints.txt (the versions the tests run with)."""
    text = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    m = re.search(rf"^{re.escape(name)}==(\S+)", text, re.MULTILINE)
    if not m:
        raise SystemExit(f"constraints.txt does not pin {name}")
    return f"{name}=={m.group(1)}"


# ---------------------------------------------------------------------------------------------
# 1. the runtime wheel

def _record_hash(data: bytes) -> str:
    return "sha256=" + urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_runtime_wheel(out_dir: Path) -> Path:
    """runtime/ as `motion_search_runtime-<version>-py3-none-any.whl`, with fixed timestamps so an
    unchanged package gives the same bytes."""
    sys.path.insert(0, str(ROOT))
    from runtime import __version__

    name = "motion_search_runtime"
    dist_info = f"{name}-{__version__}.dist-info"
    files: list[tuple[str, bytes]] = []
    for path in sorted((ROOT / "runtime").rglob("*")):
        rel = path.relative_to(ROOT).as_posix()
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".json", ".onnx"):
            files.append((rel, path.read_bytes()))
    metadata = (f"Metadata-Version: 2.1\nName: motion-search-runtime\nVersion: {__version__}\n"
                "Summary: Torch-free motion search runtime (motion import, ONNX encoders, index, search)\n"
                "Requires-Python: >=3.11\nRequires-Dist: numpy>=1.26\nRequires-Dist: onnxruntime>=1.20\n"
                "Requires-Dist: tokenizers>=0.19\n")
    wheel = "Wheel-Version: 1.0\nGenerator: motion_search build_extension\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files += [(f"{dist_info}/METADATA", metadata.encode()), (f"{dist_info}/WHEEL", wheel.encode())]
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in files) + f"{dist_info}/RECORD,,\n"
    files.append((f"{dist_info}/RECORD", record.encode()))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}-{__version__}-py3-none-any.whl"
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in files:
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    os.replace(tmp, target)
    return target


# ---------------------------------------------------------------------------------------------
# 2. third-party wheels

def _pip_download(dest: Path, python: str, tags: list[str], offline: bool) -> bool:
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps", "--dest", str(dest),
           "--python-version", python, "--implementation", "cp",
           "--abi", "cp" + python.replace(".", ""), "--abi", "abi3", "--abi", "none"]
    for tag in tags:
        cmd += ["--platform", tag]
    if offline:
        cmd += ["--no-index", "--find-links", str(dest)]
    cmd += [pinned(p) for p in PACKAGES]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 and not offline:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
    return done.returncode == 0


def python_tag(python: str) -> str:
    """'3.11' -> 'cp311'."""
    return "cp" + python.replace(".", "")


def download_wheels(python: str, platforms: list[str]) -> list[Path]:
    """The pinned wheels of PACKAGES for `platforms` and one Python, from the cache when already there."""
    pins = {p.replace("-", "_"): pinned(p).split("==")[1] for p in PACKAGES}
    wheels: list[Path] = []
    for platform in platforms:
        dest = WHEEL_CACHE / platform / python_tag(python)
        dest.mkdir(parents=True, exist_ok=True)
        if not _pip_download(dest, python, PLATFORMS[platform], offline=True):
            log(f"downloading {', '.join(PACKAGES)} for {platform}, Python {python}")
            if not _pip_download(dest, python, PLATFORMS[platform], offline=False):
                raise SystemExit(f"pip could not download wheels for {platform}, Python {python}")
        for whl in sorted(dest.glob("*.whl")):
            name, version = whl.name.split("-")[:2]
            if pins.get(name.lower()) == version:  # not a wheel of an older pin left in the cache
                wheels.append(whl)
    return sorted(wheels, key=lambda w: w.name)


# ---------------------------------------------------------------------------------------------
# 3. the extension folder

def write_manifest(source: Path, target: Path, wheels: list[str], platforms: list[str]) -> None:
    """The source manifest with `platforms` and `wheels` written in (top-level keys, before any table)."""
    lines = [ln for ln in source.read_text(encoding="utf-8").splitlines()
             if not re.match(r"\s*(platforms|wheels)\s*=", ln)]
    first_table = next((i for i, ln in enumerate(lines) if ln.startswith("[")), len(lines))
    generated = ["platforms = [" + ", ".join(f'"{p}"' for p in platforms) + "]",
                 "wheels = [", *[f'  "./wheels/{w}",' for w in wheels], "]", ""]
    target.write_text("\n".join(lines[:first_table] + generated + lines[first_table:]) + "\n", encoding="utf-8")


def assemble(wheels: list[Path], folder: Path = BUILD, with_model: bool = True,
             platforms: list[str] | None = None) -> Path:
    """A fresh extension folder: add-on code, wheels/, model/ and the manifest."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "wheels").mkdir(parents=True)
    for path in sorted(ADDON.iterdir()):
        if path.is_file() and path.suffix == ".py" and path.name not in ADDON_FILES_EXCLUDED:
            shutil.copy2(path, folder / path.name)
    for whl in wheels:
        shutil.copy2(whl, folder / "wheels" / whl.name)
    shutil.copy2(ROOT / VIDEO_REQUIREMENTS, folder / VIDEO_REQUIREMENTS)  # for Find Similar to Video's Python
    if with_model and MODEL.is_dir() and any(MODEL.iterdir()):
        shutil.copytree(MODEL, folder / "model", ignore=shutil.ignore_patterns("__pycache__", ".*"))
    write_manifest(ADDON / "blender_manifest.toml", folder / "blender_manifest.toml",
                   [w.name for w in wheels], platforms or list(PLATFORMS))
    return folder


# ---------------------------------------------------------------------------------------------
# 4. the wheels are enough

CHECK = r"""
import sys
import numpy as np, onnxruntime as ort, tokenizers, runtime
import runtime.motion, runtime.model, runtime.index, runtime.search, runtime.retarget, runtime.describe
from onnx_model import path
out = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": np.array([[-1.0, 2.0]], np.float32)})
assert out[0].tolist() == [[0.0, 2.0]], out
print("imports ok:", ort.__version__, tokenizers.__version__, runtime.__version__)
"""

# A one-node ONNX model, as bytes, so that the check needs no `onnx` package.
_RELU_ONNX = bytes.fromhex(  # onnx.helper: Relu, x float[1, 2] -> y, opset 13, IR 7; checked by onnx.checker
    "08073a3b0a0c0a0178120179220452656c751201675a130a0178120e0a0c080112080a0208010a02080262130a0179"
    "120e0a0c080112080a0208010a02080242040a00100d")


def check_imports(wheels: list[Path], python: str) -> None:
    """Import the bundled packages from the Linux wheels (for `python`) alone (numpy aside), as Blender would."""
    tags = (python_tag(python), "abi3")
    chosen = [w for w in wheels if "py3-none-any" in w.name or ("x86_64" in w.name and "manylinux" in w.name
                                                                 and any(t in w.name for t in tags))]
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if not (sys.platform.startswith("linux") and os.uname().machine == "x86_64" and running == python
            and any("onnxruntime" in w.name for w in chosen)):
        log(f"skipping the import check of the Python {python} wheels (it runs on Linux x86_64 with Python {python},"
            " with the linux-x64 wheels)")
        return
    import numpy

    with tempfile.TemporaryDirectory(prefix="ms_ext_check_") as tmp:
        site, npdir = Path(tmp, "site"), Path(tmp, "np")
        site.mkdir()
        npdir.mkdir()
        for whl in chosen:
            with zipfile.ZipFile(whl) as zf:
                zf.extractall(site)
        np_root = Path(numpy.__file__).resolve().parent
        for entry in [np_root] + [p for p in np_root.parent.glob("numpy.libs")]:
            os.symlink(entry, npdir / entry.name)
        Path(tmp, "relu.onnx").write_bytes(_RELU_ONNX)
        Path(tmp, "onnx_model.py").write_text(f"path = {str(Path(tmp, 'relu.onnx'))!r}\n")
        code = f"import sys; sys.path[:0] = [{str(site)!r}, {str(npdir)!r}, {tmp!r}]\n" + CHECK
        done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=tmp)
        if done.returncode != 0:
            raise SystemExit("the bundled wheels do not import on their own:\n" + done.stderr[-4000:])
        log(done.stdout.strip())


# ---------------------------------------------------------------------------------------------
# 5. Blender's extension tool

def find_blender_ext() -> Path:
    """blender_ext.py from a bpy install (BLENDER_EXT overrides): the newest Blender's copy."""
    if os.environ.get("BLENDER_EXT"):
        return Path(os.environ["BLENDER_EXT"])
    pattern = "lib/python3.*/site-packages/bpy/*/scripts/addons_core/bl_pkg/cli/blender_ext.py"
    found = glob.glob(os.path.join(sys.prefix, pattern))  # the running bpy's own tool first
    found = found or glob.glob(str(ROOT / ".venvs" / "bpy-*" / pattern))
    if not found:
        raise SystemExit("blender_ext.py not found: run ./dev setup (it installs bpy), or set BLENDER_EXT")

    def version(p: str) -> tuple[int, ...]:
        m = re.search(r"/bpy/(\d+)\.(\d+)/", p)
        return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    return Path(max(found, key=version))


def blender_ext(*args: str) -> str:
    tool = find_blender_ext()
    done = subprocess.run([sys.executable, str(tool), *args], capture_output=True, text=True)
    out = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise SystemExit(f"blender_ext.py {args[0]} failed:\n{out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--validate-only", action="store_true",
                        help="assemble with the runtime wheel only (no downloads, no model) and validate")
    parser.add_argument("--work-dir", type=Path, default=None, help="where to assemble (default .cache/extension)")
    parser.add_argument("--out-dir", type=Path, default=DIST, help="where the zips go (default dist/)")
    parser.add_argument("--platforms", nargs="+", choices=list(PLATFORMS), default=list(PLATFORMS),
                        help="Blender platforms to build for (default: all)")
    parser.add_argument("--pythons", nargs="+", choices=PYTHONS, default=list(PYTHONS),
                        help="Blender Pythons to build for (default: all; 3.11: Blender 4.2 to 5.0, 3.13: 5.1 on)")
    args = parser.parse_args(argv)

    work = args.work_dir or BUILD.parent
    runtime_wheel = build_runtime_wheel(work / "runtime-wheel")
    log(f"runtime wheel: {runtime_wheel.name} ({runtime_wheel.stat().st_size / 1e3:.0f} kB)")
    if args.validate_only:
        folder = assemble([runtime_wheel], work / "motion_search", with_model=False)
        log(blender_ext("validate", str(folder)).splitlines()[-1])
        log(f"validated {folder}")
        return 0

    platforms = [p for p in PLATFORMS if p in args.platforms]
    folders = {}
    for python in args.pythons:
        wheels = [runtime_wheel] + download_wheels(python, platforms)
        for w in wheels[1:]:
            log(f"wheel: {w.name} ({w.stat().st_size / 1e6:.1f} MB)")
        check_imports(wheels, python)
        folder = assemble(wheels, work / python_tag(python) / "motion_search", platforms=platforms)
        log(blender_ext("validate", str(folder)).splitlines()[-1])
        folders[python] = folder
    if not (folder / "model").is_dir():
        log(f"note: no model bundle in {MODEL.relative_to(ROOT)}; the extension will ask for one in its preferences")
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("motion_search-*.zip"):
        old.unlink()
    for python, folder in folders.items():
        split = folder.parent / "zips"  # Blender's tool names a zip by platform only: add the Python tag
        shutil.rmtree(split, ignore_errors=True)
        split.mkdir()
        blender_ext("build", "--source-dir", str(folder), "--output-dir", str(split), "--split-platforms")
        for z in sorted(split.glob("motion_search-*.zip")):
            target = out / f"{z.stem}-{python_tag(python)}.zip"
            os.replace(z, target)
            log(f"built {target} ({target.stat().st_size / 1e6:.1f} MB): Python {python}, "
                f"{BLENDER_PYTHONS[python]} from blender.org")
    return 0


if __name__ == "__main__":
    sys.exit(main())
