"""A studio's shared library: the index of one team's motion library in Qdrant (a server for many
readers, sharded and replicated; or Qdrant's engine in this process), searched the way a local
index is. docs/STUDIO.md says how to deploy it.

What it promises:
- The local index (runtime.index) stays the default and is unchanged; a shared library is opened
  only when a store is named (`--store`, the add-on's Shared Library preference). Nothing here is
  imported by `import runtime`, and the Qdrant packages (the `studio` extra: qdrant-client,
  qdrant-edge-py) are imported only when a store is opened: without them, naming a store says
  which package to install.
- Same search: hits are runtime.search.Hit (StoreHit adds the library and the clip's key), on the
  same MaxSim scale (the mean over query tokens), fused and explained the same way; find similar
  uses the same score. tests/runtime/test_studio.py holds the top-10 against the local exact search.
- Uploads only what changed: clips are compared by content hash; changed clips' old windows and
  removed clips are deleted (QdrantStore.sync).
- Paths: stored relative to a named library root; each machine maps library names to its own
  folders (LibraryMounts; Windows and posix mounts mixed). A hit from a library that is not
  mounted here has no path (""), and its id says library:clip.
- Access: a read-only API key searches; writing with it fails with StoreAccessError ("this API key
  may only read ...") at the first write, before anything is uploaded. A wrong key: "the server
  refused the API key". An unreachable server: StoreUnreachableError naming the server, one line,
  no traceback from the CLI or the add-on. The API key is never in an address, a config file, a
  message, a log line or a repr (StoreSpec shows "***"); the add-on keeps it in its preferences
  (not the .blend) or the environment.

May import: runtime.index, runtime.search, runtime.model, runtime.motion, runtime.describe, runtime.io,
runtime.errors, runtime.hashing, runtime.shared_data.
"""

from __future__ import annotations

from .spec import (API_KEY_ENV, LibraryMounts, StoreAccessError, StoreError, StoreSpec, StoreUnreachableError,
                   is_store, parse_store, relative_path)


def __getattr__(name: str):  # the store and searcher import numpy-heavy modules: on first use
    if name in ("QdrantStore", "SyncReport", "point_id", "clip_key_of"):
        from . import qdrant_store

        return getattr(qdrant_store, name)
    if name in ("index_into_store", "search_store"):
        from . import cli

        return getattr(cli, name)
    if name in ("StoreSearcher", "StoreHit", "like_scores"):
        from . import searcher

        return getattr(searcher, name)
    raise AttributeError(name)


__all__ = ["API_KEY_ENV", "LibraryMounts", "QdrantStore", "StoreAccessError", "StoreError", "StoreHit",
           "StoreSearcher", "StoreSpec", "StoreUnreachableError", "SyncReport", "is_store", "parse_store",
           "relative_path"]
