"""Ways real files get damaged, for the reliability tests and bench/reliability.py: cut short,
flipped bytes, counts that lie, numbers that are not numbers, lines lost, binary garbage.
Each is deterministic given the generator and the case number."""

from __future__ import annotations

import re

import numpy as np

KINDS = ("truncated", "flipped bytes", "lying count", "bad number", "line lost", "binary garbage")


def mutate_file(data: bytes, suffix: str, rng: np.random.Generator, case: int) -> bytes:
    """A damaged copy of a motion file's bytes (`case` picks the kind, KINDS[case % len(KINDS)])."""
    kind = KINDS[case % len(KINDS)]
    if kind == "truncated":
        return data[: int(len(data) * rng.uniform(0.05, 0.95))]
    if kind == "flipped bytes":
        out = bytearray(data)
        for at in rng.integers(0, len(out), size=int(rng.integers(1, 8))):
            out[at] ^= 1 << int(rng.integers(0, 8))
        return bytes(out)
    if kind == "lying count":
        text = data.decode("latin-1")
        if suffix == ".bvh":
            text = re.sub(r"Frames:\s*\d+", f"Frames: {rng.choice([0, 10**9, -3, 7])}", text, count=1)
        else:  # an AMC frame that claims a number out of sequence, and one bone line too many
            lines = text.splitlines()
            frames = [i for i, ln in enumerate(lines) if ln.strip().isdigit()]
            if frames:
                at = frames[len(frames) // 2]
                lines[at] = str(10**12)
                lines.insert(at + 1, "lhumerus 1 2 3 4 5 6 7 8 9")
            text = "\n".join(lines)
        return text.encode("latin-1")
    if kind == "bad number":
        text = data.decode("latin-1")
        numbers = list(re.finditer(r"-?\d+\.\d+", text))
        for m in (numbers[int(i)] for i in rng.integers(0, len(numbers), size=3)) if numbers else ():
            text = text[: m.start()] + str(rng.choice(["nan", "inf", "1e400", "--1", "1.2.3"])).ljust(
                len(m.group()))[: max(len(m.group()), 3)] + text[m.end():]
        return text.encode("latin-1")
    if kind == "line lost":
        lines = data.split(b"\n")
        head = max(1, min(len(lines) - 1, int(rng.integers(1, max(2, min(len(lines), 120))))))
        return b"\n".join(lines[:head] + lines[head + 1:])
    at = int(rng.integers(0, len(data)))
    return data[:at] + bytes(rng.integers(0, 256, size=64, dtype=np.uint8)) + data[at:]
