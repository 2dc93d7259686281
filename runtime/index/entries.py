"""What the index records per clip (clips.json of each chunk) and what an update reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class ClipEntry:
    """One clip of the library (a file, or a motion handed over in memory such as a Blender action)."""

    id: str
    path: str
    label: str
    content_hash: str
    size: int = 0
    mtime_ns: int = 0
    fps_override: float | None = None
    rig_map: str = ""  # hash of the user's bone mapping it was read with ("" = none)
    source_fps: float = 0.0
    source_frames: int = 0
    first_source_frame: int = 0
    frames: int = 0  # at 20 fps
    rig: str = ""
    status: str = "ok"  # "ok" or "failed"
    error: str = ""
    description: str | None = None  # one sentence (runtime.describe); "" if none; None: not described yet (v2)
    rig_unsure: str = ""  # the rig was mapped by its shape without enough evidence: which joints, why
    captions: list[str] | None = None  # the texts of its sentence vector (runtime.index.descriptions); None: not yet
    window_start: int = field(default=0, compare=False)  # global window index, set on load
    window_count: int = field(default=0, compare=False)

    def source_frame(self, frame20: float) -> float:
        """The clip file's frame at a 20 fps frame of the clip."""
        return self.first_source_frame + frame20 * self.source_fps / 20.0


def entry_json(e: ClipEntry) -> dict:
    d = asdict(e)
    d.pop("window_start")
    d.pop("window_count")
    return d


@dataclass
class UpdateReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    described: int = 0  # unchanged clips of an upgraded index described without encoding them again
    failed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0
    converted: int = 0  # FBX / glTF / .blend files read by Blender in this update (not from the cache)
    not_read: list[tuple[str, str]] = field(default_factory=list)  # (file, why): not motion files, no Blender
    unsure: list[tuple[str, str]] = field(default_factory=list)  # (clip, which joints): indexed, rig map unsure

    def summary(self) -> str:
        s = (f"{self.added} added, {self.updated} updated, {self.removed} removed, {self.unchanged} unchanged, "
             f"{len(self.failed)} failed")
        if self.described:
            s += f", {self.described} described"
        if self.converted:
            s += f", {self.converted} file{'s' if self.converted != 1 else ''} converted by Blender"
        if self.not_read:
            s += f", {len(self.not_read)} file{'s' if len(self.not_read) != 1 else ''} not read"
        if self.unsure:
            s += f", {len(self.unsure)} with an unsure bone map"
        return s + (" (cancelled: the rest stays for the next update)" if self.cancelled else "") + \
            f" in {self.seconds:.1f} s"
