"""The one-way doors: runtime (and the add-on) never pull torch, timm, transformers or bpy."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import runtime

FORBIDDEN = ("torch", "timm", "transformers", "bpy", "torchvision")
# Runs inside Blender, started by path (runtime.io.blender_files), never imported: the one bpy user under runtime/.
IN_BLENDER = "runtime.io.blender_worker"


def test_runtime_imports_without_torch_or_bpy():
    modules = sorted(m.name for m in pkgutil.walk_packages(runtime.__path__, "runtime.")
                     if not m.name.endswith("__main__") and m.name != IN_BLENDER)
    assert "runtime.io.blender_files" in modules  # every other module is import-checked
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"runtime imported {out.stdout.strip()}"
    assert len(modules) >= 10


def test_no_forbidden_import_statements_under_runtime_and_addon():
    root = Path(__file__).resolve().parent.parent
    for folder in ("runtime", "blender_addon"):
        for path in (root / folder).rglob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                words = line.strip().split()
                if len(words) >= 2 and words[0] in ("import", "from"):
                    top = words[1].split(".")[0]
                    assert top not in FORBIDDEN[:3] + ("torchvision",), f"{path}: {line.strip()}"
                    if folder == "runtime" and path != root / (IN_BLENDER.replace(".", "/") + ".py"):
                        assert top != "bpy", f"{path}: {line.strip()}"
