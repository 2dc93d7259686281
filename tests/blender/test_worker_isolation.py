"""The background Blender that converts FBX, glTF and .blend files (runtime.io.blender_files) is
contained: it leaves the user's Blender folders as they were (an installed extension's wheels
included), reads nothing outside the library, dies with its parent, is killed past its time budget
or stopped by its memory cap without holding up the batch, and leaves no temporary files. Real
files written by Blender's exporters from a real BVH clip; the converter is this venv's Python."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import bpy
import pytest

from runtime.hashing import content_hash
from runtime.io import blender_files, convert_files, find_converter

from .conftest import ROOT, WAVE

TINY_EXTENSION = r'''
import os, sys, tempfile, zipfile
import bpy
src = tempfile.mkdtemp(prefix="ms_tiny_ext_")
ext = os.path.join(src, "tiny_ext")
os.makedirs(os.path.join(ext, "wheels"))
with zipfile.ZipFile(os.path.join(ext, "wheels", "tinypkg-1.0-py3-none-any.whl"), "w") as z:
    z.writestr("tinypkg/__init__.py", "VALUE = 1\n")
    z.writestr("tinypkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n")
    z.writestr("tinypkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("tinypkg-1.0.dist-info/RECORD", "")
with open(os.path.join(ext, "__init__.py"), "w") as f:
    f.write("def register():\n    import tinypkg\n\n\ndef unregister():\n    pass\n")
with open(os.path.join(ext, "blender_manifest.toml"), "w") as f:
    f.write('schema_version = "1.0.0"\nid = "tiny_ext"\nversion = "1.0.0"\nname = "Tiny"\n'
            'tagline = "An extension with a wheel"\nmaintainer = "Test"\ntype = "add-on"\n'
            'blender_version_min = "4.2.0"\nlicense = ["SPDX:GPL-3.0-or-later"]\n'
            'wheels = ["./wheels/tinypkg-1.0-py3-none-any.whl"]\n')
archive = os.path.join(src, "tiny_ext.zip")
with zipfile.ZipFile(archive, "w") as zf:
    for name in ("__init__.py", "blender_manifest.toml", "wheels/tinypkg-1.0-py3-none-any.whl"):
        zf.write(os.path.join(ext, name), name)
bpy.ops.extensions.package_install_files(filepath=archive, repo="user_default", enable_on_install=True)
assert "bl_ext.user_default.tiny_ext" in bpy.context.preferences.addons
bpy.ops.wm.save_userpref()
print("INSTALLED")
sys.stdout.flush()
os._exit(0)
'''


def _quiet(op, **kw):
    with contextlib.redirect_stdout(io.StringIO()):
        assert op(**kw) == {'FINISHED'}


@pytest.fixture(scope="module")
def exported(addon, bandai2, tmp_path_factory) -> Path:
    """a.fbx, a.glb, a.gltf (+ a.bin) and a.blend: the BVH clip WAVE through Blender's exporters."""
    out = tmp_path_factory.mktemp("exported")
    bpy.ops.wm.read_homefile(use_empty=True)
    with contextlib.redirect_stdout(io.StringIO()):
        bpy.ops.import_anim.bvh(filepath=str(bandai2 / WAVE), update_scene_fps=True, update_scene_duration=True)
    _quiet(bpy.ops.export_scene.fbx, filepath=str(out / "a.fbx"), use_selection=True, bake_anim=True,
           add_leaf_bones=False)
    _quiet(bpy.ops.export_scene.gltf, filepath=str(out / "a.glb"), export_format='GLB', use_selection=True)
    _quiet(bpy.ops.export_scene.gltf, filepath=str(out / "a.gltf"), export_format='GLTF_SEPARATE',
           use_selection=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out / "a.blend"), copy=True)
    bpy.ops.wm.read_homefile(use_empty=True)
    assert (out / "a.bin").is_file()
    return out


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """This test's own system temporary folder and home folder (both empty), so that anything a
    conversion leaves behind or writes outside its own folder is seen."""
    tmp, home = tmp_path / "systmp", tmp_path / "home"
    tmp.mkdir()
    home.mkdir()
    for name in ("TMPDIR", "TEMP", "TMP"):
        monkeypatch.setenv(name, str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    yield tmp
    assert _listing(tmp) == {} and _listing(home) == {}


@pytest.fixture(scope="module")
def converter():
    conv = find_converter()
    assert conv is not None and conv.is_python  # the bpy venv's Python
    return conv


def _listing(folder: Path) -> dict[str, tuple]:
    """Every file and folder under `folder` with its size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            st = path.lstat()
            out[str(path.relative_to(folder))] = (st.st_size if name in filenames else None, st.st_mtime_ns)
    return out


def _convert(paths, converter, cache, **kw):
    return convert_files([(str(p), content_hash(p)) for p in paths], converter, cache, **kw)


def _workers() -> list[int]:
    """Pids of this process's children running blender_worker.py."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
            cmd = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"blender_worker.py" in cmd:
            out.append(int(entry))
    return out


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path("/proc", str(pid), "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # dead, waiting for its parent to reap it
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------------------------
# isolation: the user's Blender folders


def test_conversion_leaves_the_users_blender_folders_as_they_were(exported, converter, private_tmp, tmp_path,
                                                                  monkeypatch):
    """The user's Blender with an extension that has a wheel (saved preferences, extension cache):
    converting FBX, glTF and .blend files changes no file or folder there. Before the fix, the
    worker's factory-settings reset re-synced the wheels with no extension enabled and deleted them."""
    user, scratch = tmp_path / "user", tmp_path / "install_tmp"
    user.mkdir()
    scratch.mkdir()
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(user), HOME=str(scratch),
               **{name: str(scratch) for name in ("TMPDIR", "TEMP", "TMP")})
    done = subprocess.run([sys.executable, "-c", TINY_EXTENSION], capture_output=True, text=True, timeout=120,
                          env=env, cwd=tmp_path)
    assert "INSTALLED" in done.stdout, done.stdout + done.stderr
    site = next(user.glob("extensions/.local/lib/python3*/site-packages"))
    assert (site / "tinypkg" / "__init__.py").is_file() and (user / "config" / "userpref.blend").is_file()
    before = _listing(user)

    monkeypatch.setenv("BLENDER_USER_RESOURCES", str(user))  # as the user's Blender (and the add-on) has it
    monkeypatch.setenv("BLENDER_USER_CONFIG", str(user / "config"))
    monkeypatch.setenv("BLENDER_USER_EXTENSIONS", str(user / "extensions"))
    names = ["a.fbx", "a.glb", "a.gltf", "a.blend"]
    results = _convert([exported / n for n in names], converter, tmp_path / "cache")
    assert {Path(p).name: r.error for p, r in results.items()} == {n: "" for n in names}
    assert _listing(user) == before
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(  # no temporary clip files
        blender_files.cache_path(tmp_path / "cache", content_hash(exported / n)).name for n in names)


# ---------------------------------------------------------------------------------------------
# containment: what a glTF may name

def _gltf(folder: Path, name: str, buffers=(), images=()) -> Path:
    doc = {"asset": {"version": "2.0"}, "scenes": [{"nodes": []}], "scene": 0,
           "buffers": [{"uri": u, "byteLength": 16} for u in buffers], "images": [{"uri": u} for u in images]}
    path = folder / name
    path.write_text(json.dumps(doc))
    return path


def _glb(path: Path, doc: dict) -> Path:
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    body = len(text).to_bytes(4, "little") + b"JSON" + text
    path.write_bytes(b"glTF" + (2).to_bytes(4, "little") + (12 + len(body)).to_bytes(4, "little") + body)
    return path


def test_a_gltf_naming_files_outside_its_folder_is_refused(exported, converter, private_tmp, tmp_path):
    library = tmp_path / "library"
    (library / "sub").mkdir(parents=True)
    os.symlink("/dev/zero", library / "zero.bin")
    os.mkfifo(library / "pipe.bin")
    cases = {
        _gltf(library, "etc.gltf", buffers=["../../../../../../../../etc/hostname"]):
            "buffer 0 points outside the library folder ('../../../../../../../../etc/hostname'): not read",
        _gltf(library, "devzero.gltf", buffers=["/dev/zero"]): "buffer 0 points outside the library folder",
        _gltf(library, "link.gltf", buffers=["zero.bin"]): "buffer 0 points outside the library folder",
        _gltf(library, "fifo.gltf", buffers=["pipe.bin"]): "buffer 0 is not a regular file ('pipe.bin'): not read",
        _gltf(library, "image.gltf", images=["data:image/png;base64,AAAA", "%2E%2E/%2E%2E/secret.png"]):
            "image 1 points outside the library folder",
        _gltf(library, "web.gltf", buffers=["http://example.com/a.bin"]): "buffer 0 is not a file beside it",
        _glb(library / "outside.glb", {"asset": {"version": "2.0"}, "buffers": [{"uri": "/etc/passwd",
                                                                                 "byteLength": 4}]}):
            "buffer 0 points outside the library folder ('/etc/passwd')",
    }
    # a real glTF in a sub-folder whose buffer is one folder up: outside its own folder, inside the library
    moved = library / "sub" / "a.gltf"
    doc = json.loads((exported / "a.gltf").read_text())
    doc["buffers"][0]["uri"] = "../a.bin"
    moved.write_text(json.dumps(doc))
    (library / "a.bin").write_bytes((exported / "a.bin").read_bytes())
    cases[moved] = "buffer 0 points outside the library folder ('../a.bin')"

    t0 = time.monotonic()
    results = _convert(list(cases), converter, tmp_path / "cache")
    took = time.monotonic() - t0
    for path, want in cases.items():
        assert want in results[str(path)].error, (path.name, results[str(path)].error)
    assert took < 60  # nothing was read from /dev/zero or the FIFO
    allowed = _convert([moved], converter, tmp_path / "cache", roots=[str(library)])[str(moved)]
    assert allowed.error == "" and [c.name for c in allowed.clips]


def test_damaged_gltf_files_each_get_their_error(exported, converter, private_tmp, tmp_path):
    """Importer output never hides a result (it went to stdout mid-line before): every damaged file
    is reported, and the good file after them is converted."""
    library = tmp_path / "library"
    library.mkdir()
    good = (exported / "a.glb").read_bytes()
    files = []
    for k, cut in enumerate((12, 100, len(good) // 3, len(good) - 7)):
        files.append(library / f"cut{k}.glb")
        files[-1].write_bytes(good[:cut])
    flipped = bytearray(good)
    flipped[40:60] = b"\xff" * 20
    files.append(library / "flipped.glb")
    files[-1].write_bytes(bytes(flipped))
    files.append(library / "garbage.gltf")
    files[-1].write_text('{"asset": {"version": "2.0"}, "buffers": [')
    files.append(library / "good.glb")
    files[-1].write_bytes(good)
    results = _convert(files, converter, tmp_path / "cache")
    assert sorted(results) == sorted(str(f) for f in files)
    for f in files[:-1]:
        assert results[str(f)].clips is None and results[str(f)].error, f.name
    assert results[str(files[-1])].error == "" and results[str(files[-1])].clips


# ---------------------------------------------------------------------------------------------
# containment: time, memory, the parent's death


def test_a_hung_file_is_killed_and_the_batch_goes_on(exported, converter, private_tmp, tmp_path, monkeypatch):
    """The worker is frozen (SIGSTOP) while it reads the second file: past the time budget it is
    killed, that file reported, and the files after it converted by a new Blender."""
    monkeypatch.setattr(blender_files, "FILE_TIMEOUT_S", 8.0)
    names = ["a.fbx", "a.glb", "a.blend", "a.gltf"]
    frozen = []

    def progress(done, total, message):
        if done == 1 and not frozen:
            frozen.extend(_workers())
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)

    t0 = time.monotonic()
    results = _convert([exported / n for n in names], converter, tmp_path / "cache", progress=progress)
    took = time.monotonic() - t0
    assert len(frozen) == 1 and _gone(frozen[0], 5)
    errors = {Path(p).name: r.error for p, r in results.items()}
    hung = [n for n, e in errors.items() if e]
    assert len(hung) == 1 and errors[hung[0]] == "Blender took more than 8 s on this file: skipped", errors
    assert hung[0] in ("a.glb", "a.blend")  # the file it was reading when frozen
    assert 8 <= took < 40 and not _workers()
    assert not list((tmp_path / "cache").glob("*.tmp.npz"))


def test_the_memory_cap_fails_the_file_not_the_batch(exported, converter, private_tmp, tmp_path, monkeypatch):
    """A glTF whose (sparse, 4 GiB) buffer the importer reads whole: with a 1 GiB cap on the worker's
    address space the read fails (the importer reports the buffer as missing), and the next file
    converts in the same Blender."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the memory cap is Linux only")
    monkeypatch.setattr(blender_files, "MEMORY_LIMIT_BYTES", 1 << 30)
    library = tmp_path / "library"
    library.mkdir()
    doc = json.loads((exported / "a.gltf").read_text())
    big = 4 << 30
    with open(library / "big.bin", "wb") as f:
        f.write((exported / "a.bin").read_bytes())
        f.truncate(big)  # sparse: no disk used
    doc["buffers"][0].update(uri="big.bin", byteLength=big)
    (library / "big.gltf").write_text(json.dumps(doc))
    limits = []

    def progress(done, total, message):
        for pid in _workers():
            for line in Path("/proc", str(pid), "limits").read_text().splitlines():
                if line.startswith("Max address space"):
                    limits.append(line.split()[3])

    results = _convert([library / "big.gltf", exported / "a.fbx"], converter, tmp_path / "cache", progress=progress)
    assert limits and all(v.isdigit() and int(v) < (4 << 30) for v in limits), limits  # start-up + 1 GiB
    big_error = results[str(library / "big.gltf")].error
    assert big_error in ("Missing resource, 'big.bin'.", "out of memory (the conversion's memory cap was reached)") \
        or big_error.startswith("Blender stopped while reading this file"), big_error
    assert results[str(exported / "a.fbx")].error == ""


_PARENT = textwrap.dedent('''
    import os, sys, time
    from runtime.hashing import content_hash
    from runtime.io import convert_files, find_converter
    files = [(p, content_hash(p)) for p in sys.argv[2:]]

    def progress(done, total, message):
        if done == 2:
            print("WORKER", [int(e) for e in os.listdir("/proc") if e.isdigit() and _child(e)], flush=True)
            time.sleep(600)  # killed here

    def _child(pid):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            return False
        return int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid()

    convert_files(files, find_converter(), sys.argv[1], progress=progress)
''')


def test_the_worker_dies_with_its_parent(exported, converter, private_tmp, tmp_path):
    """A conversion of 40 files whose parent is killed (SIGKILL) after two: its Blender ends within
    seconds, not after the other 38; the run folder it left is swept by the next conversion."""
    library = tmp_path / "library"
    library.mkdir()
    for k in range(40):
        os.symlink(exported / "a.fbx", library / f"take{k:02d}.fbx")
    files = sorted(str(p) for p in library.iterdir())
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, str(tmp_path / "cache"), *files],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = parent.stdout.readline()
    assert line.startswith("WORKER"), line
    (worker,) = json.loads(line.split(None, 1)[1])
    parent.kill()
    parent.wait()
    assert _gone(worker, 5)
    converted = len(list((tmp_path / "cache").glob("*.npz")))
    assert converted <= 1  # the same content: one cache file; never a temporary one left
    (left,) = private_tmp.iterdir()  # the killed parent's run folder
    assert left.name.startswith(f"{blender_files.RUN_PREFIX}{parent.pid}_")
    os.utime(left, (time.time() - 3600, time.time() - 3600))
    blender_files._sweep_stale_runs()
    assert not left.exists()


def test_the_worker_ends_at_the_end_of_its_stdin(exported, converter, private_tmp, tmp_path):
    """The watch every platform has: the worker started by hand on 40 files exits when its stdin closes."""
    events = tmp_path / "events.jsonl"
    events.write_text("")
    jobs = [{"path": str(exported / "a.fbx"), "out": str(tmp_path / f"{k}.npz"), "tmp": str(tmp_path / f"{k}.tmp.npz"),
             "root": str(exported)} for k in range(40)]
    spec = tmp_path / "jobs.json"
    spec.write_text(json.dumps({"jobs": jobs, "events": str(events), "memory_limit": None, "watch_stdin": True}))
    run = tmp_path / "run"
    env = blender_files._worker_env(str(run))
    proc = subprocess.Popen(converter.command(str(spec)), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and events.read_text().count('"done"') < 2:
        time.sleep(0.05)
    proc.stdin.close()
    assert proc.wait(timeout=5) == 3
    assert events.read_text().count('"done"') < 40
