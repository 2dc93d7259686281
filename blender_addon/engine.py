"""The search engine as the add-on holds it between operator calls.

One model bundle (per path and device), one open library index, a Searcher over them, and at most
one indexing job. The job runs `LibraryIndex.update` in a background thread; `poll_job`, a
`bpy.app.timers` function on the main thread, copies its progress into the sidebar and the status
bar and finishes it. Only `poll_job`, `publish` and the finish callbacks touch bpy, on the main thread.
Tests call `poll_job` themselves: timers do not fire in a headless Blender.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

POLL_SECONDS = 0.2


class Job:
    """`work(progress, should_stop)` in a daemon thread, with its progress, result or error.

    `progress(done, total, note)` may be called from the thread at any rate; `should_stop()` turns
    True after `cancel()`.
    """

    def __init__(self, work: Callable, label: str = "Indexing"):
        self.label = label
        self.done, self.total, self.note = 0, 0, ""
        self.result = None
        self.notes: list[tuple[str, str]] = []  # (what, why) problems found before the job started
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._work = work
        self.thread = threading.Thread(target=self._run, name=f"motion_search {label}", daemon=True)

    def start(self) -> "Job":
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self._work(self._progress, self._stop.is_set)
        except BaseException as e:  # reported on the main thread by the on_finish callbacks
            self.error = e

    def _progress(self, done, total, note="") -> None:
        self.done, self.total, self.note = int(done), int(total), str(note)

    def cancel(self) -> None:
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    @property
    def fraction(self) -> float:
        return min(self.done / self.total, 1.0) if self.total > 0 else 0.0

    def status(self) -> str:
        """`Indexing 12/40: walk_01.bvh`."""
        count = f" {self.done}/{self.total}" if self.total else ""
        return f"{self.label}{count}" + (f": {self.note}" if self.note else "") + (" (cancelling)" if self.cancelled else "")


@dataclass
class State:
    bundle: object = None
    bundle_key: tuple | None = None
    index: object = None
    index_key: tuple | None = None
    searcher: object = None
    hits: list = field(default_factory=list)  # the last search's Hit objects (rows of the results list)
    like: str = ""  # the hits are Find Similar's, alike this motion ("": a text search's)
    video_motion: str = ""  # the BVH file of the motion read from the last video (Find Similar to Video)
    job: Job | None = None
    on_finish: list = field(default_factory=list)  # callables(job) run on the main thread when the job ends
    shared: object = None  # the Shared Library's StoreSearcher (runtime.studio), opened at its first search
    shared_key: tuple | None = None  # what it was opened with (a hash of the API key, not the key)


STATE = State()


def load_bundle(path: str, device: str):
    """The model bundle at `path` on `device` ('auto', 'cuda', 'cpu'), loaded once.

    Raises runtime.errors.BundleError with a sentence for the user.
    """
    from runtime.model import Bundle

    key = (path, device)
    if STATE.bundle is None or STATE.bundle_key != key:
        STATE.bundle = Bundle.load(path, device=device)
        STATE.bundle_key = key
        STATE.index = STATE.index_key = STATE.searcher = None
    return STATE.bundle


def open_index(path: str, bundle):
    """The library index at `path` for `bundle` (created empty the first time).

    Raises runtime.errors.LibraryIndexError for a corrupt index or one built by another model.
    """
    from runtime.index import LibraryIndex

    key = (path, id(bundle))
    if STATE.index is None or STATE.index_key != key:
        STATE.index = LibraryIndex.open_or_create(path, bundle)
        STATE.index_key = key
        STATE.searcher = None
    return STATE.index


def searcher(fusion: bool | None = None):
    """A Searcher over the open index and bundle (rebuilt after the index changes); a SimilarSearcher,
    which searches by text too, so that Find Similar shares it. `fusion`: rank text searches by the
    fused score (the preference Rank with Descriptions) or by MaxSim alone; None keeps the setting."""
    from runtime.search import SimilarSearcher

    if STATE.searcher is None:
        STATE.searcher = SimilarSearcher(STATE.index, STATE.bundle)
    if fusion is not None:
        STATE.searcher.fusion = bool(fusion)
    return STATE.searcher


def index_for_update(path: str, bundle):
    """A separate instance of the index for a background update: searches meanwhile keep using
    the cached instance, which holds the last saved state. An index built by another model (an
    add-on update with a new model) is replaced by an empty one, so the update encodes the library
    again; `index.replaced` says so. A damaged index (a file that fails its checksum, say) is
    rebuilt the same way: it is derived from the library files, and a Blender user has no
    command line to rebuild it from.

    Raises runtime.errors.LibraryIndexError for an index of a newer format, or one being updated
    by another process.
    """
    from runtime.errors import DamagedIndexError, safe_text
    from runtime.index import LibraryIndex

    try:
        index = LibraryIndex.open_or_create(path, bundle, replace_stale=True)
    except DamagedIndexError as e:
        index = LibraryIndex.open_or_create(path, bundle, rebuild=True)
        index.replaced = f"The index was damaged and is being rebuilt ({safe_text(e, 200)})"
    if index.replaced:
        index_changed()
    return index


def index_changed() -> None:
    """After an update: reopen the index at the next search. The last hits' window numbers may no
    longer hold, so they cannot be explained any more (applying them still works: file and frames)."""
    STATE.index = STATE.index_key = STATE.searcher = None
    STATE.hits, STATE.like = [], ""


def forget() -> None:
    """Drop everything loaded (preferences changed, or the add-on is being disabled)."""
    forget_shared()
    STATE.bundle = STATE.bundle_key = STATE.index = STATE.index_key = STATE.searcher = None
    STATE.hits, STATE.like = [], ""


def shared_searcher(settings: tuple, bundle, fusion: bool = True):
    """The Shared Library's StoreSearcher for (address, mounts, API key) and `bundle`, opened once.

    Raises runtime.studio.StoreError (a MotionSearchError) with one sentence naming the server.
    """
    import hashlib

    from runtime.studio import QdrantStore, StoreSearcher, parse_store

    address, mounts, api_key = settings
    key = (address, tuple(sorted(mounts.items())), hashlib.sha256((api_key or "").encode()).hexdigest(), id(bundle))
    if STATE.shared is None or STATE.shared_key != key:
        forget_shared()
        store = QdrantStore.open(parse_store(address, api_key=api_key, mounts=mounts), bundle)
        STATE.shared, STATE.shared_key = StoreSearcher(store, bundle), key
    STATE.shared.fusion = bool(fusion)
    return STATE.shared


def forget_shared() -> None:
    """Close the Shared Library's store (its settings changed; the add-on is being disabled)."""
    if STATE.shared is not None:
        try:
            STATE.shared.store.close()
        except Exception:  # noqa: BLE001 - closing never fails the caller
            pass
    STATE.shared = STATE.shared_key = None


def start_job(work: Callable, label: str = "Indexing", on_finish: Callable | None = None) -> Job:
    """Start `work` in the background and poll it from a timer; refuses a second job."""
    import bpy

    if STATE.job is not None and STATE.job.running:
        raise RuntimeError("an indexing job is already running")
    STATE.job = Job(work, label).start()
    STATE.on_finish = [on_finish] if on_finish else []
    if not bpy.app.timers.is_registered(poll_job):
        bpy.app.timers.register(poll_job, first_interval=POLL_SECONDS, persistent=True)
    return STATE.job


def cancel_job() -> bool:
    if STATE.job is None or not STATE.job.running:
        return False
    STATE.job.cancel()
    return True


def poll_job():
    """The timer: publish progress while the job runs; finish it once. Returns the next interval or None."""
    job = STATE.job
    if job is None:
        return None
    publish(job)
    if job.running:
        return POLL_SECONDS
    STATE.job = None
    callbacks, STATE.on_finish = STATE.on_finish, []
    for fn in callbacks:
        fn(job)
    _status_text(None)
    _redraw()
    return None


def stop(timeout: float = 5.0) -> None:
    """Cancel a running job and wait for it (add-on unregister)."""
    import bpy

    job = STATE.job
    if job is not None:
        job.cancel()
        job.thread.join(timeout)
    STATE.job = None
    STATE.on_finish = []
    if bpy.app.timers.is_registered(poll_job):
        bpy.app.timers.unregister(poll_job)


def publish(job: Job) -> None:
    """Progress into the sidebar (WindowManager state) and the status bar."""
    import bpy

    wm = bpy.context.window_manager
    state = getattr(wm, "motion_search", None)
    if state is not None:
        state.index_progress = job.fraction
        state.index_status = job.status()
    _status_text(f"Motion Search: {job.status()}  ({job.fraction:.0%})")
    _redraw()


def _status_text(text) -> None:
    import bpy

    for win in bpy.context.window_manager.windows:
        try:
            win.workspace.status_text_set(text)
        except (AttributeError, RuntimeError, TypeError):
            pass  # no status bar without a window system


def _redraw() -> None:
    import bpy

    for win in bpy.context.window_manager.windows:
        for area in win.screen.areas:
            if area.type == 'VIEW_3D':
                area.tag_redraw()
