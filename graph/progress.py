"""Progress for long work (loading, training, scoring): a bar on a terminal, plain lines elsewhere.

It lives in `graph` because every other package may import `graph` and none of them another.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


class Progress:
    """Counts work done; draws a tqdm bar on a terminal, else prints a line every few seconds."""

    def __init__(
        self,
        description: str,
        total: int | None = None,
        unit: str = "rows",
        stream: TextIO | None = None,
        interval_s: float = 5.0,
        enabled: bool = True,
    ) -> None:
        self.description, self.total, self.unit = description, total, unit
        self.stream = stream or sys.stderr
        self.interval_s, self.enabled = interval_s, enabled
        self.done = 0
        self.started = self.last = time.monotonic()
        self.bar: tqdm | None = None
        if enabled and self.stream.isatty():
            self.bar = tqdm(
                total=total,
                desc=description,
                unit=unit,
                file=self.stream,
                dynamic_ncols=True,
                leave=False,
            )

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self.last >= self.interval_s:
            self.last = now
            self._line()

    def _line(self) -> None:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        of = f"/{self.total:,}" if self.total else ""
        print(
            f"{self.description}: {self.done:,}{of} {self.unit} ({rate:,.0f}/s, {elapsed:.0f}s)",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.done:
            self._line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
