"""What a run shows while it works: the assignment's cost lines and a live status line."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def cost_lines(i: int, J, J_content, J_style) -> str:
    """The assignment's four lines for iteration i (numbers printed as str() prints them)."""
    return f"Iteration {i} :\ntotal cost = {J}\ncontent cost = {J_content}\nstyle cost = {J_style}"


class StatusLine:
    """One line on a terminal, rewritten in place: the step, the latest total cost, the speed
    (seconds per iteration) and the time left. When `stream` is not a terminal (a pipe, a
    log file), the same facts go to `plain` as an ordinary line instead, but only when
    nothing has been printed for `quiet_seconds`, so that long runs still show progress."""

    def __init__(
        self,
        total: int,
        first: int = 0,
        stream: TextIO | None = None,
        plain: TextIO | None = None,
        quiet_seconds: float = 30.0,
        clock=time.monotonic,
    ):
        self.total = total
        self.first = first
        self.stream = stream or sys.stderr
        self.plain = plain or sys.stdout
        self.enabled = self.stream.isatty()
        self.quiet_seconds, self.clock = quiet_seconds, clock
        self.started = self.last_output = clock()
        self.shown = False

    def update(self, done: int, cost: float | None = None) -> None:
        """Show that `done` of `total` iterations are done; `cost` is the latest total cost."""
        now = self.clock()
        per_step = (now - self.started) / max(1, done - self.first)
        left = per_step * (self.total - done)
        if not self.enabled:
            if now - self.last_output >= self.quiet_seconds:
                cost_text = f", J {cost:.4g}" if cost is not None else ""
                print(f"iteration {done}/{self.total}{cost_text}, {per_step:.2f} s/it, "
                      f"{left // 60:.0f} min {left % 60:02.0f} s left", file=self.plain,
                      flush=True)  # fmt: skip
                self.last_output = now
            return
        width = len(str(self.total))
        bar = "#" * (20 * done // self.total)
        cost_text = f"  J {cost:.4g}" if cost is not None else ""
        print(
            f"\r\033[K[{bar:<20}] {done:>{width}}/{self.total}{cost_text}  {per_step:.2f} s/it  "
            f"{left // 60:.0f} min {left % 60:02.0f} s left",
            end="",
            file=self.stream,
            flush=True,
        )
        self.shown = True

    def clear(self) -> None:
        """Erase the line so that ordinary output can follow (which counts as output)."""
        self.last_output = self.clock()
        if self.shown:
            print("\r\033[K", end="", file=self.stream, flush=True)
            self.shown = False
