"""The index as real disks and real users treat it: bad entries in a library folder, damaged files
of every format beside good ones, `index` killed at many moments, two updates at once, damaged
index files, a tampered bundle, and bad input on the command line.

Every case runs the real command line (or LibraryIndex) on real files made here. What is promised
is written in runtime/index/store.py (commit protocol) and runtime/library/files.py (fault
domains); bench/reliability.py runs the larger campaign behind docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from runtime.errors import BundleError, LibraryIndexError
from runtime.hashing import file_sha256
from runtime.index import LibraryIndex, read_meta
from runtime.model import Bundle, default_bundle_path
from tests.reliability_cases import mutate_file

ROOT = Path(__file__).resolve().parents[2]
GOOD = ["dataset-2_walk_normal_001.bvh", "dataset-2_run_normal_001.bvh", "dataset-2_wave-left-hand_normal_001.bvh",
        "dataset-2_walk-turn-right_normal_001.bvh", "dataset-2_raise-up-both-hands_normal_001.bvh",
        "dataset-2_wave-both-hands_normal_001.bvh"]
UNPRIVILEGED = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]


def _cli(*args, timeout=300, unprivileged=False, env=None):
    cmd = [sys.executable, "-m", "runtime", *map(str, args)]
    if unprivileged and os.geteuid() == 0:  # root reads everything: drop the capabilities that let it
        cmd = UNPRIVILEGED + cmd
    return subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=ROOT, env=env)


def _text(r) -> tuple[str, str]:
    return r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def shipped():
    return Bundle.load(default_bundle_path(), device="cpu")


@pytest.fixture()
def good_lib(tmp_path, bandai2):
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in GOOD:
        shutil.copy(bandai2 / name, lib / name)
    return lib


def _ok_ids(index_path) -> set[str]:
    return {c.id for c in LibraryIndex.open(index_path).ok_clips}


# ------------------------------------------------------------------------------------ bad entries

@pytest.mark.skipif(shutil.which("setpriv") is None and os.geteuid() == 0, reason="needs setpriv to drop root's rights")
def test_bad_entries_cost_only_themselves(good_lib, tmp_path):
    """Links that loop or dangle, a file and a folder nobody may read, a FIFO, a link to /dev/zero,
    a socket: each is named with its reason, nothing hangs, every good file is indexed."""
    lib = good_lib
    os.symlink("loop.bvh", lib / "loop.bvh")
    os.symlink(lib / "missing.bvh", lib / "dangling.bvh")
    os.symlink("/dev/zero", lib / "zero.bvh")
    os.mkfifo(lib / "fifo.bvh")
    (lib / "secret.bvh").write_bytes((lib / GOOD[0]).read_bytes())
    (lib / "secret.bvh").chmod(0)
    (lib / "locked").mkdir()
    shutil.copy(lib / GOOD[1], lib / "locked" / "inside.bvh")
    (lib / "locked").chmod(0)
    os.symlink(lib, lib / "again")  # a link back up the tree
    (lib / ".hidden").mkdir()
    shutil.copy(lib / GOOD[2], lib / ".hidden" / "take.bvh")
    index = tmp_path / "idx"
    t0 = time.time()
    try:
        r = _cli("index", lib, "--index", index, "--jobs", "1", unprivileged=True, timeout=240)
    finally:
        (lib / "locked").chmod(0o755)
    out, err = _text(r)
    assert r.returncode == 0, err
    assert "Traceback" not in out + err and time.time() - t0 < 240
    assert _ok_ids(index) == {str(lib / n) for n in GOOD}  # every good file, no file twice (the link loop)
    report = json.loads((index / "report.json").read_text())
    why = {Path(p).name: w for p, w in report["not_read"]}
    why.update({Path(p).name: w for p, w in report["failed"]})
    assert "link loop" in why["loop.bvh"] and "broken link" in why["dangling.bvh"]
    assert "device" in why["zero.bvh"] and "FIFO" in why["fifo.bvh"]
    assert "permission denied" in why["locked"] and "link loop" in why["again"]
    assert "hidden" in why[".hidden"]
    assert "secret.bvh" in why and ("ermission" in why["secret.bvh"] or "cannot read" in why["secret.bvh"])
    for name in ("loop.bvh", "dangling.bvh", "zero.bvh", "fifo.bvh", "locked", "secret.bvh"):
        assert name in out  # said on the terminal too, not only in report.json


def test_names_that_are_not_utf8_or_hold_escapes_are_indexed_and_printed_safely(good_lib, tmp_path):
    lib = good_lib
    odd = os.fsencode(lib) + b"/caf\xe9_walk.bvh"  # Latin-1 bytes: not UTF-8
    shutil.copy(lib / GOOD[0], os.fsdecode(odd))
    shutil.copy(lib / GOOD[1], lib / "evil\x1b[2J\x1b[31mred.bvh")
    index = tmp_path / "idx"
    r = _cli("index", lib, "--index", index, "--jobs", "1")
    out, err = _text(r)
    assert r.returncode == 0 and "Traceback" not in err, err
    assert len(_ok_ids(index)) == len(GOOD) + 2
    r = _cli("search", "a person walks", "--index", index, "--top", len(GOOD) + 2)
    out, err = _text(r)
    assert r.returncode == 0, err
    assert "\x1b" not in out + err and "evil\\x1b[2J" in out and "caf\\xe9_walk" in out
    r = _cli("search", "a person walks", "--index", index, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)  # JSON keeps the names (escaped)


# ------------------------------------------------------------------------------ damaged motion files

def test_damaged_files_of_every_format_beside_good_ones(good_lib, cmu_amc, tmp_path):
    """Truncated files, flipped bytes, lying counts, a 200,000-digit number: each damaged file is
    indexed (if it still reads) or failed with a short message naming it; no good file is lost."""
    lib = good_lib
    bad = lib / "bad"
    bad.mkdir()
    rng = np.random.default_rng(7)
    sources = [lib / GOOD[0], lib / GOOD[3]]
    amc = sorted(cmu_amc.rglob("*.amc"))[0]
    asf = next(amc.parent.glob("*.asf"))
    made = []
    for k in range(24):
        src = sources[k % 2] if k % 3 else amc
        out = bad / f"m{k:02d}{src.suffix}"
        out.write_bytes(mutate_file(src.read_bytes(), src.suffix, rng, k))
        made.append(out)
        if src.suffix == ".amc":
            shutil.copy(asf, bad / f"m{k:02d}.asf")
    digits = (lib / GOOD[0]).read_text().replace("Frame Time:", "Frame Time: 1" + "9" * 200_000 + " #", 1)
    (bad / "huge_number.bvh").write_text(digits)
    index = tmp_path / "idx"
    r = _cli("index", lib, "--index", index, "--jobs", "2", timeout=600)
    out, err = _text(r)
    assert r.returncode == 0 and "Traceback" not in out + err, err[-2000:]
    idx = LibraryIndex.open(index)
    by_id = {c.id: c for c in idx.clips}
    assert {str(lib / n) for n in GOOD} <= {c.id for c in idx.ok_clips}  # good neighbours all there
    for f in made + [bad / "huge_number.bvh"]:
        entry = by_id.get(str(f))
        assert entry is not None, f"{f.name} vanished without a word"  # indexed or failed, never silent
        if entry.status == "failed":
            assert entry.error.startswith(str(f)) and len(entry.error) < 1200, entry.error[:300]
    assert len(by_id[str(bad / "huge_number.bvh")].error) < 1200
    report = json.loads((index / "report.json").read_text())
    assert {p for p, _ in report["failed"]} == {c.id for c in idx.clips if c.status == "failed"}


def test_a_low_limit_on_open_files_is_raised_or_named_and_never_called_damage(good_lib, tmp_path, shipped,
                                                                                 monkeypatch):
    """Every memory-mapped file holds an open file, and a large index maps up to four a chunk (a
    100k-clip library ~1,560). Under a soft limit below that (1,024 is common, macOS starts at 256)
    the search command raises it itself and searches; under a hard limit below it, it says which
    limit and what to run, and does not call the index damaged (it did: "damaged index chunk ([Errno
    24] Too many open files)", with advice to rebuild)."""
    import resource

    monkeypatch.setenv("MOTION_SEARCH_CODES_IN_MEMORY_MB", "0")  # mapped, as a large library's
    index = tmp_path / "idx"
    LibraryIndex.create(index, shipped).update([good_lib], shipped, chunk_clips=1)  # 6 chunks: 25 mapped files
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limits in ((16, hard), (16, 16)):
        r = subprocess.run([sys.executable, "-m", "runtime", "search", "a person walks", "--index", str(index)],
                           capture_output=True, timeout=300, cwd=ROOT,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limits))
        out, err = _text(r)
        if limits[1] == hard:
            assert r.returncode == 0, err[-2000:]
            assert "walk" in out.lower()
        else:
            assert r.returncode != 0 and "Traceback" not in err
            assert f"{index}: this index maps 25 files" in err and "ulimit -n" in err and "damaged" not in err


# ------------------------------------------------------------------------------------ kills and locks

DRIVER = """
import sys
from runtime.index import LibraryIndex
from runtime.model import Bundle
bundle = Bundle.load(sys.argv[1], device="cpu")
index = LibraryIndex.open_or_create(sys.argv[2], bundle)
print("start", flush=True)
index.update([sys.argv[3]], bundle, chunk_clips=2, wait_s=float(sys.argv[4]))
print("done", flush=True)
"""


def _start(index, lib, wait_s=0.0):
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(default_bundle_path()), str(index), str(lib),
                             str(wait_s)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


def _change(lib: Path, bandai2: Path, round_: int) -> None:
    """Every round changes half the files, removes one, and adds another."""
    for k, f in enumerate(sorted(lib.glob("*.bvh"))):
        if k % 2 == round_ % 2:
            with open(f, "a") as fh:
                fh.write(" \n")
    extra = sorted(bandai2.glob("dataset-2_*_active_00[1-2].bvh"))
    gone = lib / extra[round_ % len(extra)].name
    if gone.exists():
        gone.unlink()
    shutil.copy(extra[(round_ + 3) % len(extra)], lib / extra[(round_ + 3) % len(extra)].name)


def test_kill_9_at_many_moments_loses_no_clip(good_lib, bandai2, tmp_path, monkeypatch):
    """An update killed at any moment leaves the index of its last commit: every clip of a file that
    is in the library both before and after is searchable (old or new version), no clip twice. The
    updates keep their sketches mapped, as a 1M-clip library's, so each also writes the sketch pack
    (runtime.index.sketch_pack), which the index opened after a kill checks and reads."""
    monkeypatch.setenv("MOTION_SEARCH_CODES_IN_MEMORY_MB", "0")  # (the updates' processes inherit it)
    index = tmp_path / "idx"
    lib = good_lib
    p = _start(index, lib)
    assert p.wait(timeout=300) == 0, p.stderr.read().decode()
    full = _ok_ids(index)
    assert len(full) == len(GOOD)
    p = _start(index, lib)  # how long an update of the changed library takes, to spread the kills over
    _change(lib, bandai2, 0)
    t0 = time.time()
    p.wait(timeout=300)
    span = max(time.time() - t0, 2.0)
    delays = np.linspace(0.3, span, 12)
    for round_, delay in enumerate(delays, 1):
        before = _ok_ids(index)
        _change(lib, bandai2, round_)
        now = {str(f) for f in lib.glob("*.bvh")}
        p = _start(index, lib)
        time.sleep(float(delay))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=60)
        idx = LibraryIndex.open(index)  # opens: never half a commit
        ids = [c.id for c in idx.clips]
        assert len(ids) == len(set(ids)), "a clip twice"
        assert before & now <= set(ids), f"round {round_}: lost {sorted((before & now) - set(ids))}"
        assert set(ids) <= before | now
        assert idx.num_windows == sum(c.window_count for c in idx.clips)
        if idx._sketch_pack is not None:  # what the pack holds of a chunk is that chunk's sketches
            whole = np.arange(idx.num_windows)
            packed, chunked = idx.window_sketches(whole), idx._gather_mapped(idx._sketches, whole)
            for a, b in zip(packed, chunked):
                np.testing.assert_array_equal(a, b)
    p = _start(index, lib)
    assert p.wait(timeout=300) == 0
    assert _ok_ids(index) == {str(f) for f in lib.glob("*.bvh")}
    assert not [d for d in index.iterdir() if d.name.startswith(".tmp-")]
    assert [f.name for f in index.glob("*sketches-*")] == [read_meta(index)["sketch_pack"]["file"]]


def test_two_updates_at_once_never_break_the_index(good_lib, bandai2, tmp_path):
    index = tmp_path / "idx"
    first = _start(index, good_lib)
    assert first.wait(timeout=300) == 0
    for attempt in range(3):
        _change(good_lib, bandai2, attempt)
        a, b = _start(index, good_lib), _start(index, good_lib)
        ra, rb = a.wait(timeout=300), b.wait(timeout=300)
        errs = a.stderr.read().decode() + b.stderr.read().decode()
        assert sorted([ra, rb]) in ([0, 0], [0, 1]), errs[-2000:]
        if 1 in (ra, rb):
            assert "is being updated by process" in errs
        assert _ok_ids(index) == {str(f) for f in good_lib.glob("*.bvh")} or 1 in (ra, rb)
    _change(good_lib, bandai2, 5)
    a, b = _start(index, good_lib, wait_s=120), _start(index, good_lib, wait_s=120)  # the second waits
    assert a.wait(timeout=300) == 0 and b.wait(timeout=300) == 0
    assert _ok_ids(index) == {str(f) for f in good_lib.glob("*.bvh")}


def test_a_second_update_says_who_holds_the_index(good_lib, tmp_path, shipped):
    from runtime.index import IndexLock

    index = LibraryIndex.create(tmp_path / "idx", shipped)
    with IndexLock(index.path):
        r = _cli("index", good_lib, "--index", index.path, "--jobs", "1")
        out, err = _text(r)
        assert r.returncode == 1 and f"being updated by process {os.getpid()}" in err and "Traceback" not in err
        hits = _cli("search", "a person walks", "--index", index.path)  # searching never waits for a writer
        assert hits.returncode == 0
    assert _cli("index", good_lib, "--index", index.path, "--jobs", "1").returncode == 0


@pytest.mark.skipif(os.name == "nt", reason="the holder below takes a POSIX flock")
@pytest.mark.parametrize("writes_name_after_s", [0.3, None])
def test_a_writer_meeting_a_holder_before_it_wrote_its_name_waits_a_moment_for_it(tmp_path, writes_name_after_s):
    """A holder locks first and writes who it is just after: a second writer that fails in between
    waits up to HOLDER_GRACE_S for the name (what the race of two updates met), and says "another
    process" only when none comes."""
    from runtime.index import IndexLock
    from runtime.index.lock import HOLDER_GRACE_S, LOCK_NAME

    lock = tmp_path / LOCK_NAME
    lock.write_bytes(b"\0")
    write = "" if writes_name_after_s is None else (
        f"time.sleep({writes_name_after_s}); os.lseek(fd, 1, 0); "
        "os.write(fd, json.dumps({'pid': os.getpid(), 'host': 'h', 'since': 's'}).encode()); ")
    holder = subprocess.Popen([sys.executable, "-c",
                               "import fcntl, json, os, sys, time; "
                               f"fd = os.open({str(lock)!r}, os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX); "
                               "print('locked', flush=True); " + write + "time.sleep(30)"],
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"locked"
        t0 = time.monotonic()
        with pytest.raises(LibraryIndexError) as caught:
            with IndexLock(tmp_path, wait_s=0):
                pass
        waited = time.monotonic() - t0
    finally:
        holder.kill()
        holder.wait()
    if writes_name_after_s is None:
        assert "being updated by another process" in str(caught.value) and waited >= HOLDER_GRACE_S
    else:
        assert f"being updated by process {holder.pid} on h" in str(caught.value) and waited < HOLDER_GRACE_S


# --------------------------------------------------------------------------------- damaged index files

@pytest.mark.parametrize("damage", ["empty codes", "flipped byte in codes", "flipped byte in metadata",
                                    "truncated clips", "missing parts"])
def test_damaged_index_files_are_named_and_rebuilt(damage, good_lib, tmp_path):
    index = tmp_path / "idx"
    assert _cli("index", good_lib, "--index", index, "--jobs", "1").returncode == 0
    chunk = next(d for d in index.iterdir() if d.name.startswith("chunk-"))
    target = {"empty codes": chunk / "codes.npy", "flipped byte in codes": chunk / "codes.npy",
              "flipped byte in metadata": index / "metadata.json", "truncated clips": chunk / "clips.json",
              "missing parts": chunk / "parts.npy"}[damage]
    if damage == "missing parts":
        target.unlink()
    elif damage == "empty codes":
        target.write_bytes(b"")
    elif damage == "truncated clips":
        target.write_bytes(target.read_bytes()[:100])
    else:
        data = bytearray(target.read_bytes())
        at = len(data) - 40 if "codes" in damage else data.index(b'"embed_dim"') + 14
        data[at] = data[at] ^ 0x01
        target.write_bytes(bytes(data))
    with pytest.raises(LibraryIndexError, match=f"{target.name}.*(damaged|missing).*--rebuild"):
        LibraryIndex.open(index)
    r = _cli("search", "a person walks", "--index", index)
    out, err = _text(r)
    assert r.returncode == 1 and target.name in err and "--rebuild" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 2  # the model line and the error
    r = _cli("index", good_lib, "--index", index)  # an update refuses too: it never guesses
    assert r.returncode == 1
    r = _cli("index", good_lib, "--index", index, "--rebuild")
    out, err = _text(r)
    assert r.returncode == 0 and "rebuilding it" in err, err
    assert _ok_ids(index) == {str(good_lib / n) for n in GOOD}
    assert _cli("search", "a person walks", "--index", index).returncode == 0


# ------------------------------------------------------------------------------------- the bundle

@pytest.mark.parametrize("tamper", ["no files list", "file outside", "loaded file not listed", "hop 0",
                                    "changed encoder", "linked outside", "window not whole patches", "not json",
                                    "sentence encoder not listed", "changed sentence encoder", "changed reference",
                                    "reference of no neighbours", "reference of other vectors"])
def test_a_tampered_bundle_is_refused(tamper, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(default_bundle_path(), bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    if tamper == "no files list":
        del manifest["files"]
    elif tamper == "file outside":
        manifest["files"]["../../etc/hostname"] = "0" * 64
    elif tamper == "loaded file not listed":
        shutil.copy(bundle / "text_encoder.onnx", bundle / "other.onnx")
        manifest["text_encoder"]["file"] = "other.onnx"
    elif tamper == "sentence encoder not listed":
        del manifest["files"][manifest["sentence_encoder"]["file"]]
    elif tamper == "changed sentence encoder":
        data = bytearray((bundle / "sentence_encoder.onnx").read_bytes())
        data[-100] ^= 0xFF
        (bundle / "sentence_encoder.onnx").write_bytes(bytes(data))
    elif tamper == "changed reference":
        data = bytearray((bundle / "reference.onnx").read_bytes())
        data[-100] ^= 0xFF
        (bundle / "reference.onnx").write_bytes(bytes(data))
    elif tamper == "reference of no neighbours":
        manifest["reference"]["neighbours"] = 0
    elif tamper == "reference of other vectors":  # listed with its hash, but not the encoders' sizes
        import numpy as np
        import onnx

        from exporter.make_reference import reference_graph

        onnx.save(reference_graph(np.eye(4, 3), np.eye(4, 5)), bundle / "reference.onnx")
        manifest["files"]["reference.onnx"] = file_sha256(bundle / "reference.onnx")
    elif tamper == "hop 0":
        manifest["hop"] = 0
    elif tamper == "window not whole patches":
        manifest["window"] = 225
    elif tamper == "changed encoder":
        data = bytearray((bundle / "motion_encoder.onnx").read_bytes())
        data[-100] ^= 0xFF
        (bundle / "motion_encoder.onnx").write_bytes(bytes(data))
    elif tamper == "linked outside":
        outside = tmp_path / "elsewhere.onnx"
        shutil.move(bundle / "motion_encoder.onnx", outside)
        os.symlink(outside, bundle / "motion_encoder.onnx")
    if tamper == "not json":
        (bundle / "manifest.json").write_text("[" * 100_000)
    else:
        (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as e:
        Bundle.load(bundle, device="cpu")
    assert str(bundle) in str(e.value) and len(str(e.value)) < 600
    r = _cli("search", "a person walks", "--bundle", bundle, "--index", tmp_path / "none")
    out, err = _text(r)
    assert r.returncode == 1 and "Traceback" not in err and str(bundle) in err


# ------------------------------------------------------------------------------------ inputs

def test_search_inputs_are_checked_at_the_edge(good_lib, tmp_path):
    index = tmp_path / "idx"
    assert _cli("index", good_lib, "--index", index, "--jobs", "1").returncode == 0
    for top in ("0", "-1", "x"):
        r = _cli("search", "a person walks", "--index", index, "--top", top)
        out, err = _text(r)
        assert r.returncode == 2 and "--top" in err and "Traceback" not in err
    for query in ("😀😀😀", "!!! ???"):
        r = _cli("search", query, "--index", index)
        out, err = _text(r)
        assert r.returncode == 1 and "no words the model knows" in err and not out.strip()
    r = subprocess.run([sys.executable, "-m", "runtime", "search", b"a person walks \xff\xfe", "--index", str(index)],
                       capture_output=True, cwd=ROOT)
    assert r.returncode == 0 and b"Traceback" not in r.stderr
    queries = tmp_path / "queries.txt"
    queries.write_bytes(b"a person walks\n\xf0\x9f\x98\x80\n\nsomeone bows\nbad \xff bytes\na person waves\n")
    r = _cli("search", "--queries", queries, "--index", index, "--top", 3)
    out, err = _text(r)
    lines = [json.loads(ln) for ln in out.splitlines()]
    assert r.returncode == 1 and len(lines) == 5  # one answer per non-empty line, in order
    assert isinstance(lines[0], list) and len(lines[0]) == 3 and isinstance(lines[4], list)
    assert lines[1] == {"line": 2, "error": lines[1]["error"]} and "no words" in lines[1]["error"]
    assert lines[3] == {"line": 5, "error": "not UTF-8 text"}
    assert f"{queries}:2:" in err and f"{queries}:5:" in err and "Traceback" not in err


def test_rig_map_errors_name_the_file(good_lib, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    broken = tmp_path / "broken.json"
    broken.write_text('{"left_hip": ')
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"left_hip": 3}')
    for path in (deep, broken, wrong, tmp_path / "missing.json"):
        r = _cli("index", good_lib, "--index", tmp_path / "idx", "--rig-map", path)
        out, err = _text(r)
        assert r.returncode == 1 and str(path) in err and "Traceback" not in err, err
        assert len(err) < 1200


def test_a_library_file_mapped_unsure_is_indexed_and_reported(good_lib, tmp_path):
    """A real skeleton with arms as long as its legs and meaningless bone names: mapped by its shape
    without enough evidence; indexed, and the update says which joints to check."""
    from runtime.io import Animation, read_bvh, write_bvh
    from tests.runtime.humanoid_skeletons import renamed

    anim = read_bvh(good_lib / GOOD[2])
    offsets, translations = anim.offsets.copy(), anim.translations.copy()
    for name in ("LowerArm_L", "LowerArm_R", "Hand_L", "Hand_R"):
        j = anim.names.index(name)
        offsets[j] *= 1.7
        translations[:, list(anim.translation_joints).index(j)] *= 1.7
    odd = Animation(path=anim.path, names=anim.names, parents=anim.parents, offsets=offsets, axes=anim.axes,
                    angles=anim.angles, translation_joints=anim.translation_joints, translations=translations,
                    fps=anim.fps, end_site=anim.end_site)
    write_bvh(renamed(odd)[0], good_lib / "long_arms.bvh")
    index = tmp_path / "idx"
    r = _cli("index", good_lib, "--index", index, "--jobs", "1")
    out, err = _text(r)
    assert r.returncode == 0 and "1 with an unsure bone map" in out
    assert f"indexed, but check its bone map: {good_lib / 'long_arms.bvh'}: mapped by the skeleton's shape" in out
    report = json.loads((index / "report.json").read_text())
    assert [Path(p).name for p, _ in report["unsure"]] == ["long_arms.bvh"]
    assert str(good_lib / "long_arms.bvh") in _ok_ids(index)


def test_compaction_rewrites_live_clips_in_one_commit(good_lib, shipped, tmp_path):
    """When more than 30% of the entries are dropped, an update rewrites the live ones into fresh
    chunks, commits them in one metadata write, and deletes the old chunks: same clips, same patches."""
    index = LibraryIndex.create(tmp_path / "idx", shipped)
    index.update([good_lib], shipped, chunk_clips=2)
    before = {c.id: index.window_patches([c.window_start])[0] for c in index.ok_clips}
    old_chunks = set(index.meta["chunks"])
    gone = sorted(good_lib.glob("*.bvh"))[:3]
    for f in gone:
        f.unlink()
    r = index.update([good_lib], shipped, chunk_clips=2)
    assert r.removed == 3
    after = LibraryIndex.open(index.path, shipped)
    assert not set(after.meta["chunks"]) & old_chunks and after.meta["dropped"] == {}
    assert sorted(d.name for d in index.path.iterdir() if d.name.startswith("chunk-")) == sorted(after.meta["chunks"])
    assert {c.id for c in after.ok_clips} == set(before) - {str(f) for f in gone}
    for c in after.ok_clips:  # the codes decode to what they were (int8 re-encoded from its own decoding)
        assert np.abs(after.window_patches([c.window_start])[0] - before[c.id]).max() < 0.02
    assert index.update([good_lib], shipped).unchanged == len(after.ok_clips)
