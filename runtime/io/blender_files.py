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

What the background Blender promises (tests/blender/test_worker_isolation.py holds each one):

- Isolation: it never touches the user's Blender. Each run gets one temporary folder holding its
  user folders (BLENDER_USER_RESOURCES, and BLENDER_USER_CONFIG / SCRIPTS / EXTENSIONS / DATAFILES,
  which override it and which older Blenders honour alone) and its temporary files (TMPDIR, TEMP,
  TMP, XDG_CACHE_HOME); the folder is removed when the run ends. Its factory-settings reset, which
  re-syncs extension wheels with no extension enabled, happens there: the user's installed
  extensions, their wheels and preferences stay as they were.
- Results on their own channel: the worker appends its events (JSON lines) to a file of the run,
  so importer output (often printed without a newline) can never hide or split a result.
- It dies with its parent: it watches its stdin, a pipe nobody writes to, and exits at its end of
  file (every platform, between Python steps); on Linux also PR_SET_PDEATHSIG (at once, even inside
  an importer).
- A memory cap: address space may grow by MEMORY_LIMIT_BYTES past start-up (RLIMIT_AS; Linux only:
  macOS does not enforce it, Windows has no rlimit). Past it the file fails (or Blender crashes on
  it), and the batch goes on.
- A time budget per file, FILE_TIMEOUT_S: past it that Blender is killed, the file reported, and
  the rest of the batch goes on in a new Blender.
- Reads inside the library: a glTF whose buffer or image `uri` leads outside the folders allowed
  (its own folder, or the library folder given in `roots`), or to anything but a regular file, is
  refused before the importer sees it; FBX textures are never looked up (motion needs none). Not
  contained: a .blend file's linked libraries, which Blender reads when it opens the file.
- No temporary files left: a clip file is written under a temporary name beside its cache entry
  and renamed; the parent deletes it if the worker died first. A parent killed with SIGKILL leaves
  its run folder; the next run on POSIX removes run folders (over ten minutes old) of processes
  that no longer exist.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import os
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
CACHE_FORMAT = 4  # blender_worker.FORMAT
FILE_TIMEOUT_S = 600.0  # one file's import and sampling; past it the file is reported and skipped
MEMORY_LIMIT_BYTES: int | None = None  # address space a worker may add past start-up; None: 3/4 of RAM
RUN_PREFIX = "motion_search_convert_"  # + the parent's pid: a run folder in the system's temporary folder
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
        return [self.executable, "-b", "--factory-startup", "--disable-autoexec", "--python", str(WORKER), "--",
                "--jobs", jobs_file]

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
                  should_stop: Callable[[], bool] | None = None,
                  roots: list[str] | tuple[str, ...] = ()) -> dict[str, Converted]:
    """Clips of each (path, content hash): from the cache, else from one background Blender for all
    the others. A file that fails (importer error, no animation, a crash or hang of Blender on it)
    gets its error; one left unconverted when `should_stop` turned True is missing from the result.
    `roots`: library folders; a glTF under one may reference files anywhere in it (else only in
    its own folder).
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
    if todo:
        _sweep_stale_runs()
    done = len(out)
    while todo:
        results, crashed = _run_worker(converter, todo, progress, should_stop, done, len(files), roots)
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


def root_of(path: str, roots) -> str:
    """The folder a file's references must stay in (links resolved): the deepest of `roots` holding
    the file, else the folder it is listed in."""
    folder = os.path.dirname(os.path.abspath(path))
    holding = [r for r in (os.path.abspath(r).rstrip(os.sep) for r in roots)
               if (folder + os.sep).startswith(r + os.sep)]
    return os.path.realpath(max(holding, key=len) if holding else folder)


def _run_worker(converter: Converter, todo: list[tuple[str, Path]], progress, should_stop, done: int,
                total: int, roots=()) -> tuple[list[tuple[str, str | None]], tuple[str, str] | None]:
    """One Blender over `todo`. Returns ([(path, error or None)] of files it finished, and
    (path, message) of the file it died or hung on, or None when it ended normally or was stopped)."""
    results: list[tuple[str, str | None]] = []
    run = tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{os.getpid()}_")
    token = os.path.basename(run)[len(RUN_PREFIX):]
    jobs = [{"path": p, "out": str(npz), "tmp": f"{npz}.{token}.tmp.npz", "root": root_of(p, roots)}
            for p, npz in todo]
    events_path = os.path.join(run, "events.jsonl")
    proc = events = None
    try:
        spec = os.path.join(run, "jobs.json")
        with open(spec, "w", encoding="utf-8") as f:
            json.dump({"jobs": jobs, "events": events_path, "memory_limit": _memory_limit(), "watch_stdin": True}, f)
        open(events_path, "w").close()
        events = _Events(events_path)
        try:
            proc = subprocess.Popen(converter.command(spec), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=_worker_env(run))
        except OSError as e:
            return [(p, f"cannot start Blender {converter}: {e}") for p, _ in todo], None
        tail: collections.deque = collections.deque(maxlen=20)
        threading.Thread(target=_pump, args=(proc.stdout, tail), daemon=True).start()
        return _watch(proc, events, todo, results, tail, progress, should_stop, done, total)
    finally:
        if proc is not None:
            _end(proc)
        if events is not None:
            events.close()
        for job in jobs:
            _remove(job["tmp"])
        shutil.rmtree(run, ignore_errors=True)


def _watch(proc, events, todo, results, tail, progress, should_stop, done, total):
    """Follow the worker's events until it ends, is stopped, dies or runs past a file's budget."""
    current, deadline = None, time.monotonic() + FILE_TIMEOUT_S
    while True:
        for event in events.read():
            if event["event"] == "start":
                current = event["path"]
                if progress:
                    progress(done + len(results), total, f"converting {os.path.basename(current)}")
            elif event["event"] == "done":
                results.append((event["path"], None if event["ok"] else event["error"]))
                current = None
            elif event["event"] == "end":
                return results, None
            deadline = time.monotonic() + FILE_TIMEOUT_S
        if should_stop and should_stop():
            proc.kill()
            return results, None
        code = proc.poll()
        if code is not None and not events.more():
            break
        if time.monotonic() > deadline:
            proc.kill()
            return results, (current or _next(todo, results),
                             f"Blender took more than {FILE_TIMEOUT_S:g} s on this file: skipped")
        time.sleep(0.05)
    victim = current or _next(todo, results)
    if victim is None:
        return results, None
    time.sleep(0.1)  # the last of Blender's output
    why = " | ".join(ln for ln in list(tail)[-3:] if ln)
    message = f"Blender stopped while reading this file (exit code {code})"
    return results, (victim, message + (f": {why}" if why else ""))


def _next(todo, results) -> str | None:
    return todo[len(results)][0] if len(results) < len(todo) else None


class _Events:
    """The worker's events file, read as it grows: whole JSON lines only."""

    def __init__(self, path: str):
        self._file = open(path, "rb")
        self._partial = b""

    def read(self) -> list[dict]:
        data = self._partial + self._file.read()
        *lines, self._partial = data.split(b"\n")
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # cannot happen (the worker writes whole lines); never stop on it
        return out

    def more(self) -> bool:
        """Whether anything is left to read (after the worker ended)."""
        pos = self._file.tell()
        size = os.fstat(self._file.fileno()).st_size
        return size > pos

    def close(self) -> None:
        self._file.close()


def _pump(stream, tail: collections.deque) -> None:
    """Blender's own output (importers print a lot): only the last lines are kept, for a crash's message."""
    for raw in stream:
        line = raw.decode("utf-8", "replace").strip()
        if line:
            tail.append(line[:300])


def _end(proc: subprocess.Popen) -> None:
    """Close the worker's stdin (its signal that we are done) and make sure it has ended."""
    try:
        proc.stdin.close()
    except OSError:
        pass
    if proc.poll() is None:
        try:
            proc.wait(timeout=10)  # after its "end" event it only has to exit
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _memory_limit() -> int | None:
    """MEMORY_LIMIT_BYTES, else 3/4 of the machine's memory (at least 2 GiB); None where unknown."""
    if MEMORY_LIMIT_BYTES is not None:
        return MEMORY_LIMIT_BYTES
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return max(2 << 30, ram * 3 // 4)


def _worker_env(run: str) -> dict:
    """The worker's environment: Blender's own Python (not ours), and user folders and temporary
    files inside the run folder `run`, so nothing of the user's Blender is read or changed."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    user = os.path.join(run, "user")
    env["BLENDER_USER_RESOURCES"] = user
    for kind in ("CONFIG", "SCRIPTS", "EXTENSIONS", "DATAFILES"):
        env[f"BLENDER_USER_{kind}"] = os.path.join(user, kind.lower())
    tmp = os.path.join(run, "tmp")
    os.makedirs(tmp, exist_ok=True)
    for name in ("TMPDIR", "TEMP", "TMP"):
        env[name] = tmp
    if os.name == "posix":
        env["XDG_CACHE_HOME"] = os.path.join(run, "cache")
    return env


def _sweep_stale_runs() -> None:
    """Remove run folders left by processes killed outright (POSIX: a process can be asked if it lives)."""
    if os.name != "posix":
        return
    base = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(base) if n.startswith(RUN_PREFIX)]
    except OSError:
        return
    for name in names:
        pid, folder = name[len(RUN_PREFIX):].split("_", 1)[0], os.path.join(base, name)
        try:
            old = time.time() - os.stat(folder).st_mtime > 600  # not a run of another pid namespace just begun
        except OSError:
            continue
        if old and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process
    return True
