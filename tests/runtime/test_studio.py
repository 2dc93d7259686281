"""A studio's shared library on Qdrant (runtime/studio), with the shipped model on real Bandai-Namco
clips, on both engines this machine can run: qdrant-edge-py (Qdrant's engine in this process) and
qdrant-client's local mode (its pure-Python engine). No Qdrant server can be installed here: what
needs one (a read-only key refused, an unreachable server) runs qdrant-client against a test
double, a small HTTP server that answers as a Qdrant server with a read-only key does (403 on
writes). Needs the `studio` extra (qdrant-client, qdrant-edge-py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qdrant_edge", reason="the studio extra (qdrant-edge-py) is not installed")
pytest.importorskip("qdrant_client", reason="the studio extra (qdrant-client) is not installed")

from runtime.index import LibraryIndex  # noqa: E402
from runtime.model import Bundle  # noqa: E402
from runtime.search import Searcher, SimilarSearcher, explain  # noqa: E402
from runtime.studio import (LibraryMounts, QdrantStore, StoreAccessError, StoreError, StoreSearcher,  # noqa: E402
                            StoreUnreachableError, parse_store, relative_path)

QUERIES = ["a person waves the right hand", "someone walks forward", "a person runs", "a bow",
           "someone raises the left hand", "a person jumps"]
KINDS = ["edge", "local"]
SECRET = "s3cret-key-never-printed"


@pytest.fixture(scope="module")
def bundle():
    return Bundle.load(None, device="cpu")


@pytest.fixture(scope="module")
def library(tmp_path_factory, bandai2, cmu_bvh):
    """About 40 real clips (10 actions in several styles, and a long CMU take of several windows) in
    a folder with a sub-folder (relative paths with a "/")."""
    lib = tmp_path_factory.mktemp("mocap") / "mocap"
    (lib / "takes").mkdir(parents=True)
    files = sorted(bandai2.glob("dataset-2_*_001.bvh"))[::2]
    for k, f in enumerate(files):
        shutil.copy(f, (lib / "takes" if k % 3 == 0 else lib) / f.name)
    shutil.copy(cmu_bvh / "mb-fairmotion" / "01_01.bvh", lib / "takes" / "01_01.bvh")
    return lib


@pytest.fixture(scope="module")
def index(library, bundle, tmp_path_factory):
    path = tmp_path_factory.mktemp("idx") / "index"
    LibraryIndex.create(path, bundle).update([library], bundle)
    return LibraryIndex.open(path, bundle)


def _address(kind: str, folder: Path) -> str:
    return f"qdrant+edge://{folder}/shard" if kind == "edge" else f"qdrant+local://{folder}/motion"


@pytest.fixture(scope="module", params=KINDS)
def store(request, index, library, bundle, tmp_path_factory):
    spec = parse_store(_address(request.param, tmp_path_factory.mktemp(request.param)),
                       mounts={"mocap": str(library)})
    s = QdrantStore.open(spec, bundle, create=True)
    report = s.sync(index, "mocap", str(library))
    assert report.added == len(index.ok_clips) and report.windows == index.num_windows, report.summary()
    yield s
    s.close()


def _keys(hits):
    return [h.path for h in hits]


def test_top10_equals_the_local_exact_search(store, index, bundle):
    """MaxSim alone, every window: the store's top 10 against the local index's exact float search
    on the same stored values (the store holds them as float16), on the same score scale."""
    local = Searcher(index, bundle, fusion=False, integer_kernel=False)
    shared = StoreSearcher(store, bundle, fusion=False)
    overlaps = []
    for text in QUERIES:
        want = local.search(text, 10, exact=True)
        got = shared.search(text, 10, exact=True)
        overlaps.append(len(set(_keys(want)) & set(_keys(got))) / 10)
        scores = {h.path: h.score for h in want}
        for h in got:  # the same scale: the mean over the query's tokens
            if h.path in scores:
                assert abs(h.score - scores[h.path]) < 2e-3, (text, h.path, h.score, scores[h.path])
        assert _keys(got)[:3] == _keys(want)[:3], text
    print(f"\n{store.spec.kind}: top-10 overlap with local exact search {np.mean(overlaps):.3f} per query {overlaps}")
    assert min(overlaps) >= 0.9 and np.mean(overlaps) >= 0.95


def test_int8_scan_and_two_stage_prefetch_agree_with_exact(store, index, bundle):
    shared = StoreSearcher(store, bundle, fusion=False)
    exact = [_keys(shared.search(t, 5, exact=True)) for t in QUERIES]
    assert [_keys(shared.search(t, 5)) for t in QUERIES] == exact  # int8 copies, rescored on the originals
    for scan in (True, False):  # the first stage: a scan of the int8 part vectors, or their HNSW
        shared.prefetch_scan = scan
        shared.exact_up_to, shared.candidates = 0, index.num_windows  # prefetch on parts keeps every window
        assert [_keys(shared.search(t, 5)) for t in QUERIES] == exact
        shared.candidates = max(10, index.num_windows // 3)  # a real first stage: fewer windows, still the best
        got = [_keys(shared.search(t, 5)) for t in QUERIES]
        assert np.mean([len(set(a) & set(b)) / 5 for a, b in zip(got, exact)]) >= 0.8


def test_a_fused_shared_search_fails_as_its_request_fails_and_leaves_nothing_running(store, bundle, monkeypatch):
    """The query's sentence vector is encoded on a second thread while the request to the library
    runs: a failed request reaches the caller after the encoding ended, and the next search works."""
    from runtime.search.beside import submit_beside

    shared = StoreSearcher(store, bundle)
    assert shared.fused
    calls = []

    def broken(query, limit, exact=None, where=None, vectors=None):
        calls.append(query.text)
        raise StoreError("the library's server went away")

    monkeypatch.setattr(shared, "window_scores", broken)
    bundle.forget_sentences()
    with pytest.raises(StoreError, match="went away"):
        shared.search("someone kicks a ball")
    assert calls and submit_beside(lambda: 1).result(timeout=5) == 1  # the thread is free
    assert "someone kicks a ball" in bundle._sentence_cache  # the encoding finished before the error came back
    monkeypatch.undo()
    got = shared.search("someone kicks a ball", 5)
    assert len(got) == 5 and all(h.description_score is not None for h in got)


def test_fused_search_ranks_as_the_local_index(store, index, bundle):
    """Fused (MaxSim + description) search: on a library smaller than the store's candidate pool
    every clip is standardised, as in the local exact search: the same order."""
    local = Searcher(index, bundle, integer_kernel=False)
    shared = StoreSearcher(store, bundle)
    assert local.fused and shared.fused
    for text in QUERIES[:3]:
        want, got = local.search(text, 10, exact=True), shared.search(text, 10, exact=True)
        assert _keys(got)[:5] == _keys(want)[:5], text
        assert all(h.maxsim is not None and h.description_score is not None for h in got)
        assert abs(got[0].description_score - want[0].description_score) < 1e-2


def test_fused_search_over_part_of_the_library_standardises_as_over_all_of_it(store, index, bundle, monkeypatch):
    """When MaxSim's best windows leave clips out, the scores are standardised with a population
    sample's mean and deviation, not those of the clips that came back: with the sample holding
    every clip, the order is the local exact fused search's, even when the first request returns
    only a few windows."""
    import runtime.studio.searcher as studio_searcher

    monkeypatch.setattr(studio_searcher, "FUSED_WINDOWS", 6)  # the first request: 8 windows (k 1)
    monkeypatch.setattr(studio_searcher, "EXTRA_CANDIDATES", 2)  # and the 2 clips best by description
    local = Searcher(index, bundle, integer_kernel=False)
    shared = StoreSearcher(store, bundle)
    assert len(shared.population_sample()) == len(index.ok_clips) < studio_searcher.POPULATION_SAMPLE
    assert 8 + 2 < len(index.ok_clips) / 2  # so they leave out most clips
    for text in QUERIES:
        want, got = local.search(text, 1, exact=True), shared.search(text, 1, exact=True)
        assert _keys(got) == _keys(want), text
        assert np.allclose([h.score for h in got], [h.score for h in want], atol=0.05), text


def test_the_population_sample_is_an_even_fixed_pick_of_the_clips(store, index, bundle, monkeypatch):
    import runtime.studio.searcher as studio_searcher

    monkeypatch.setattr(studio_searcher, "POPULATION_SAMPLE", 8)
    first, second = StoreSearcher(store, bundle).population_sample(), StoreSearcher(store, bundle).population_sample()
    assert first == second and len(set(first)) == 8  # the same for every searcher, distinct clips
    held = {(f.payload["library"], f.payload["clip_key"]) for f in store.backend.scroll(
        studio_searcher.Where(library=None), ["library", "clip_key"])}
    assert set(first) <= held
    sorted_keys = sorted(k for _, k in held)
    assert [k for _, k in first] != sorted_keys[:8]  # not the clips first by name: a hash order
    monkeypatch.setattr(studio_searcher, "FUSED_WINDOWS", 6)
    hits = StoreSearcher(store, bundle).search("a person runs", 5)
    assert len(hits) == 5 and all(h.description_score is not None for h in hits)


def test_explain_and_descriptions_come_with_the_hit(store, index, bundle):
    text = "a person waves the right hand"
    local_hit = Searcher(index, bundle, fusion=False).search(text, 1, exact=True)[0]
    shared = StoreSearcher(store, bundle, fusion=False)
    hit = shared.search(text, 1, exact=True)[0]
    assert hit.path == local_hit.path and hit.description == local_hit.description != ""
    assert (hit.start_frame, hit.end_frame, hit.fps) == (local_hit.start_frame, local_hit.end_frame, local_hit.fps)
    want, got = explain(bundle, text, local_hit, index), shared.explain(text, hit)
    assert [(w.word, w.part, w.start_frame) for w in got.words] == [(w.word, w.part, w.start_frame) for w in want.words]
    assert np.abs(got.heatmap - want.heatmap).max() < 0.05


def test_find_similar_matches_the_local_index(store, index, bundle, library):
    local = SimilarSearcher(index, bundle)
    shared = StoreSearcher(store, bundle)
    assert shared.motion_vector_name == "describer"  # without the captions the reference lends, as locally
    overlaps = []
    for c in range(0, len(index.clips), 6):
        e = index.clips[c]
        key = relative_path(e.path, str(library))
        mine = shared.clip_query("mocap", key).description
        assert np.abs(mine - local.clip_query(c).description).max() < 1e-2
        assert np.abs(mine - index.sentence_vectors[c]).max() > 0.01  # not the text search's vector
        want = local.search_like(local.clip_query(c), 10, exclude={c}, exact=True)
        got = shared.search_like(shared.clip_query("mocap", key), 10, exclude={("mocap", key)}, exact=True)
        assert e.path not in _keys(got)
        assert _keys(got)[0] == _keys(want)[0]
        # both fused with the query clip's description vector, to the same scores
        assert local.fused and shared.fused and all(h.maxsim is not None for h in got + want)
        assert np.allclose([h.score for h in got[:3]], [h.score for h in want[:3]], atol=0.05)
        overlaps.append(len(set(_keys(want)) & set(_keys(got))) / len(want))
        cands = shared.search_like(shared.clip_query("mocap", key), 5, exclude={("mocap", key)}, exact=False)
        assert _keys(cands)[0] == _keys(want)[0]  # part-vector candidates from Qdrant, then the same score
    assert np.mean(overlaps) >= 0.9, overlaps


def test_two_stage_find_similar_fetches_the_patches_of_few_windows(store, index, bundle, library, monkeypatch):
    """Receiving a window's patches costs Python 1-2 ms: two-stage find similar fetches only the
    `like_fetched` best of the part vectors' candidates by Qdrant's MaxSim, and still finds what
    the local exact search finds first."""
    from runtime.studio.backends import PATCHES

    local = SimilarSearcher(index, bundle)
    shared = StoreSearcher(store, bundle)
    shared.like_fetched = 8
    fetched = []
    query = store.backend.query

    def counted(*args, **kwargs):
        got = query(*args, **kwargs)
        if PATCHES in (kwargs.get("vectors") or []):
            fetched.append(len(got))
        return got

    monkeypatch.setattr(store.backend, "query", counted)
    for c in range(0, len(index.clips), 6):
        key = relative_path(index.clips[c].path, str(library))
        want = local.search_like(local.clip_query(c), 5, exclude={c}, exact=True)
        got = shared.search_like(shared.clip_query("mocap", key), 5, exclude={("mocap", key)}, exact=False)
        assert _keys(got)[0] == _keys(want)[0]
    assert fetched and max(fetched) <= 8


def test_a_collection_made_before_describer_vectors_compares_a_motion_with_its_borrowed_captions(
        library, index, bundle, tmp_path):
    """A shared library made before the points held describer vectors (its meta says nothing of
    them) is searched as then: a motion query's vector borrows the reference's captions too and is
    compared with each clip's description vector, so the two sides are made alike."""
    from runtime.motion import load_motion
    from runtime.search import query_description
    from runtime.studio.qdrant_store import META_ID

    spec = parse_store(_address("edge", tmp_path), mounts={"mocap": str(library)})
    with QdrantStore.open(spec, bundle, create=True) as store:
        store.meta.pop("describer")
        store.backend.upsert([(META_ID, {}, store.meta)])
        store.sync(index, "mocap", str(library))
    with QdrantStore.open(spec, bundle) as store:
        shared = StoreSearcher(store, bundle)
        assert not store.has_describer and shared.fused and shared.motion_vector_name == "description"
        c = next(i for i, e in enumerate(index.clips) if "wave-right-hand" in e.path)
        motion = load_motion(index.clips[c].path)
        query = shared.encode(motion)
        _, patches = bundle.encode_motion(motion)
        assert np.abs(query.description - query_description(bundle, motion, patches)).max() < 1e-6
        assert np.abs(query.description - index.sentence_vectors[c]).max() < 2e-3  # as the index made its own
        assert np.abs(query.description - query_description(bundle, motion)).max() > 0.01
        key = relative_path(index.clips[c].path, str(library))
        hits = shared.search_like(query, 5, exclude={("mocap", key)}, exact=True)
        assert hits and all(h.description_score is not None for h in hits)
        assert "wave" in hits[0].label


@pytest.mark.parametrize("kind", KINDS)
def test_an_update_uploads_only_what_changed(kind, library, bundle, bandai1, tmp_path):
    lib = tmp_path / "lib"
    shutil.copytree(library, lib)
    local = LibraryIndex.create(tmp_path / "index", bundle)
    local.update([lib], bundle)
    store = QdrantStore.open(parse_store(_address(kind, tmp_path), mounts={"mocap": str(lib)}), bundle, create=True)
    try:
        store.sync(local, "mocap", str(lib))
        names = sorted(p.relative_to(lib).as_posix() for p in lib.rglob("*.bvh"))
        changed, removed = names[0], names[1]
        shutil.copy(bandai1 / "dataset-1_bow_active_001.bvh", lib / changed)  # new contents, same name
        (lib / removed).unlink()
        shutil.copy(bandai1 / "dataset-1_bow_active_001.bvh", lib / "takes" / "added.bvh")
        local.update([lib], bundle)
        report = store.sync(local, "mocap", str(lib))
        assert (report.added, report.updated, report.removed, report.unchanged) == (1, 1, 1, len(names) - 2)
        new = [e for e in local.clips if e.path in (str(lib / changed), str(lib / "takes" / "added.bvh"))]
        assert report.windows == sum(e.window_count for e in new)  # the unchanged clips were not uploaded again
        held = store.clips("mocap")
        assert held == {("mocap", relative_path(e.path, str(lib))): e.content_hash for e in local.ok_clips}
        assert store.num_windows() == local.num_windows
        assert store.sync(local, "mocap", str(lib)).windows == 0
        hits = StoreSearcher(store, bundle, fusion=False).search("a bow", 3, exact=True)
        assert {str(lib / changed), str(lib / "takes" / "added.bvh")} <= set(_keys(hits))
        assert str(lib / removed) not in _keys(StoreSearcher(store, bundle).search("a bow", 30, exact=True))
    finally:
        store.close()


def test_libraries_are_filtered_and_mapped_to_each_machines_mounts(library, index, bundle, bandai1, tmp_path):
    other = tmp_path / "stock"
    other.mkdir()
    for f in sorted(bandai1.glob("dataset-1_*_active_001.bvh"))[:6]:
        shutil.copy(f, other / f.name)
    stock = LibraryIndex.create(tmp_path / "stock-index", bundle)
    stock.update([other], bundle)
    address = _address("edge", tmp_path)
    with QdrantStore.open(parse_store(address), bundle, create=True) as s:
        s.sync(index, "mocap", str(library))
        s.sync(stock, "stock", str(other))
        assert s.libraries() == ["mocap", "stock"]
    # another machine: the mocap library on a Windows drive, the stock library not mounted
    spec = parse_store(address, mounts={"mocap": "Z:\\Mocap"})
    with QdrantStore.open(spec, bundle) as s:
        everything = StoreSearcher(s, bundle, fusion=False).search("a bow", 40, exact=True)
        assert {h.library for h in everything} == {"mocap", "stock"}
        only = StoreSearcher(s, bundle, fusion=False, library="stock").search("a bow", 40, exact=True)
        assert {h.library for h in only} == {"stock"} and len(only) == len(stock.ok_clips)
        assert all(h.path == "" and h.clip_id == f"stock:{h.clip_key}" for h in only)  # not mounted here
        mocap = [h for h in everything if h.library == "mocap"]
        sub = next(h for h in mocap if "/" in h.clip_key)
        assert sub.path == "Z:\\Mocap\\" + sub.clip_key.replace("/", "\\")


def test_store_addresses_mounts_and_the_key_kept_out():
    spec = parse_store("qdrant+https://qdrant.studio.lan/motion", api_key=SECRET)
    assert (spec.kind, spec.url, spec.collection) == ("server", "https://qdrant.studio.lan:6333", "motion")
    assert SECRET not in repr(spec) and SECRET not in spec.where
    for bad in ("qdrant+http://user:pw@host:6333/motion", "qdrant+http://host:6333/", "qdrant://host/x", "http://h/x"):
        with pytest.raises(StoreError):
            parse_store(bad)
    m = LibraryMounts({"a": "\\\\server\\share\\anim", "b": "/mnt/b", "c": "D:/mocap"})
    assert m.resolve("a", "x/y.bvh") == "\\\\server\\share\\anim\\x\\y.bvh"
    assert m.resolve("b", "x/y.bvh") == "/mnt/b/x/y.bvh"
    assert m.resolve("c", "x/y.bvh") == "D:\\mocap\\x\\y.bvh"
    assert m.resolve("d", "x/y.bvh") is None
    assert relative_path("/lib/a/b.bvh", "/lib") == "a/b.bvh" and relative_path("/other/b.bvh", "/lib") is None


def test_a_config_file_names_the_store_and_never_holds_the_key(tmp_path, monkeypatch):
    cfg = tmp_path / "studio.json"
    cfg.write_text(json.dumps({"store": "qdrant+http://qdrant:6333/motion", "api_key_env": "STUDIO_KEY",
                               "libraries": {"mocap": "Z:\\Mocap"}}))
    monkeypatch.setenv("STUDIO_KEY", SECRET)
    spec = parse_store(cfg)
    assert spec.api_key == SECRET and spec.mounts.resolve("mocap", "a.bvh") == "Z:\\Mocap\\a.bvh"
    cfg.write_text(json.dumps({"store": "qdrant+http://qdrant:6333/motion", "api_key": SECRET}))
    with pytest.raises(StoreError, match="keep the API key out") as e:
        parse_store(cfg)
    assert SECRET not in str(e.value)


class _ReadOnlyQdrant(BaseHTTPRequestHandler):
    """A test double of a Qdrant server seen with a read-only key: reads answer, writes get 403."""

    meta: dict = {}
    seen_keys: list = []

    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self.seen_keys.append(self.headers.get("api-key"))
        if self.path.split("?")[0].endswith("/exists"):
            return self._send(200, {"result": {"exists": True}, "status": "ok", "time": 0})
        self._send(404, {"status": {"error": "Not found"}})

    def do_POST(self):  # noqa: N802
        self.seen_keys.append(self.headers.get("api-key"))
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.split("?")[0].endswith("/points"):  # retrieve: the store's meta point
            return self._send(200, {"result": [{"id": self.meta["id"], "payload": self.meta["payload"]}],
                                    "status": "ok", "time": 0})
        self._send(403, {"status": {"error": "Forbidden: Write access denied"}})

    def do_PUT(self):  # noqa: N802
        self.seen_keys.append(self.headers.get("api-key"))
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self._send(403, {"status": {"error": "Forbidden: Write access denied"}})

    def log_message(self, *args):
        pass


@pytest.fixture()
def read_only_server(bundle):
    from runtime.studio.qdrant_store import META_ID, STORE_FORMAT

    _ReadOnlyQdrant.meta = {"id": META_ID, "payload": {"kind": "meta", "format": STORE_FORMAT, "format_version": 1,
                                                       "model_id": bundle.model_id, "embed_dim": bundle.embed_dim}}
    _ReadOnlyQdrant.seen_keys = []
    server = HTTPServer(("127.0.0.1", 0), _ReadOnlyQdrant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"qdrant+http://127.0.0.1:{server.server_port}/motion"
    server.shutdown()


def test_a_read_only_key_may_search_but_not_index(read_only_server, index, library, bundle, caplog):
    """Test double (no Qdrant server can run here): the refusal a read-only key gets, as one sentence."""
    with QdrantStore.open(parse_store(read_only_server, api_key=SECRET), bundle) as store:
        with pytest.raises(StoreAccessError, match="may only read") as e:
            store.sync(index, "mocap", str(library))
    assert _ReadOnlyQdrant.seen_keys and set(_ReadOnlyQdrant.seen_keys) == {SECRET}  # sent to the server ...
    assert SECRET not in str(e.value) and SECRET not in caplog.text  # ... and nowhere else


class _EmptyQdrant(BaseHTTPRequestHandler):
    """A test double of an empty Qdrant server with a read-write key: records what is created."""

    bodies: dict = {}

    def _send(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self._send({"result": {"exists": False}, "status": "ok", "time": 0})

    def do_PUT(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        self.bodies.setdefault(self.path.split("?")[0], []).append(body)
        ok = {"operation_id": 0, "status": "completed"} if "/points" in self.path or "/index" in self.path else True
        self._send({"result": ok, "status": "ok", "time": 0})

    def log_message(self, *args):
        pass


def test_a_cluster_collection_is_made_with_the_documented_settings(bundle, tmp_path):
    """Test double (no Qdrant server here): what the indexer asks a server for when it creates the
    collection: shards and replication from the config file, HNSW on the part vectors only (m=0 on
    the patches), int8 copies always in RAM, float16 originals on disk, the keyword indexes."""
    _EmptyQdrant.bodies = {}
    server = HTTPServer(("127.0.0.1", 0), _EmptyQdrant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cfg = tmp_path / "studio.json"
    cfg.write_text(json.dumps({"store": f"qdrant+http://127.0.0.1:{server.server_port}/motion", "shards": 6,
                               "replication": 2}))
    try:
        QdrantStore.open(parse_store(cfg, api_key=SECRET), bundle, create=True).close()
    finally:
        server.shutdown()
    made = _EmptyQdrant.bodies["/collections/motion"][0]
    assert (made["shard_number"], made["replication_factor"]) == (6, 2)
    patches, parts = made["vectors"]["patches"], made["vectors"]["parts"]
    assert patches["hnsw_config"]["m"] == 0 and parts["hnsw_config"]["m"] > 0
    for v in (patches, parts):
        assert v["multivector_config"]["comparator"] == "max_sim" and v["distance"] == "Dot"
        assert v["quantization_config"]["scalar"] == {"type": "int8", "always_ram": True} or \
            (v["quantization_config"]["scalar"]["type"], v["quantization_config"]["scalar"]["always_ram"]) == \
            ("int8", True)
    assert patches["on_disk"] is True and patches["datatype"] == "float16"
    indexed = {b["field_name"]: b["field_schema"] for b in _EmptyQdrant.bodies["/collections/motion/index"]}
    assert set(indexed) == {"library", "clip_key", "content_hash", "kind"} and indexed["library"]["is_tenant"]


def test_the_cli_says_in_one_line_what_is_wrong_with_the_server(read_only_server, library, tmp_path):
    env = dict(os.environ, MOTION_SEARCH_QDRANT_API_KEY=SECRET, MOTION_SEARCH_CACHE=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-m", "runtime", "index", str(library), "--store", read_only_server],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "may only read" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert SECRET not in r.stdout + r.stderr
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = subprocess.run([sys.executable, "-m", "runtime", "search", "a wave", "--store",
                        f"qdrant+http://127.0.0.1:{port}/motion"], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert f"127.0.0.1:{port}" in r.stderr and "cannot reach" in r.stderr and SECRET not in r.stderr


def test_the_cli_indexes_and_searches_a_store(library, tmp_path):
    env = dict(os.environ, MOTION_SEARCH_CACHE=str(tmp_path / "cache"))
    address = f"qdrant+edge://{tmp_path}/shard"
    r = subprocess.run([sys.executable, "-m", "runtime", "index", str(library), "--store", address, "--library",
                        "mocap", "--jobs", "1"], capture_output=True, text=True, env=env)
    n = len(list(library.rglob("*.bvh")))
    assert r.returncode == 0 and f"library mocap: {n} added" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "runtime", "index", str(library), "--store", address, "--library",
                        "mocap", "--jobs", "1"], capture_output=True, text=True, env=env)
    assert f"0 added, 0 updated, 0 removed, {n} unchanged (0 windows uploaded)" in r.stdout, r.stdout
    r = subprocess.run([sys.executable, "-m", "runtime", "search", "a person waves the right hand", "--json",
                        "--store", address, "--mount", f"mocap={library}"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert len(hits) == 10 and all(Path(h["path"]).is_file() and h["library"] == "mocap" for h in hits)
    assert "wave" in hits[0]["path"] or "raise" in hits[0]["path"]
    like = next(p for p in library.rglob("*wave-right*"))
    r = subprocess.run([sys.executable, "-m", "runtime", "search", "--like", str(like), "--json", "--store", address,
                        "--mount", f"mocap={library}"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and "left out" in r.stderr, r.stderr
    assert str(like) not in [h["path"] for h in json.loads(r.stdout)]
