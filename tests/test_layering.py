"""runtime/'s layout: each sub-package imports only the floors below it, no module circles, and code
outside a sub-package uses its public names (`from runtime.motion import load_motion`), not its files.

Every import counts, also one inside a function: a deferred import is still an arrow, and the
circles this layout removed (index -> library files -> Blender files -> index; motion <-> plots)
were deferred ones. Entry points (`__main__` modules, runtime/cli.py) may import anything.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# unit -> the units it may import. A unit is a sub-package of runtime/ or one of its single modules.
BASE = {"errors": set(), "hashing": set(), "progress": set(), "shared_data": set()}
ALLOWED: dict[str, set[str]] = {
    **BASE,
    "io": {"errors", "hashing"},
    "motion": {"io", "errors", "hashing"},
    "describe": {"motion", "errors", "shared_data"},
    "model": {"motion", "errors", "hashing"},
    "retarget": {"motion", "io", "errors"},
    "library": {"io", "motion", "errors", "hashing"},
    "index": {"library", "describe", "motion", "errors", "hashing"},
    "search": {"index", "model", "motion", "errors", "hashing"},
    "video": {"motion", "retarget", "io", "errors"},  # video -> motion; mediapipe imported lazily
    "plots": {"motion"},  # pictures; an explanation is passed in, not imported
    "studio": {"index", "search", "model", "motion", "describe", "io", "errors", "hashing", "shared_data"},  # shared library on Qdrant (imported lazily)
}
ENTRY_POINTS = {"cli", "__main__"}  # and every sub-package's __main__
SUB_PACKAGES = sorted(u for u in ALLOWED if (ROOT / "runtime" / u).is_dir())


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((ROOT / "runtime").rglob("*.py"))}


def imports_of(path: Path, known: set[str] | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, at any depth; `from pkg import mod`
    counts as an import of `pkg.mod` when that is a module in `known`."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            for a in node.names:
                full = f"{module}.{a.name}"
                out.append((node.lineno, full if known and full in known else module))
    return out


def unit_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "runtime"


def is_entry_point(module: str) -> bool:
    return module.rsplit(".", 1)[-1] == "__main__" or unit_of(module) in ENTRY_POINTS


def module_arrows() -> set[tuple[str, str]]:
    mods = runtime_modules()
    arrows = set()
    for name, path in mods.items():
        for _, target in imports_of(path, set(mods)):
            while target and target not in mods:  # `from runtime.motion.rigs import x` -> that module
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("runtime"):
                arrows.add((name, target))
    return arrows


def test_every_unit_of_runtime_is_in_the_table():
    units = {unit_of(m) for m in runtime_modules()} - {"runtime"} - ENTRY_POINTS - {"__main__"}
    assert units == set(ALLOWED), f"add {units - set(ALLOWED)} to ALLOWED (or drop {set(ALLOWED) - units})"


def floor_violations(arrows) -> list[str]:
    bad = []
    for source, target in arrows:
        a, b = unit_of(source), unit_of(target)
        if a == b or is_entry_point(source) or b == "runtime":
            continue
        if b not in ALLOWED.get(a, set()):
            bad.append(f"{source} -> {target} ({a} may import {sorted(ALLOWED.get(a, ())) or 'nothing'})")
    return sorted(bad)


def find_circle(arrows) -> list[str] | None:
    """One import circle among the arrows (entry points left out), or None."""
    graph = defaultdict(set)
    for a, b in arrows:
        if not is_entry_point(a):
            graph[a].add(b)
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(m: str, stack: list[str]) -> list[str] | None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [m, n] if n in stack else [m, n]
            if n not in state and (found := visit(n, stack + [m])):
                return found
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m, [])):
            return found
    return None


def test_sub_packages_import_only_lower_floors():
    bad = floor_violations(module_arrows())
    assert not bad, "\n".join(bad)


def test_the_table_itself_has_no_circle():
    table_arrows = {(f"runtime.{u}", f"runtime.{v}") for u, vs in ALLOWED.items() for v in vs}
    assert find_circle(table_arrows) is None


def test_no_import_circles_between_modules():
    circle = find_circle(module_arrows())
    assert circle is None, "import circle: " + " -> ".join(circle)


def test_the_checks_catch_what_they_are_for():
    real = module_arrows()
    assert len(real) > 50 and any(unit_of(a) != unit_of(b) for a, b in real)
    upward = real | {("runtime.motion.canonical", "runtime.index.store")}  # a lower floor importing a higher one
    assert floor_violations(upward) == ["runtime.motion.canonical -> runtime.index.store "
                                        "(motion may import ['errors', 'hashing', 'io'])"]
    assert find_circle(real | {("runtime.io.bvh", "runtime.io.animation"), ("runtime.io.animation", "runtime.io.bvh")})
    assert find_circle({("runtime.motion.__main__", "runtime.cli"), ("runtime.cli", "runtime.motion.canonical")}) is None


def test_public_names_come_from_the_sub_package():
    """Outside a sub-package, import from the sub-package itself; its files are its own business."""
    deep = re.compile(r"^runtime\.(" + "|".join(SUB_PACKAGES) + r")\.")
    bad = []
    for folder in ("runtime", "blender_addon", "training", "exporter", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            here = _module_name(path) if folder == "runtime" else ""
            for line, target in imports_of(path):
                if deep.match(target) and unit_of(target) != unit_of(here):
                    bad.append(f"{path.relative_to(ROOT)}:{line}: {target}")
    assert not bad, "import these from their sub-package:\n" + "\n".join(bad)


def test_each_sub_package_says_what_it_holds_and_may_import():
    for unit in SUB_PACKAGES:
        init = ROOT / "runtime" / unit / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        found = re.search(r"May import:(.*?)\.(?:\s|$)", doc, re.S)
        assert found, f"{init}: the docstring says what the sub-package holds and 'May import: ...'"
        said = set(re.findall(r"runtime\.(\w+)", found.group(1)))
        assert said == ALLOWED[unit], f"{init}: says it may import {sorted(said)}, the table {sorted(ALLOWED[unit])}"
