"""Clip descriptions in the index (runtime.describe's summary per clip): stored while indexing,
"" for a clip too short to describe, returned by search, and filled in for the clips of an index
upgraded from v2 by the next update without encoding them again. With the shipped model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from runtime.hashing import motion_hash
from runtime.index import INDEX_VERSION, LibraryIndex, chunk_checksums, write_metadata
from runtime.library import MotionItem
from runtime.model import Bundle, default_bundle_path
from runtime.motion import load_motion
from runtime.search import Searcher

CLIPS = ("dataset-2_wave-right-hand_active_001.bvh", "dataset-2_walk_normal_001.bvh",
         "dataset-2_raise-up-left-hand_normal_001.bvh")


@pytest.fixture(scope="module")
def bundle():
    return Bundle.load(default_bundle_path(), device="cpu")


@pytest.fixture(scope="module")
def library(tmp_path_factory, bandai2):
    """Three real Bandai clips and one cut to 8 frames (0.27 s: too short to describe)."""
    lib = tmp_path_factory.mktemp("lib")
    for name in CLIPS:
        shutil.copy(bandai2 / name, lib / name)
    head, motion = (bandai2 / CLIPS[1]).read_text().split("MOTION\n")
    lines = motion.splitlines()
    (lib / "short.bvh").write_text(head + "MOTION\nFrames: 8\n" + "\n".join(lines[1:10]) + "\n")
    return lib


@pytest.fixture(scope="module")
def wave_item(bandai2):
    m = load_motion(bandai2 / CLIPS[0])
    return MotionItem("blend:Wave", m, motion_hash(m), "Wave")


@pytest.fixture(scope="module")
def built(library, wave_item, bundle, tmp_path_factory):
    path = tmp_path_factory.mktemp("idx") / "index"
    report = LibraryIndex.create(path, bundle).update([library], bundle, motions=[wave_item])
    assert report.added == 5 and not report.failed
    return path


def _descriptions(index: LibraryIndex) -> dict[str, str | None]:
    return {c.label: c.description for c in index.clips}


def test_each_clip_gets_its_sentence_and_a_short_one_gets_none(built, bundle):
    index = LibraryIndex.open(built, bundle)
    d = _descriptions(index)
    assert "wave" in d["dataset-2_wave-right-hand_active_001"] and "right" in d["dataset-2_wave-right-hand_active_001"]
    assert "walk" in d["dataset-2_walk_normal_001"]
    assert "left" in d["dataset-2_raise-up-left-hand_normal_001"]
    assert d["Wave"] == d["dataset-2_wave-right-hand_active_001"]  # a Blender action: the same motion
    short = next(c for c in index.clips if c.label == "short")
    assert short.status == "ok" and short.description == "" and short.window_count == 1  # indexed all the same
    assert json.loads((built / "metadata.json").read_text())["format_version"] == INDEX_VERSION == 6
    hit = Searcher(index, bundle).search("a person waves the right hand", k=5)
    assert {h.label: h.description for h in hit} == d


def test_search_json_and_text_show_descriptions(built, library):
    base = [sys.executable, "-m", "runtime", "search", "--index", str(built), "--bundle", str(default_bundle_path())]
    r = subprocess.run(base + ["a person walks", "--json", "--top", "5"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert len(hits) == 5 and all("description" in h for h in hits)
    walk = next(h for h in hits if h["path"].endswith(CLIPS[1]))
    assert "walk" in walk["description"]
    queries = library.parent / "queries.txt"
    queries.write_text("a person waves\n")
    r = subprocess.run(base + ["--queries", str(queries), "--top", "2"], capture_output=True, text=True)
    assert r.returncode == 0 and all("description" in h for h in json.loads(r.stdout))
    r = subprocess.run(base + ["someone waves the right hand", "--top", "5"], capture_output=True, text=True)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and len(lines) == 1 + 5 + 4  # the short clip has no description line
    below = lines[next(i for i, ln in enumerate(lines) if ln.endswith(CLIPS[0])) + 1]
    assert below.startswith("      ") and "wave" in below and "right" in below


def test_a_v2_index_is_upgraded_and_described_without_encoding_again(built, library, wave_item, bundle,
                                                                     tmp_path, monkeypatch):
    want = _descriptions(LibraryIndex.open(built, bundle))
    old = tmp_path / "v2"
    shutil.copytree(built, old)
    for clips_json in old.glob("chunk-*/clips.json"):  # what v2 wrote: no description field
        clips_json.write_text(json.dumps([{k: v for k, v in c.items() if k != "description"}
                                          for c in json.loads(clips_json.read_text())]))
    meta = json.loads((old / "metadata.json").read_text())
    (old / "metadata.json").write_text(json.dumps(dict(meta, format_version=2)))

    index = LibraryIndex.open(old, bundle)  # upgraded in place: no description yet, no encoding
    assert json.loads((old / "metadata.json").read_text())["format_version"] == INDEX_VERSION
    arrays = {p.relative_to(old): p.read_bytes() for p in old.glob("chunk-*/*.npy") if not p.name.startswith("sentences")}
    assert set(_descriptions(index).values()) == {None}
    hits = Searcher(index, bundle).search("a person waves", k=5)  # searchable meanwhile
    assert len(hits) == 5 and {h.description for h in hits} == {""}

    encoded = []
    real = bundle.encode_windows
    monkeypatch.setattr(bundle, "encode_windows", lambda *a, **k: encoded.append(1) or real(*a, **k))
    report = index.update([library], bundle, motions=[wave_item])
    assert not encoded and (report.added, report.updated, report.unchanged, report.described) == (0, 0, 5, 5)
    assert "5 described" in report.summary()
    assert _descriptions(index) == want == _descriptions(LibraryIndex.open(old, bundle))
    assert {p.relative_to(old): p.read_bytes() for p in old.glob("chunk-*/*.npy")
            if not p.name.startswith("sentences")} == arrays  # no new patches (v6: new sentence vectors)
    assert json.loads((old / "metadata.json").read_text())["chunks"] == meta["chunks"]
    assert not list(old.glob("chunk-*/.*"))  # no temporary files left
    assert index.update([library], bundle, motions=[wave_item]).described == 0  # once only


def test_descriptions_of_another_describer_are_redone_without_encoding(tmp_path, monkeypatch, bundle, bandai2):
    """A newer describer (another `runtime.describe.version()`) redescribes every clip on the next
    update, and encodes none of them again."""
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in CLIPS[:2]:
        shutil.copy(bandai2 / name, lib / name)
    index = LibraryIndex.create(tmp_path / "index", bundle)
    index.update([str(lib)], bundle)
    meta_path = tmp_path / "index" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    assert meta["describer"]
    meta["describer"] = "an-older-one"
    for chunk in meta["chunks"]:  # what the older describer wrote (and the checksums it recorded)
        clips = tmp_path / "index" / chunk / "clips.json"
        clips.write_text(json.dumps([dict(c, description="old words") for c in json.loads(clips.read_text())]))
        meta["checksums"][chunk] = chunk_checksums(clips.parent)
    write_metadata(tmp_path / "index", meta)

    encoded = []
    real = Bundle.encode_windows
    monkeypatch.setattr(Bundle, "encode_windows", lambda self, *a, **k: encoded.append(1) or real(self, *a, **k))
    index = LibraryIndex.open(tmp_path / "index", bundle)
    report = index.update([str(lib)], bundle)
    assert report.described == 2 and not encoded
    assert all(c.description and c.description != "old words" for c in index.ok_clips)
    assert json.loads(meta_path.read_text())["describer"] != "an-older-one"
    assert index.update([str(lib)], bundle).described == 0
