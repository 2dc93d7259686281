"""FBX, glTF/GLB and .blend clips, read by Blender itself in a background process.

Blender's own importers (and its own animation evaluation) read these files: `blender_worker.py`
runs inside a Blender started for a batch of files (start-up paid once per batch), with no window
and factory settings, so a slow import never blocks the add-on's UI and an importer crash costs one
file, not the user's session or the batch. Every armature animation in a file (an FBX take, a glTF
animation, a .blend action) is its own clip, with the id `<file>#<clip name>`.

The worker writes each file's bone positions to `<cache>/<sha1 of the file>-v<format>.npz` (the
index keeps them in its `converted/` folder); runtime.motion's `clip_motion` maps them onto the canonical joints
with the rig conventions (and the user's bone map), so a new bone map or an Apply needs no Blender.

Which Blender: `--blender PATH` (an executable, or a Python that has the `bpy` module), else the
MOTION_SEARCH_BLENDER environment variable, else `blender` on PATH, else this Python when it has
the bpy module (`pip install .[blender]`). The add-on passes its own executable (bpy.app.binary_path).
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import MotionSearchError

SCENE_SUFFIXES = (".fbx", ".glb", ".gltf", ".blend")
WORKER = Path(__file__).with_name("blender_worker.py")
MARKER = "@@motion_search "  # blender_worker.MARKER
CACHE_FORMAT = 3  # blender_worker.FORMAT
FILE_TIMEOUT_S = 600.0  # one file's import and sampling; past it the file is reported and skipped
NO_BLENDER = "not read: no Blender found (give --blender PATH, set MOTION_SEARCH_BLENDER, or put blender on PATH)"


class ConverterError(MotionSearchError):
    """No usable Blender (a --blender path that does not exist or cannot be run)."""


@dataclass(frozen=True)
class Converter:
    """How to start the worker: a Blender executable, or a Python interpreter with the bpy module."""

    executable: str
    is_python: bool = False

    def command(self, jobs_file: str) -> list[str]:
        if self.is_python:
            return [self.executable, str(WORKER), "--jobs", jobs_file]
        return [self.executable, "-b", "--factory-startup", "--python", str(WORKER), "--", "--jobs", jobs_file]

    def __str__(self) -> str:
        return f"{self.executable} ({'Python with bpy' if self.is_python else 'Blender'})"


def converter_at(path: str) -> Converter:
    """The converter for an executable path: a Python (name starts with 'python') or Blender.

    Raises:
        ConverterError: the path is not an executable file.
    """
    found = shutil.which(path) or (path if os.path.isfile(path) else None)
    if not found or not os.access(found, os.X_OK):
        raise ConverterError(f"{path}: Blender not found there (give the blender executable, or a Python with bpy)")
    found = os.path.abspath(found)
    return Converter(found, os.path.basename(found).lower().startswith("python"))


def find_converter(blender: str | None = None) -> Converter | None:
    """`blender` if given, else MOTION_SEARCH_BLENDER, else `blender` on PATH, else this Python
    when it has bpy; None when there is none. Raises ConverterError for a given path that is bad."""
    if blender:
        return converter_at(blender)
    env = os.environ.get("MOTION_SEARCH_BLENDER")
    if env:
        return converter_at(env)
    on_path = shutil.which("blender")
    if on_path:
        return Converter(on_path)
    if importlib.util.find_spec("bpy") is not None:  # found, not imported: bpy is slow to import
        return Converter(sys.executable, True)
    return None


# ------------------------------------------------------------------------------------ clips

@dataclass(frozen=True, eq=False)
class SceneClip:
    """One armature animation of a file: bone positions as Blender evaluated them."""

    name: str
    names: tuple[str, ...]  # bones, then `<leaf>_end` tails
    positions: np.ndarray  # (F, B, 3) float32 world positions, Blender units, Z up
    fps: float
    first_frame: float
    parents: np.ndarray | None = None  # (B,) parent index per name, -1 a root (a tail's: its bone)
    num_bones: int | None = None  # names before the tails


@dataclass
class Converted:
    """A file's clips, or why it has none."""

    path: str
    clips: list[SceneClip] | None
    error: str = ""
    from_cache: bool = False


def clip_id(path: str, name: str) -> str:
    return f"{path}#{name}"


def split_clip_id(ident: str) -> tuple[str, str] | None:
    """(file, clip name) of an id `<file>#<clip>` whose file is an FBX, glTF or .blend; else None."""
    for suffix in SCENE_SUFFIXES:
        cut = ident.lower().find(suffix + "#")
        if cut >= 0:
            return ident[: cut + len(suffix)], ident[cut + len(suffix) + 1:]
    return None


def is_scene_file(path: str) -> bool:
    return path.lower().endswith(SCENE_SUFFIXES)


def cache_path(cache_dir: str | os.PathLike, digest: str) -> Path:
    return Path(cache_dir) / f"{digest}-v{CACHE_FORMAT}.npz"


def read_cached(npz: str | os.PathLike) -> list[SceneClip]:
    """The clips a worker wrote (raises OSError / ValueError / KeyError for a damaged file)."""
    with np.load(npz, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta.get("format") != CACHE_FORMAT:
            raise ValueError(f"{npz}: conversion format {meta.get('format')}, not {CACHE_FORMAT}")
        return [SceneClip(c["name"], tuple(str(n) for n in data[f"names_{k}"]), data[f"positions_{k}"],
                          float(c["fps"]), float(c["first_frame"]), data[f"parents_{k}"].astype(np.int64),
                          int(c["bones"]))
                for k, c in enumerate(meta["clips"])]


# -------------------------------------------------------------------------------- converting

def convert_files(files: list[tuple[str, str]], converter: Converter | None, cache_dir: str | os.PathLike,
                  progress: Callable[[int, int, str], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> dict[str, Converted]:
    """Clips of each (path, content hash): from the cache, else from one background Blender for all
    the others. A file that fails (importer error, no animation, a crash or hang of Blender on it)
    gets its error; one left unconverted when `should_stop` turned True is missing from the result.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Converted] = {}
    todo: list[tuple[str, Path]] = []
    for path, digest in files:
        npz = cache_path(cache_dir, digest)
        if npz.exists():
            try:
                out[path] = Converted(path, read_cached(npz), from_cache=True)
                continue
            except (OSError, ValueError, KeyError):
                pass  # damaged (a killed write never renames into place, but a disk can fail): convert again
        todo.append((path, npz))
    if todo and converter is None:
        for path, _ in todo:
            out[path] = Converted(path, None, NO_BLENDER)
        return out
    done = len(out)
    while todo:
        results, crashed = _run_worker(converter, todo, progress, should_stop, done, len(files))
        npz_of = dict(todo)
        for path, error in results:
            out[path] = _finish(path, npz_of[path], error)
            done += 1
        finished = {p for p, _ in results}
        todo = [t for t in todo if t[0] not in finished]
        if crashed is None:  # stopped, or every file done
            break
        if crashed[0] not in {p for p, _ in todo}:  # cannot happen; never loop on it
            break
        out[crashed[0]] = Converted(crashed[0], None, crashed[1])
        done += 1
        todo = [t for t in todo if t[0] != crashed[0]]
    return out


def _finish(path: str, npz: Path, error: str | None) -> Converted:
    if error is not None:
        return Converted(path, None, error)
    try:
        return Converted(path, read_cached(npz))
    except (OSError, ValueError, KeyError) as e:
        return Converted(path, None, f"the converted clips cannot be read back ({e})")


def _run_worker(converter: Converter, todo: list[tuple[str, Path]], progress, should_stop, done: int,
                total: int) -> tuple[list[tuple[str, str | None]], tuple[str, str] | None]:
    """One Blender over `todo`. Returns ([(path, error or None)] of files it finished, and
    (path, message) of the file it died or hung on, or None when it ended normally or was stopped)."""
    results: list[tuple[str, str | None]] = []
    with tempfile.TemporaryDirectory(prefix="motion_search_convert_") as tmp:
        jobs = os.path.join(tmp, "jobs.json")
        with open(jobs, "w", encoding="utf-8") as f:
            json.dump([{"path": p, "out": str(npz)} for p, npz in todo], f)
        errors = open(os.path.join(tmp, "stderr.txt"), "w+", encoding="utf-8", errors="replace")
        try:
            proc = subprocess.Popen(converter.command(jobs), stdout=subprocess.PIPE, stderr=errors,
                                    stdin=subprocess.DEVNULL, text=True, encoding="utf-8", errors="replace",
                                    env=_worker_env())
        except OSError as e:
            errors.close()
            return [(p, f"cannot start Blender {converter}: {e}") for p, _ in todo], None
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
        current, deadline, tail = None, time.monotonic() + FILE_TIMEOUT_S, []
        try:
            while True:
                if should_stop and should_stop():
                    proc.kill()
                    return results, None
                try:
                    line = lines.get(timeout=0.2)
                except queue.Empty:
                    if time.monotonic() > deadline:
                        proc.kill()
                        return results, (current or todo[len(results)][0],
                                         f"Blender took more than {FILE_TIMEOUT_S:.0f} s on this file: skipped")
                    continue
                if line is None:  # Blender's output ended
                    break
                if not line.startswith(MARKER):
                    tail = (tail + [line.rstrip()])[-20:]
                    continue
                event = json.loads(line[len(MARKER):])
                if event["event"] == "start":
                    current, deadline = event["path"], time.monotonic() + FILE_TIMEOUT_S
                    if progress:
                        progress(done + len(results), total, f"converting {os.path.basename(current)}")
                elif event["event"] == "done":
                    results.append((event["path"], None if event["ok"] else event["error"]))
                    current = None
                elif event["event"] == "end":
                    proc.wait(timeout=60)
                    return results, None
            code = proc.wait(timeout=60)
            errors.seek(0)
            why = " | ".join(ln.strip() for ln in (tail + errors.read().splitlines())[-3:] if ln.strip())
            victim = current or (todo[len(results)][0] if len(results) < len(todo) else None)
            if victim is None:
                return results, None
            return results, (victim, f"Blender stopped while reading this file (exit code {code})"
                             + (f": {why}" if why else ""))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            errors.close()


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _worker_env() -> dict:
    """The worker's environment: numpy of Blender's own Python, not of ours."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    return env
