"""`index DIR --store STORE` and `search ... --store STORE` (runtime/cli.py hands over here).

Indexing encodes the library into a local index first (the usual pipeline: only new and changed
files are encoded), then uploads what the store does not hold yet (QdrantStore.sync). The local
index is the indexer's cache: <cache>/index/store-<hash of the store>-<library>, or --index.
The store is opened, and its write access checked, before anything is encoded: a read-only key
fails at once with one sentence.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from ..errors import safe_text
from .qdrant_store import QdrantStore
from .searcher import StoreSearcher
from .spec import StoreError, parse_store


def _mounts(args) -> dict[str, str]:
    out = {}
    for item in getattr(args, "mount", None) or []:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise StoreError(f"--mount {safe_text(item)}: give NAME=FOLDER (a library's name and this machine's folder)")
        out[name] = folder
    return out


def index_into_store(args, bundle, update, fps_of, overrides, converter) -> int:
    """The `index` command with --store (see the module docstring)."""
    from ..shared_data import cache_dir

    if args.library and len(args.folders) > 1:
        raise StoreError("--library names one library folder: index the folders one by one, or drop --library "
                         "(each folder is then a library named after it)")
    spec = parse_store(args.store)
    with QdrantStore.open(spec, bundle, create=True) as store:
        store.check_writable()
        for folder in args.folders:
            if not os.path.isdir(folder):
                raise StoreError(f"{safe_text(folder)}: a shared library is a folder (not found or not a folder)")
            root = os.path.abspath(folder)
            name = args.library or os.path.basename(root.rstrip("/\\")) or "library"
            if args.index != getattr(args, "store_default_index", None):
                local = Path(args.index) / name if len(args.folders) > 1 else Path(args.index)
            else:
                digest = hashlib.sha1(spec.where.encode()).hexdigest()[:10]
                local = cache_dir() / "index" / f"store-{digest}-{name}"
            index, _ = update(local, [root], bundle, fps_of, args.jobs, args.codec, overrides, converter,
                              wait_s=args.wait, rebuild=args.rebuild)

            def progress(done, total, note):
                if done == total or done % 100 == 0:
                    print(f"  uploading {done}/{total}", file=sys.stderr)

            report = store.sync(index, name, root, progress=progress)
            print(f"shared library {spec.where}, library {name}: {report.summary()}")
            for ident, why in report.skipped[:20]:
                print(f"  not uploaded: {safe_text(ident)}: {safe_text(why)}")
    return 0


def search_store(args, bundle, print_hits, hit_json) -> int:
    """The `search` command with --store: text (or --queries) or --like FILE."""
    spec = parse_store(args.store, mounts=_mounts(args))
    if args.like_video:
        raise StoreError("--like-video does not search a shared library yet: search the local index, or --like a "
                         "BVH written by `python -m runtime video`")
    with QdrantStore.open(spec, bundle) as store:
        searcher = StoreSearcher(store, bundle, library=args.library, fusion=not args.no_fusion)
        if args.like:
            return _search_like(args, searcher, print_hits, hit_json)
        if args.queries:
            failed = 0
            for number, line in enumerate(Path(args.queries).read_bytes().splitlines(), 1):
                try:
                    text = line.decode("utf-8").strip()
                    if text:
                        print(json.dumps([hit_json(h) for h in searcher.search(text, args.top, args.exact or None)]))
                except (UnicodeDecodeError, ValueError) as e:
                    print(json.dumps({"line": number, "error": safe_text(e)}))
                    failed += 1
            return 1 if failed else 0
        hits = searcher.search(args.text, args.top, exact=args.exact or None)
        _show(args, args.text, hits, print_hits, hit_json)
    return 0


def _show(args, title, hits, print_hits, hit_json) -> None:
    if args.json:
        print(json.dumps([dict(hit_json(h), library=h.library, clip_key=h.clip_key) for h in hits], indent=1))
    else:
        print_hits(title, [h if h.path else _unmounted(h) for h in hits])
        if any(not h.path for h in hits):
            print("note: clips shown as LIBRARY:PATH are in libraries not mounted here (--mount NAME=DIR, or the "
                  "config file's \"libraries\")", file=sys.stderr)


def _unmounted(hit):
    from dataclasses import replace

    return replace(hit, path=f"{hit.library}:{hit.clip_key}")


def _search_like(args, searcher: StoreSearcher, print_hits, hit_json) -> int:
    from ..describe import MIN_FRAMES
    from ..hashing import content_hash
    from ..motion import load_motion_range

    motion = load_motion_range(args.like, args.fps, args.start, args.end, min_frames=MIN_FRAMES, purpose="compare")
    digest = content_hash(args.like)
    own = {key for key, h in searcher.store.clips(args.library).items() if h == digest}  # the query itself
    hits = searcher.search_like(searcher.encode(motion, args.like), args.top, exclude=own)
    if own:
        print(f"left out: {', '.join(f'{lib}:{key}' for lib, key in sorted(own))} (the query itself)", file=sys.stderr)
    _show(args, f"like {args.like}", hits, print_hits, hit_json)
    return 0


__all__ = ["index_into_store", "search_store"]
