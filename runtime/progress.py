"""A small progress bar for long work on the command line (stderr; quiet when not a terminal)."""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


class Progress:
    """Counts work done and draws `label [#####.....] 12/40 3.1/s` on stderr, at most 10 times a second.

    When stderr is not a terminal it prints one line at the end instead, so logs stay readable.
    """

    def __init__(self, total: int, label: str = "", stream=None, enabled: bool = True):
        self.total, self.label, self.done = max(int(total), 0), label, 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = self.last = time.monotonic()

    def update(self, n: int = 1, note: str = "") -> None:
        self.done += n
        now = time.monotonic()
        if self.tty and (now - self.last > 0.1 or self.done >= self.total):
            self.last = now
            self._draw(note)

    def _draw(self, note: str = "") -> None:
        width = 30
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        rate = self.done / max(time.monotonic() - self.start, 1e-9)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {rate:.1f}/s {note[:40]:<40}")
        self.stream.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        if self.tty:
            self._draw()
            self.stream.write("\n")
        else:
            self.stream.write(f"{self.label}: {self.done}/{self.total} in {elapsed:.1f} s\n")
        self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def track(items: Iterable[T], total: int, label: str = "", enabled: bool = True) -> Iterator[T]:
    """Iterate with a progress bar."""
    with Progress(total, label, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.update()
