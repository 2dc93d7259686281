"""The Shared Library: a studio's index in Qdrant (runtime.studio), searched beside the local one.

Its preferences (Preferences > Add-ons > Motion Search > Shared Library) name the server and the
collection, and this machine's folder of each library ("mocap=Z:\\Mocap; stock=/mnt/stock"):
Apply reads a shared hit's clip from this machine's own mount of its library. The API key is not a
property: it is kept in a file of the add-on's user folder readable by this user only (Set API Key),
or comes from the environment (MOTION_SEARCH_QDRANT_API_KEY); it is never in a .blend (userpref.blend
included), a report or a log line. A server that cannot be reached, or refuses the key, is one
warning after the local results, never a traceback.
No bpy at module level: the pure parts (addresses, mounts, merging, the key file) are plain Python.
"""

from __future__ import annotations

import os

KEY_FILE = "shared_library_key"


def store_address(server: str, collection: str) -> str:
    """The runtime.studio address of a server URL and a collection ("" when not set). A full address
    (qdrant+http(s)://..., qdrant+edge:///folder) or a config file (.json) is taken as it is."""
    server = server.strip()
    if not server:
        return ""
    if server.startswith("qdrant+") or server.lower().endswith(".json"):
        return server
    if "://" not in server:
        server = "http://" + server
    return f"qdrant+{server.rstrip('/')}/{collection.strip() or 'motion'}"


def parse_mounts(text: str) -> dict[str, str]:
    """"name=folder; name=folder" as a dict (entries without "=" are ignored)."""
    out = {}
    for item in text.split(";"):
        name, sep, folder = item.partition("=")
        if sep and name.strip() and folder.strip():
            out[name.strip()] = folder.strip()
    return out


def read_key(path: str) -> str | None:
    """The API key kept in `path`, else the environment's, else None."""
    try:
        with open(path, encoding="utf-8") as f:
            key = f.read().strip()
        if key:
            return key
    except OSError:
        pass
    from runtime.studio import API_KEY_ENV

    return os.environ.get(API_KEY_ENV) or None


def write_key(path: str, key: str) -> None:
    """Keep `key` in `path`, readable and writable by this user only ("" removes it)."""
    if not key.strip():
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key.strip())
    os.chmod(path, 0o600)


def merge(local: list, shared: list, k: int) -> list:
    """The local and shared hits in one list, best score first (both on the same scale), `k` at most."""
    return sorted([*local, *shared], key=lambda h: -float(h.score))[:k]


def unmounted_library(clip_id: str, path: str) -> str | None:
    """The library of a shared hit whose library is not mounted here ("lib:clip" id, no path), else None."""
    if path or ":" not in clip_id or clip_id.startswith("blend:"):
        return None
    library, _, rest = clip_id.partition(":")
    return library if library and not os.path.isabs(clip_id) and "/" not in library and "\\" not in library else None
