"""`python -m runtime.motion show FILE --png OUT.png` on real files."""

from __future__ import annotations

import struct
import subprocess
import sys


def _run(*args):
    return subprocess.run([sys.executable, "-m", "runtime.motion", *map(str, args)], capture_output=True, text=True)


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_show_draws_a_bandai_and_a_cmu_clip(tmp_path, bandai2, cmu_amc):
    out = tmp_path / "wave.png"
    r = _run("show", bandai2 / "dataset-2_wave-left-hand_normal_001.bvh", "--png", out)
    assert r.returncode == 0, r.stderr
    assert "rig bandai" in r.stdout and _png_size(out) == (1200, 850)
    out = tmp_path / "amc.png"
    r = _run("show", cmu_amc / "cyun9601" / "02" / "02_01.amc", "--png", out, "--fps", "120")
    assert r.returncode == 0, r.stderr
    assert "rig cmu_asf" in r.stdout and out.stat().st_size > 20_000


def test_show_reports_a_broken_file_without_a_traceback(tmp_path):
    bad = tmp_path / "broken.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\nOFFSET 0 0\n")
    r = _run("show", bad, "--png", tmp_path / "x.png")
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: {bad}:4: OFFSET needs 3 numbers")
    assert "Traceback" not in r.stderr and not (tmp_path / "x.png").exists()
