"""Fuzzing the BVH path with mutated real files: a clear error every time, no crash, no hang,
memory bounded by the file's size (never by what its header claims)."""

from __future__ import annotations

import os
import signal
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.errors import MotionSearchError
from runtime.motion import load_motion

SOURCES = ["bandai-namco-2/data/dataset-2_wave-left-hand_normal_001.bvh", "cmu-bvh/mb-tmoco/02_01.bvh",
           "cmu-bvh/daz-przestr/09/09_02.bvh"]


class Originals(dict):
    """The source files' bytes (a dict whose repr stays short in hypothesis reports)."""

    def __repr__(self) -> str:
        return f"Originals({list(self)})"


@pytest.fixture(scope="module")
def originals(bandai2, cmu_bvh) -> Originals:
    root = bandai2.parent.parent  # the cache folder holding every extracted archive
    return Originals({name: (root / name).read_bytes() for name in SOURCES})


@contextmanager
def deadline(seconds: int):
    """Fail (instead of hanging the suite) if the block runs longer than `seconds`."""
    def _raise(signum, frame):
        raise AssertionError(f"no result after {seconds} s: the reader hangs")
    old = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def check(tmp_path: Path, data: bytes, name: str = "mutant.bvh") -> str:
    """Load mutated bytes: the outcome is a Motion or a MotionSearchError that names the file."""
    path = tmp_path / name
    path.write_bytes(data)
    tracemalloc.start()
    try:
        with deadline(30):
            try:
                motion = load_motion(path)
            except MotionSearchError as e:
                assert str(path) in str(e), e
                assert "\n" not in str(e)
                return "error"
        assert np.isfinite(motion.positions).all()
        return "ok"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 40 * len(data) + 32 * 2**20, f"peak {peak / 2**20:.0f} MiB for a {len(data)} byte file"


@settings(max_examples=int(os.environ.get('FUZZ_EXAMPLES', 60)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from(SOURCES), cut=st.floats(0.0, 1.0))
def test_truncated_anywhere(tmp_path, originals, source, cut):
    data = originals[source]
    check(tmp_path, data[: int(len(data) * cut)])


GARBAGE = [b"nan", b"-inf", b"1e999", b"abc", b"1.2.3", b"", b"}", b"{", b"0x10", b"--1", b"\xff\xfe", b"1e308"]


@settings(max_examples=int(os.environ.get('FUZZ_EXAMPLES', 80)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from(SOURCES), where=st.floats(0.0, 1.0), junk=st.sampled_from(GARBAGE))
def test_a_token_replaced_by_garbage(tmp_path, originals, source, where, junk):
    tokens = originals[source].split(b" ")
    k = int(where * (len(tokens) - 1))
    tokens[k] = junk
    check(tmp_path, b" ".join(tokens))


@settings(max_examples=int(os.environ.get('FUZZ_EXAMPLES', 40)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from(SOURCES), seed=st.integers(0, 2**32 - 1))
def test_random_bytes_flipped(tmp_path, originals, source, seed):
    rng = np.random.default_rng(seed)
    data = bytearray(originals[source])
    for pos in rng.integers(0, len(data), 8):
        data[pos] = int(rng.integers(0, 256))
    check(tmp_path, bytes(data))


@pytest.mark.parametrize("claim", [b"0", b"-5", b"999999999999", b"1e9", b"12abc"])
def test_frame_count_claims(tmp_path, originals, claim):
    data = originals[SOURCES[0]]
    head, _, rest = data.partition(b"Frames:")
    line, nl, tail = rest.partition(b"\n")
    assert check(tmp_path, head + b"Frames: " + claim + nl + tail) == "error"


def test_deep_nesting_is_refused_quickly(tmp_path):
    depth = 5000
    text = ["HIERARCHY", "ROOT r", "{", "OFFSET 0 0 0", "CHANNELS 3 Xrotation Yrotation Zrotation"]
    for i in range(depth):
        text += [f"JOINT j{i}", "{", "OFFSET 0 1 0", "CHANNELS 3 Xrotation Yrotation Zrotation"]
    text += ["}"] * (depth + 1) + ["MOTION", "Frames: 1", "Frame Time: 0.1", " ".join(["0"] * 3 * (depth + 1))]
    assert check(tmp_path, "\n".join(text).encode()) == "error"


@pytest.mark.parametrize("data", [b"", b"\x00" * 100, b"HIERARCHY\n", b"MOTION\nFrames: 1\n", bytes(range(256)) * 10])
def test_not_a_bvh(tmp_path, data):
    assert check(tmp_path, data) == "error"


def test_zero_length_skeleton_is_an_error(tmp_path, originals):
    # every OFFSET zeroed: no body to measure
    lines = originals[SOURCES[0]].split(b"\n")
    lines = [b"OFFSET 0 0 0" if ln.strip().startswith(b"OFFSET") else ln for ln in lines]
    motion_at = next(i for i, ln in enumerate(lines) if ln.strip() == b"MOTION")
    frames = [b" ".join(b"0" for _ in ln.split()) if i > motion_at + 2 and ln.strip() else ln for i, ln in enumerate(lines)]
    assert check(tmp_path, b"\n".join(frames)) == "error"
