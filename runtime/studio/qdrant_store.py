"""A shared library's index in a Qdrant collection: one point per window of every clip.

Each point holds (runtime/studio/backends.py for the collection's settings):
    patches      the window's patch embeddings (time-major, patch k is body part k % 14): a
                 multivector ranked by MaxSim; float16 originals on disk, int8 copies in RAM
    parts        the 14 body-part means of those patches (runtime.index.first_stage.part_means):
                 a small multivector, the first stage of two-stage search (Qdrant's prefetch)
    description  the clip's description vector (runtime/index/descriptions.py) for fused text search
    describer    the same without the captions the bundle's reference lends
                 (runtime.index.describer_vectors), for fused find similar and search by video (a
                 collection made before it has none: a motion query is then compared with
                 `description`, its own borrowed captions added)
    payload      kind "window", library (a name), clip_key (the clip's path relative to the
                 library root, "/" separators, "#clip" for a clip of a scene file), content_hash,
                 start / length (20 fps frames of the clip), the clip's frames, fps, first source
                 frame, rig, label, description and captions (the describer's texts)
One more point (kind "meta", no vectors) records the model that made the vectors.

The vectors come from a local index (runtime.index.LibraryIndex) built by the usual pipeline:
`sync` uploads the windows of the clips whose content hash the collection does not hold yet,
deletes the points of the clips' older contents, and deletes the clips gone from the library.
Point ids are uuid5 of (library, clip_key, content hash, start frame): the same on every machine.
The decoded int8 codes are what is uploaded, so Qdrant's originals are the local index's values.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

from ..errors import safe_text
from ..index import describer_vectors, part_means
from ..motion import NUM_PARTS
from .backends import DESCRIBER, DESCRIPTION, PARTS, PATCHES, Backend, Where, open_backend
from .spec import StoreError, StoreSpec, relative_path

log = logging.getLogger(__name__)

STORE_FORMAT = "motion-search-qdrant"
STORE_VERSION = 1
NAMESPACE = uuid.UUID("5d0c6f0e-3f57-4a3f-9a51-6f7d0c0b2a22")  # uuid5 namespace of the point ids
META_ID = str(uuid.uuid5(NAMESPACE, "meta"))
UPLOAD_WINDOWS = 32  # windows per upsert request


def point_id(library: str, clip_key: str, content_hash: str, start: int) -> str:
    """A window's point id: stable across machines and uploads (uuid5)."""
    return str(uuid.uuid5(NAMESPACE, f"{library}\n{clip_key}\n{content_hash}\n{int(start)}"))


def clip_key_of(entry, root: str) -> str | None:
    """The clip's key in its library: its file relative to `root` ("/" separators), plus "#clip"
    for one clip of a scene file (None: the file is not under `root`)."""
    rel = relative_path(entry.path or entry.id, root)
    if rel is None:
        return None
    suffix = entry.id[len(entry.path):] if entry.path and entry.id.startswith(entry.path) else ""
    return rel + suffix


@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    windows: int = 0  # windows uploaded
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (clip, why): failed, outside the root
    seconds: float = 0.0

    def summary(self) -> str:
        s = (f"{self.added} added, {self.updated} updated, {self.removed} removed, {self.unchanged} unchanged "
             f"({self.windows} windows uploaded)")
        if self.skipped:
            s += f", {len(self.skipped)} not uploaded"
        return s + f" in {self.seconds:.1f} s"


class QdrantStore:
    """A shared library in a Qdrant collection (module docstring). `QdrantStore.open(spec, bundle)`."""

    def __init__(self, spec: StoreSpec, backend: Backend, meta: dict | None, bundle=None):
        self.spec = spec
        self.backend = backend
        self.meta = meta
        self.bundle = bundle  # sync: the describer vectors need its reference

    @classmethod
    def open(cls, spec: StoreSpec, bundle=None, create: bool = False) -> "QdrantStore":
        """Open the collection (`create`: make it, for `bundle`'s vectors, when it does not exist).

        Raises:
            StoreError: no such collection (and not `create`), built by another model, unreachable, refused.
        """
        backend = open_backend(spec)
        try:
            if not backend.exists():
                if not create:
                    raise StoreError(f"{spec.where}: no shared library here yet (index a library into it first)")
                if bundle is None:
                    raise ValueError("creating a store needs the bundle")
                backend.create(bundle.embed_dim, bundle.sentence_dim if bundle.sentence_session is not None else 0)
                meta = {"kind": "meta", "format": STORE_FORMAT, "format_version": STORE_VERSION,
                        "model_id": bundle.model_id, "embed_dim": bundle.embed_dim,
                        "sentence_encoder": getattr(bundle, "sentence_id", None),
                        "describer": bundle.sentence_session is not None,  # the points hold describer vectors
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
                backend.upsert([(META_ID, {}, meta)])
                backend.finish()
            else:
                found = backend.retrieve([META_ID], None)
                meta = found[0].payload if found else None
                if not meta or meta.get("format") != STORE_FORMAT:
                    raise StoreError(f"{spec.where}: this collection is not a motion search library")
                if int(meta.get("format_version", 0)) > STORE_VERSION:
                    raise StoreError(f"{spec.where}: the library's format v{meta['format_version']} is newer than "
                                     f"this version of motion search reads (v{STORE_VERSION}): update motion search")
            if bundle is not None and meta["model_id"] != bundle.model_id:
                raise StoreError(f"{spec.where}: built with model {meta['model_id']}, but the model in use is "
                                 f"{bundle.model_id}: index the library again with this model (or use its model)")
        except BaseException:
            backend.close()
            raise
        return cls(spec, backend, meta, bundle)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "QdrantStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --------------------------------------------------------------------------------- reading

    @property
    def model_id(self) -> str:
        return self.meta["model_id"]

    @property
    def has_descriptions(self) -> bool:
        return bool(self.meta.get("sentence_encoder"))

    @property
    def has_describer(self) -> bool:
        """Whether the points hold describer vectors (a collection made since they were added)."""
        return self.has_descriptions and bool(self.meta.get("describer"))

    def num_windows(self, library: str | None = None) -> int:
        return self.backend.count(Where(library=library))

    def clips(self, library: str | None = None) -> dict[tuple[str, str], str]:
        """(library, clip_key) -> content hash of every clip held."""
        out = {}
        for f in self.backend.scroll(Where(library=library), ["library", "clip_key", "content_hash"], page=1024):
            out[(f.payload["library"], f.payload["clip_key"])] = f.payload["content_hash"]
        return out

    def libraries(self) -> list[str]:
        return sorted({lib for lib, _ in self.clips()})

    # --------------------------------------------------------------------------------- writing

    def check_writable(self) -> None:
        """Raise StoreAccessError now when the key may only read (a write that changes nothing)."""
        check = getattr(self.backend, "ensure_writable", None)
        if check is not None:
            check()

    def sync(self, index, library: str, root: str, progress=None) -> SyncReport:
        """Make the collection's `library` hold exactly the ok clips of `index` under `root`.

        Uploads the windows of new and changed clips (by content hash), deletes the older
        contents of changed clips and the clips no longer in the index. A read-only key fails at
        the first write (StoreAccessError), before anything is uploaded.
        """
        if index.meta["model_id"] != self.model_id:
            raise StoreError(f"{self.spec.where}: the library holds vectors of model {self.model_id}, the local "
                             f"index {index.meta['model_id']}")
        if not library or "/" in library or "\\" in library:
            raise StoreError(f"{safe_text(library)!r}: a library name is a word (no slashes)")
        t0 = time.time()
        self.check_writable()
        report = SyncReport()
        held = {key: h for (lib, key), h in self.clips(library).items() if lib == library}
        want: dict[str, int] = {}  # clip_key -> clip position in the index
        for c, e in enumerate(index.clips):
            if e.status != "ok" or not e.window_count:
                report.skipped.append((e.id, e.error or "no windows"))
                continue
            key = clip_key_of(e, root)
            if key is None:
                report.skipped.append((e.id, f"not under the library folder {root}"))
                continue
            want[key] = c
        todo = [(k, c) for k, c in want.items() if held.get(k) != index.clips[c].content_hash]
        report.unchanged = len(want) - len(todo)
        gone = [k for k in held if k not in want]
        batch: list[tuple[str, dict, dict]] = []
        describer = self._describer_vectors(index) if todo else None
        for n, (key, c) in enumerate(todo):
            e = index.clips[c]
            batch += self._points(index, c, library, key, describer)
            if key in held:
                report.updated += 1
            else:
                report.added += 1
            if len(batch) >= UPLOAD_WINDOWS:
                self.backend.upsert(batch)
                report.windows += len(batch)
                batch = []
            if progress:
                progress(n + 1, len(todo), e.label)
        if batch:
            self.backend.upsert(batch)
            report.windows += len(batch)
        for key, c in todo:  # a changed clip's old windows go once its new ones are in
            if key in held:
                self.backend.delete(Where(library=library, clip_keys=[key],
                                          content_hash_not=index.clips[c].content_hash))
        for s in range(0, len(gone), 256):
            self.backend.delete(Where(library=library, clip_keys=gone[s: s + 256]))
        report.removed = len(gone)
        if todo or gone:
            self.backend.finish()
        report.seconds = time.time() - t0
        return report

    def _describer_vectors(self, index) -> np.ndarray | None:
        """The index's describer vectors (runtime.index.describer_vectors) when the collection holds
        them and the index's description vectors were made by the bundle's sentence encoder and
        reference (what describer_vectors takes back out); None otherwise (points without one)."""
        made_by = index.meta.get("sentence_encoder")
        if not self.has_describer or index.sentence_vectors is None or made_by != self.meta.get("sentence_encoder"):
            return None
        if self.bundle is None:
            raise ValueError("uploading to a shared library needs the bundle: QdrantStore.open(spec, bundle)")
        return describer_vectors(index, self.bundle) if made_by == self.bundle.sentence_id else None

    def _points(self, index, c: int, library: str, key: str,
                describer: np.ndarray | None = None) -> list[tuple[str, dict, dict]]:
        e = index.clips[c]
        ids = np.arange(e.window_start, e.window_start + e.window_count)
        patches, offsets = index.window_patches(ids)
        desc = mine = None
        if index.sentence_vectors is not None and self.has_descriptions and \
                index.meta.get("sentence_encoder") == self.meta.get("sentence_encoder"):
            desc = index.sentence_vectors[c].astype(np.float32)
            mine = None if describer is None else describer[c].astype(np.float32)
        out = []
        for j, w in enumerate(ids):
            p = patches[offsets[j]: offsets[j + 1]]
            start, length = int(index.windows[w, 1]), int(index.windows[w, 2])
            vectors = {PATCHES: p, PARTS: part_means(p, np.array([len(p)]), NUM_PARTS)[0]}
            if desc is not None:
                vectors[DESCRIPTION] = desc
                if mine is not None:
                    vectors[DESCRIBER] = mine
            payload = {"kind": "window", "library": library, "clip_key": key, "content_hash": e.content_hash,
                       "start": start, "length": length, "label": e.label, "rig": e.rig,
                       "source_fps": e.source_fps, "source_frames": e.source_frames,
                       "first_source_frame": e.first_source_frame, "frames": e.frames,
                       "description": e.description or "", "captions": list(e.captions or []),
                       "has_description": desc is not None and bool(np.abs(desc).sum() > 0)}
            out.append((point_id(library, key, e.content_hash, start), vectors, payload))
        return out

    def delete_library(self, library: str) -> None:
        self.backend.delete(Where(library=library))
        self.backend.finish()


__all__ = ["META_ID", "QdrantStore", "STORE_FORMAT", "STORE_VERSION", "SyncReport", "clip_key_of", "point_id"]
