"""Where a shared library lives and how this machine reaches it: the store address, the API key,
and this machine's mount point of each named library.

A store is named by one string (`--store` on the command line, the add-on's Shared Library
preference), or by a JSON config file that holds it:

    qdrant+http://host:6333/COLLECTION     a Qdrant server (REST), http or https (TLS)
    qdrant+https://host:6333/COLLECTION
    qdrant+local:///some/folder/COLLECTION  qdrant-client's local mode (pure Python: small libraries, tests)
    qdrant+edge:///some/folder              qdrant-edge-py: Qdrant's engine in this process (one process
                                            per folder); the folder is the collection
    studio.json                             {"store": "<one of the above>", "api_key_env": "NAME",
                                             "libraries": {"mocap": "Z:\\\\Mocap", "stock": "/mnt/stock"},
                                             "shards": 6, "replication": 2, "prefer_grpc": false}
                                            (shards, replication: used when the indexer creates the
                                            collection on a cluster)

The API key is never part of the address, the config file or a log line: it comes from the
environment (MOTION_SEARCH_QDRANT_API_KEY, or the variable the config file names) or from the
caller (the add-on keeps it in a file of its user folder readable by this user only). `StoreSpec`
prints it as "***".

Library paths are stored relative to a named library root (posix separators). Each machine maps
library names to its own mount points (`LibraryMounts`): a studio mixes Windows drive letters, UNC
shares and Linux mounts; a path is joined in the style of the mount it is joined to.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import urlsplit

from ..errors import MotionSearchError, safe_text

API_KEY_ENV = "MOTION_SEARCH_QDRANT_API_KEY"
SCHEMES = ("qdrant+http", "qdrant+https", "qdrant+local", "qdrant+edge")
_COLLECTION = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
_WINDOWS_MOUNT = re.compile(r"^([A-Za-z]:[\\/]|\\\\)")


class StoreError(MotionSearchError):
    """A shared library (Qdrant store) cannot do what was asked: one sentence naming the server."""


class StoreAccessError(StoreError):
    """The server refused the key: a read-only key used to write, or a wrong key."""


class StoreUnreachableError(StoreError):
    """The server does not answer (down, wrong address, TLS failure, timeout)."""


@dataclass(frozen=True)
class StoreSpec:
    """A parsed store address.

    Attributes:
        kind: "server" (qdrant-client over REST), "local" (qdrant-client local mode) or "edge".
        url: the server's base URL (server), or "" .
        path: the local folder (local: the client's folder; edge: the shard folder), or "".
        collection: the collection name (edge: the folder's name).
        api_key: the key sent to the server (never printed: see __repr__).
        mounts: this machine's library mount points.
        prefer_grpc: talk gRPC (port 6334) instead of REST to a server.
        timeout_s: a server request's timeout.
    """

    kind: str
    url: str = ""
    path: str = ""
    collection: str = ""
    api_key: str | None = field(default=None, repr=False)
    mounts: "LibraryMounts" = field(default_factory=lambda: LibraryMounts({}))
    prefer_grpc: bool = False
    timeout_s: float = 30.0
    shards: int | None = None  # a new collection on a cluster: its shard count (None: the server's default)
    replication: int | None = None  # ... and copies of each shard (2: a node can go down)

    def __repr__(self) -> str:
        key = "***" if self.api_key else None
        return f"StoreSpec(kind={self.kind!r}, where={self.where!r}, collection={self.collection!r}, api_key={key})"

    @property
    def where(self) -> str:
        """The store as messages name it (a URL or a folder; never the key)."""
        return f"{self.url}/{self.collection}" if self.kind == "server" else self.path


def is_store(text: str | os.PathLike | None) -> bool:
    """Whether `text` names a store (an address with a qdrant+ scheme, or a .json config file)."""
    if not text:
        return False
    text = os.fspath(text)
    return text.startswith(tuple(s + ":" for s in SCHEMES)) or text.lower().endswith(".json")


def parse_store(text: str | os.PathLike, api_key: str | None = None, mounts: dict[str, str] | None = None) -> StoreSpec:
    """A store address or config file (module docstring) as a StoreSpec.

    Args:
        text: the address, or the path of a JSON config file.
        api_key: the key (else the config file's `api_key_env` variable, else MOTION_SEARCH_QDRANT_API_KEY).
        mounts: library name -> this machine's folder (added to, and overriding, the config file's).

    Raises:
        StoreError: an address that is not one of the forms above, or an unreadable config file.
    """
    text = os.fspath(text)
    config: dict = {}
    if not text.startswith(tuple(s + ":" for s in SCHEMES)):
        config = _read_config(Path(text))
        text = str(config.get("store", ""))
    key_env = str(config.get("api_key_env") or API_KEY_ENV)
    api_key = api_key or os.environ.get(key_env) or None
    all_mounts = {str(k): str(v) for k, v in (config.get("libraries") or {}).items()}
    all_mounts.update(mounts or {})
    common = dict(api_key=api_key, mounts=LibraryMounts(all_mounts), prefer_grpc=bool(config.get("prefer_grpc", False)),
                  timeout_s=float(config.get("timeout_s", 30.0)),
                  shards=int(config["shards"]) if config.get("shards") else None,
                  replication=int(config["replication"]) if config.get("replication") else None)
    scheme, sep, rest = text.partition(":")
    if not sep or scheme not in SCHEMES:
        raise StoreError(f"{safe_text(text)}: not a store address (qdrant+http://HOST:6333/COLLECTION, "
                         "qdrant+https://..., qdrant+local:///FOLDER/COLLECTION or qdrant+edge:///FOLDER)")
    if scheme in ("qdrant+http", "qdrant+https"):
        parts = urlsplit(text[len("qdrant+"):])
        collection = parts.path.strip("/")
        if not parts.hostname or not _COLLECTION.match(collection):
            raise StoreError(f"{safe_text(text)}: a server address is qdrant+http(s)://HOST[:PORT]/COLLECTION "
                             "(letters, digits, _ . - in the collection name)")
        if parts.username or parts.password or parts.query:
            raise StoreError(f"{parts.scheme}://{parts.hostname}: put the API key in the environment "
                             f"({key_env}) or the add-on's preference, not in the address")
        port = parts.port or 6333
        return StoreSpec("server", url=f"{parts.scheme}://{parts.hostname}:{port}", collection=collection, **common)
    path = rest[2:] if rest.startswith("//") else rest  # qdrant+local:///abs/path -> /abs/path
    if not path:
        raise StoreError(f"{safe_text(text)}: give a folder ({scheme}:///FOLDER...)")
    if scheme == "qdrant+local":
        folder, _, collection = path.rstrip("/").rpartition("/")
        if not folder or not _COLLECTION.match(collection):
            raise StoreError(f"{safe_text(text)}: a local store is qdrant+local:///FOLDER/COLLECTION")
        return StoreSpec("local", path=folder, collection=collection, **common)
    path = path.rstrip("/") or "/"
    return StoreSpec("edge", path=path, collection=os.path.basename(path), **common)


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"{safe_text(path)}: store config file not found (or give an address: "
                         "qdrant+http://HOST:6333/COLLECTION)") from None
    except (OSError, ValueError) as e:
        raise StoreError(f"{safe_text(path)}: unreadable store config ({safe_text(e, 200)})") from None
    if not isinstance(config, dict) or not isinstance(config.get("store"), str):
        raise StoreError(f"{safe_text(path)}: a store config is a JSON object with \"store\" (the address)")
    if "api_key" in config:
        raise StoreError(f"{safe_text(path)}: keep the API key out of the config file: name the environment "
                         "variable that holds it (\"api_key_env\")")
    if not isinstance(config.get("libraries", {}), dict):
        raise StoreError(f"{safe_text(path)}: \"libraries\" maps library names to this machine's folders")
    return config


class LibraryMounts:
    """Library name -> this machine's folder of that library (Windows or posix style)."""

    def __init__(self, mounts: dict[str, str]):
        self.mounts = {k: v for k, v in mounts.items() if k and v}

    def __repr__(self) -> str:
        return f"LibraryMounts({self.mounts!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, LibraryMounts) and other.mounts == self.mounts

    def resolve(self, library: str, relpath: str) -> str | None:
        """The clip file on this machine (None: the library is not mounted here)."""
        mount = self.mounts.get(library)
        if mount is None:
            return None
        parts = [p for p in relpath.split("/") if p]
        if _WINDOWS_MOUNT.match(mount):
            return str(PureWindowsPath(mount, *parts))
        return str(PurePosixPath(mount.replace("\\", "/") if os.name != "nt" else mount, *parts)) \
            if os.name != "nt" else os.path.join(mount, *parts)


def relative_path(path: str, root: str) -> str | None:
    """`path` relative to library folder `root`, with "/" separators (None: not under `root`)."""
    path, root = os.path.abspath(path), os.path.abspath(root)
    try:
        rel = os.path.relpath(path, root)
    except ValueError:  # another drive (Windows)
        return None
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return None
    return rel.replace(os.sep, "/")


__all__ = ["API_KEY_ENV", "LibraryMounts", "StoreAccessError", "StoreError", "StoreSpec", "StoreUnreachableError",
           "is_store", "parse_store", "relative_path"]
