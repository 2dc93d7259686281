"""The two ways to talk to Qdrant, behind one small interface: qdrant-client (a server over REST or
gRPC, or its pure-Python local mode) and qdrant-edge-py (Qdrant's engine in this process).

Both hold the same collection layout (runtime/studio/qdrant_store.py): named vectors `patches`
(multivector, MaxSim, float16 originals on disk, int8 copies always in RAM, no HNSW: m=0),
`parts` (multivector of the 14 body-part means, MaxSim, int8 in RAM, HNSW) and `description`
(one dense vector, dot product), and keyword payload indexes on `library` (the tenant key),
`clip_key` and `content_hash`. Filters are given as a small dict (`Where`) and built per API.
Errors from qdrant-client are turned into StoreAccessError (401/403), StoreUnreachableError
(connection, TLS, timeout) or StoreError, each naming the server and never the key.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ..errors import safe_text
from .spec import StoreAccessError, StoreError, StoreSpec, StoreUnreachableError

log = logging.getLogger(__name__)

PATCHES, PARTS, DESCRIPTION, DESCRIBER = "patches", "parts", "description", "describer"
PAYLOAD_INDEXES = ("library", "clip_key", "content_hash", "kind")
HNSW_PARTS_M = 16  # HNSW on the part vectors only (the patches: m=0, a full scan of the int8 copies)


@dataclass
class Where:
    """A filter: every given condition must hold."""

    library: str | None = None
    clip_keys: list[str] | None = None  # clip_key is one of these
    content_hash_not: str | None = None
    not_clip_keys: list[str] | None = None
    ids: list[str] | None = None
    kind: str | None = "window"


@dataclass
class Found:
    id: str
    score: float = 0.0
    payload: dict = field(default_factory=dict)
    vectors: dict = field(default_factory=dict)


def _vectors_of(record_vector) -> dict:
    if not isinstance(record_vector, dict):
        return {}
    return {k: np.asarray(v, np.float32) for k, v in record_vector.items()}


class Backend:
    """What the store needs from Qdrant."""

    spec: StoreSpec

    def exists(self) -> bool: ...
    def create(self, embed_dim: int, sentence_dim: int) -> None: ...
    def upsert(self, points: list[tuple[str, dict, dict]]) -> None: ...
    def delete(self, where: Where) -> None: ...
    def scroll(self, where: Where, payload: list[str] | bool, vectors: list[str] | None = None,
               page: int = 256) -> Iterator[Found]: ...
    def retrieve(self, ids: list[str], vectors: list[str] | None, payload: list[str] | bool = True) -> list[Found]: ...
    def count(self, where: Where) -> int: ...
    def query(self, vector, using: str, limit: int, where: Where, prefetch: tuple | None = None,  # (v, using, n, scan)
              exact: bool = False, payload: list[str] | bool = True, vectors: list[str] | None = None,
              oversampling: float = 2.0) -> list[Found]: ...
    def finish(self) -> None:
        """After bulk writes (edge: run the optimiser)."""
    def close(self) -> None: ...


# ------------------------------------------------------------------------------------ edge

class EdgeBackend(Backend):
    """qdrant-edge-py: one shard folder, one process at a time (its write-ahead log is locked)."""

    def __init__(self, spec: StoreSpec):
        import qdrant_edge as q

        self.q, self.spec = q, spec
        self.shard = None
        if self.exists():
            try:
                self.shard = q.EdgeShard.load(spec.path)
            except Exception as e:  # noqa: BLE001 - a locked or damaged shard: one sentence
                raise StoreError(f"{safe_text(spec.path)}: cannot open the store ({safe_text(e, 200)}); "
                                 "one process at a time can hold an in-process store") from None

    def exists(self) -> bool:
        return self.shard is not None or (os.path.isdir(self.spec.path) and any(os.scandir(self.spec.path)))

    def create(self, embed_dim: int, sentence_dim: int) -> None:
        q = self.q
        int8 = q.ScalarQuantizationConfig(q.ScalarType.Int8, always_ram=True)
        multi = q.MultiVectorConfig(q.MultiVectorComparator.MaxSim)
        vectors = {
            PATCHES: q.EdgeVectorParams(embed_dim, q.Distance.Dot, on_disk=True, multivector_config=multi,
                                        datatype=q.VectorStorageDatatype.Float16, quantization_config=int8,
                                        hnsw_config=q.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10)),
            PARTS: q.EdgeVectorParams(embed_dim, q.Distance.Dot, multivector_config=multi,
                                      datatype=q.VectorStorageDatatype.Float16, quantization_config=int8,
                                      hnsw_config=q.HnswIndexConfig(m=HNSW_PARTS_M, ef_construct=100,
                                                                    full_scan_threshold=10_000)),
        }
        if sentence_dim:
            for name in (DESCRIPTION, DESCRIBER):
                vectors[name] = q.EdgeVectorParams(sentence_dim, q.Distance.Dot,
                                                   datatype=q.VectorStorageDatatype.Float16)
        os.makedirs(self.spec.path, exist_ok=True)
        self.shard = q.EdgeShard.create(self.spec.path, q.EdgeConfig(vectors=vectors))
        for name in PAYLOAD_INDEXES:
            self.shard.update(q.UpdateOperation.create_field_index(
                name, q.KeywordIndexParams(is_tenant=name == "library")))

    def _filter(self, w: Where):
        q = self.q
        must, must_not = [], []
        if w.kind:
            must.append(q.FieldCondition("kind", match=q.MatchValue(w.kind)))
        if w.library is not None:
            must.append(q.FieldCondition("library", match=q.MatchValue(w.library)))
        if w.clip_keys is not None:
            must.append(q.FieldCondition("clip_key", match=q.MatchAny(list(w.clip_keys))))
        if w.ids is not None:
            must.append(q.HasIdCondition({uuid.UUID(i) for i in w.ids}))
        if w.content_hash_not is not None:
            must_not.append(q.FieldCondition("content_hash", match=q.MatchValue(w.content_hash_not)))
        if w.not_clip_keys:
            must_not.append(q.FieldCondition("clip_key", match=q.MatchAny(list(w.not_clip_keys))))
        return q.Filter(must=must or None, must_not=must_not or None) if (must or must_not) else None

    def upsert(self, points) -> None:
        q = self.q
        self.shard.update(q.UpdateOperation.upsert_points([
            q.Point(uuid.UUID(pid), {k: np.asarray(v, np.float32).tolist() for k, v in vectors.items()}, payload)
            for pid, vectors, payload in points]))

    def delete(self, where: Where) -> None:
        self.shard.update(self.q.UpdateOperation.delete_points_by_filter(self._filter(where)))

    def scroll(self, where, payload, vectors=None, page=256):
        offset = None
        while True:
            records, offset = self.shard.scroll(self.q.ScrollRequest(
                offset=offset, limit=page, filter=self._filter(where), with_payload=payload,
                with_vector=vectors or False))
            for r in records:
                yield Found(str(r.id), 0.0, r.payload or {}, _vectors_of(r.vector))
            if offset is None:
                return

    def retrieve(self, ids, vectors, payload=True):
        if not ids:
            return []
        recs = self.shard.retrieve([uuid.UUID(i) for i in ids], with_payload=payload, with_vector=vectors or False)
        return [Found(str(r.id), 0.0, r.payload or {}, _vectors_of(r.vector)) for r in recs]

    def count(self, where) -> int:
        return int(self.shard.count(self.q.CountRequest(filter=self._filter(where), exact=True)))

    def _params(self, exact: bool, oversampling: float):
        q = self.q
        if exact:  # the float16 originals, every point
            return q.SearchParams(exact=True, quantization=q.QuantizationSearchParams(ignore=True))
        return q.SearchParams(quantization=q.QuantizationSearchParams(rescore=True, oversampling=oversampling))

    def query(self, vector, using, limit, where, prefetch=None, exact=False, payload=True, vectors=None,
              oversampling=2.0):
        q = self.q
        flt = self._filter(where)
        pre = None
        if prefetch is not None:
            p_vector, p_using, p_limit, p_scan = prefetch
            p_params = q.SearchParams(exact=True, quantization=q.QuantizationSearchParams(rescore=False)) if p_scan \
                else self._params(False, 1.0)
            pre = [q.Prefetch(limit=int(p_limit), query=q.Query.Nearest(np.asarray(p_vector, np.float32).tolist(),
                                                                        using=p_using),
                              filter=flt, params=p_params)]
        got = self.shard.query(q.QueryRequest(
            limit=int(limit), query=q.Query.Nearest(np.asarray(vector, np.float32).tolist(), using=using),
            prefetches=pre, filter=flt, with_payload=payload, with_vector=vectors or False,
            params=self._params(exact, oversampling)))
        return [Found(str(r.id), float(r.score), r.payload or {}, _vectors_of(r.vector)) for r in got]

    def finish(self) -> None:
        self.shard.flush()
        self.shard.optimize()

    def close(self) -> None:
        if self.shard is not None:
            self.shard.close()
            self.shard = None


# ------------------------------------------------------------------------------- qdrant-client

class ClientBackend(Backend):
    """qdrant-client: a server (`url=`, REST or gRPC, TLS for https) or local mode (`path=`)."""

    def __init__(self, spec: StoreSpec):
        from qdrant_client import QdrantClient, models

        self.models, self.spec, self.name = models, spec, spec.collection
        if spec.kind == "server":
            import warnings

            with warnings.catch_warnings():  # "Api key is used with an insecure connection": said in docs/STUDIO.md
                warnings.simplefilter("ignore")
                self.client = QdrantClient(url=spec.url, api_key=spec.api_key, prefer_grpc=spec.prefer_grpc,
                                           timeout=int(spec.timeout_s), check_compatibility=False)
        else:
            os.makedirs(spec.path, exist_ok=True)
            try:
                self.client = QdrantClient(path=spec.path)
            except Exception as e:  # noqa: BLE001 - e.g. another process holds the folder
                raise StoreError(f"{safe_text(spec.path)}: cannot open the store ({safe_text(e, 200)})") from None

    def _call(self, what: str, fn, *args, **kwargs):
        """fn(*args, **kwargs), its errors as one sentence naming the server (never the key)."""
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - sorted below; the key is in no message
            raise _store_error(self.spec, what, e) from None

    def exists(self) -> bool:
        return bool(self._call("reading the collection", self.client.collection_exists, self.name))

    def create(self, embed_dim: int, sentence_dim: int) -> None:
        m = self.models
        int8 = m.ScalarQuantization(scalar=m.ScalarQuantizationConfig(type=m.ScalarType.INT8, always_ram=True))
        multi = m.MultiVectorConfig(comparator=m.MultiVectorComparator.MAX_SIM)
        vectors = {
            PATCHES: m.VectorParams(size=embed_dim, distance=m.Distance.DOT, on_disk=True, multivector_config=multi,
                                    datatype=m.Datatype.FLOAT16, quantization_config=int8,
                                    hnsw_config=m.HnswConfigDiff(m=0)),
            PARTS: m.VectorParams(size=embed_dim, distance=m.Distance.DOT, multivector_config=multi,
                                  datatype=m.Datatype.FLOAT16, quantization_config=int8,
                                  hnsw_config=m.HnswConfigDiff(m=HNSW_PARTS_M)),
        }
        if sentence_dim:
            for name in (DESCRIPTION, DESCRIBER):
                vectors[name] = m.VectorParams(size=sentence_dim, distance=m.Distance.DOT, datatype=m.Datatype.FLOAT16)
        cluster = {}
        if self.spec.kind == "server":  # a cluster: shards and their copies (docs/STUDIO.md)
            if self.spec.shards:
                cluster["shard_number"] = self.spec.shards
            if self.spec.replication:
                cluster["replication_factor"] = self.spec.replication
        self._call("creating the collection", self.client.create_collection, self.name, vectors_config=vectors,
                   **cluster)
        for name in PAYLOAD_INDEXES:
            schema = m.KeywordIndexParams(type=m.KeywordIndexType.KEYWORD, is_tenant=name == "library")
            if self.spec.kind == "local":  # local mode has no payload indexes (it says so in a warning)
                continue
            self._call("creating a payload index", self.client.create_payload_index, self.name, name,
                       field_schema=schema, wait=True)

    def ensure_writable(self) -> None:
        """A write that changes nothing (a payload index that exists): a read-only key fails here,
        before anything is read or encoded."""
        if self.spec.kind == "server":
            m = self.models
            self._call("checking write access", self.client.create_payload_index, self.name, "kind",
                       field_schema=m.KeywordIndexParams(type=m.KeywordIndexType.KEYWORD), wait=True)

    def _filter(self, w: Where):
        m = self.models
        must, must_not = [], []
        if w.kind:
            must.append(m.FieldCondition(key="kind", match=m.MatchValue(value=w.kind)))
        if w.library is not None:
            must.append(m.FieldCondition(key="library", match=m.MatchValue(value=w.library)))
        if w.clip_keys is not None:
            must.append(m.FieldCondition(key="clip_key", match=m.MatchAny(any=list(w.clip_keys))))
        if w.ids is not None:
            must.append(m.HasIdCondition(has_id=list(w.ids)))
        if w.content_hash_not is not None:
            must_not.append(m.FieldCondition(key="content_hash", match=m.MatchValue(value=w.content_hash_not)))
        if w.not_clip_keys:
            must_not.append(m.FieldCondition(key="clip_key", match=m.MatchAny(any=list(w.not_clip_keys))))
        return m.Filter(must=must or None, must_not=must_not or None) if (must or must_not) else None

    def upsert(self, points) -> None:
        m = self.models
        structs = [m.PointStruct(id=pid, vector={k: np.asarray(v, np.float32).tolist() for k, v in vectors.items()},
                                 payload=payload) for pid, vectors, payload in points]
        self._call("uploading", self.client.upsert, self.name, points=structs, wait=True)

    def delete(self, where: Where) -> None:
        self._call("deleting", self.client.delete, self.name,
                   points_selector=self.models.FilterSelector(filter=self._filter(where)), wait=True)

    def scroll(self, where, payload, vectors=None, page=256):
        offset = None
        while True:
            records, offset = self._call("reading", self.client.scroll, self.name, scroll_filter=self._filter(where),
                                         limit=page, offset=offset, with_payload=payload,
                                         with_vectors=vectors or False)
            for r in records:
                yield Found(str(r.id), 0.0, r.payload or {}, _vectors_of(r.vector))
            if offset is None:
                return

    def retrieve(self, ids, vectors, payload=True):
        if not ids:
            return []
        recs = self._call("reading", self.client.retrieve, self.name, ids=list(ids), with_payload=payload,
                          with_vectors=vectors or False)
        return [Found(str(r.id), 0.0, r.payload or {}, _vectors_of(r.vector)) for r in recs]

    def count(self, where) -> int:
        return int(self._call("counting", self.client.count, self.name, count_filter=self._filter(where),
                              exact=True).count)

    def query(self, vector, using, limit, where, prefetch=None, exact=False, payload=True, vectors=None,
              oversampling=2.0):
        m = self.models
        flt = self._filter(where)
        if exact:
            params = m.SearchParams(exact=True, quantization=m.QuantizationSearchParams(ignore=True))
        else:
            params = m.SearchParams(quantization=m.QuantizationSearchParams(rescore=True, oversampling=oversampling))
        pre = None
        if prefetch is not None:
            p_vector, p_using, p_limit, p_scan = prefetch
            p_params = m.SearchParams(exact=True, quantization=m.QuantizationSearchParams(rescore=False)) \
                if p_scan else None
            pre = m.Prefetch(query=np.asarray(p_vector, np.float32).tolist(), using=p_using, limit=int(p_limit),
                             filter=flt, params=p_params)
        if self.spec.kind == "local":  # local mode scores every point exactly, on float32 (it warns of params)
            params = None
        res = self._call("searching", self.client.query_points, self.name,
                         query=np.asarray(vector, np.float32).tolist(), using=using, prefetch=pre, query_filter=flt,
                         limit=int(limit), with_payload=payload, with_vectors=vectors or False, search_params=params)
        return [Found(str(r.id), float(r.score), r.payload or {}, _vectors_of(r.vector)) for r in res.points]

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001 - closing never fails the caller
            pass


def _store_error(spec: StoreSpec, what: str, e: Exception):
    """One sentence for an error of qdrant-client, naming the server (never the key)."""
    status = getattr(e, "status_code", None)
    text = safe_text(getattr(e, "content", b"") or e, 300)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    code = getattr(getattr(e, "code", None), "__call__", None)
    grpc_code = str(e.code()) if code is not None else ""  # grpc.RpcError
    if status in (401, 403) or "PERMISSION_DENIED" in grpc_code or "UNAUTHENTICATED" in grpc_code:
        if status == 401 or "UNAUTHENTICATED" in grpc_code:
            return StoreAccessError(f"{spec.where}: the server refused the API key while {what} (wrong or missing "
                                    "key: set it in the environment or the add-on's Shared Library preference)")
        return StoreAccessError(f"{spec.where}: this API key may only read: {what} needs the read-write key "
                                "(the indexer's; docs/STUDIO.md, Access)")
    name = type(e).__name__
    if name in ("ResponseHandlingException", "ConnectError", "ConnectTimeout", "ReadTimeout", "TimeoutException") \
            or "UNAVAILABLE" in grpc_code or "DEADLINE_EXCEEDED" in grpc_code or isinstance(e, (ConnectionError,
                                                                                               TimeoutError)):
        reason = safe_text(getattr(e, "source", None) or e, 200)
        return StoreUnreachableError(f"{spec.where}: cannot reach the shared library's server while {what} "
                                     f"({reason})")
    if status == 404:
        return StoreError(f"{spec.where}: no such collection (index a library into it first)")
    return StoreError(f"{spec.where}: the server failed while {what} ({name}: {text})")


def open_backend(spec: StoreSpec) -> Backend:
    """The backend for a store address (the Qdrant package it needs imported now, with a clear
    error when it is missing)."""
    try:
        return EdgeBackend(spec) if spec.kind == "edge" else ClientBackend(spec)
    except ImportError as e:
        package = "qdrant-edge-py" if spec.kind == "edge" else "qdrant-client"
        raise StoreError(f"{spec.where}: a shared library needs the {package} package "
                         f"(pip install 'motion-search[studio]'): {safe_text(e, 200)}") from None


__all__ = ["Backend", "ClientBackend", "DESCRIBER", "DESCRIPTION", "EdgeBackend", "Found", "PARTS", "PATCHES", "Where",
           "open_backend"]
