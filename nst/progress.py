"""Progress as people see it: the assignment's cost lines, and tqdm's progress bars (a run's,
a batch's, a download's) that become plain lines now and then when the output is not a
terminal. Only tqdm and NumPy: every layer that works for long may show one."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np
from tqdm import tqdm


def cost_text(value: float) -> str:
    """A cost as the assignment printed it: str() of the float32 its session returned (the
    fewest digits that give back that float32), also when given as a Python float."""
    return str(np.float32(value))


def cost_lines(i: int, J: float, J_content: float, J_style: float) -> str:
    """The assignment's four lines for iteration i."""
    J, J_content, J_style = map(cost_text, (J, J_content, J_style))
    return f"Iteration {i} :\ntotal cost = {J}\ncontent cost = {J_content}\nstyle cost = {J_style}"


class Bar(tqdm):
    """tqdm's bar, live on `file` when that is a terminal. Elsewhere (a pipe, a log file)
    nothing is rewritten in place: the bar's numbers go to `plain` as an ordinary line,
    but only when nothing has been printed for `quiet_seconds` (clear() counts as printing),
    so that long work still shows progress. `plain_format` is a tqdm bar_format for that
    line (default: tqdm's meter without the bar); `clock()` is the time in seconds."""

    monitor_interval = 0  # no monitor thread: only update() redraws

    def __init__(
        self,
        total: int | None,
        *,
        file: TextIO,
        plain: TextIO,
        quiet_seconds: float,
        plain_format: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        leave: bool = True,
        **options: Any,
    ) -> None:
        self.live = file.isatty()
        self.plain, self.plain_format, self.quiet_seconds = plain, plain_format, quiet_seconds
        self.clock = clock
        self.last_output = clock()
        # Off a terminal a bar that is left would end with a bare newline: it is not left.
        super().__init__(
            total=total, file=file, leave=leave and self.live, position=0, miniters=1, **options
        )
        self._time = clock  # tqdm's clock for the speed and the time left
        self.start_t = self.last_print_t = clock()

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        """On a terminal, draw (or with msg="", erase) the live bar; elsewhere print the plain
        line when nothing has been printed for quiet_seconds. True when something was shown."""
        if self.live:
            return super().display(msg, pos)
        if msg is not None or self.clock() - self.last_output < self.quiet_seconds:
            return False
        print(self.plain_line(), file=self.plain, flush=True)
        self.last_output = self.clock()
        return True

    def plain_line(self) -> str:
        """The bar's numbers as one line without the bar."""
        if self.plain_format is None:
            return self.format_meter(**{**self.format_dict, "ncols": 0}).strip()
        return self.format_meter(**{**self.format_dict, "bar_format": self.plain_format})

    def clear(self, nolock: bool = False) -> None:
        """Erase the live bar so that ordinary output can follow, which counts as printing."""
        if self.live:
            super().clear(nolock)
        self.last_output = self.clock()


class StatusLine(Bar):
    """The optimization's progress: iterations done of `total` (counted from `first`), the
    latest total cost J, seconds per iteration and the time left (minutes:seconds). Live on
    `stream` (default stderr) when that is a terminal; else a plain line on `plain` (default
    stdout) whenever nothing has been printed for `quiet_seconds`."""

    # unit_scale (below) prints the speed as "2.31s/it", without tqdm's padding; the counts
    # are the raw {n} and {total}, which unit_scale does not change.
    LIVE = "{percentage:3.0f}%|{bar}| {n}/{total}{postfix}, {rate_inv_fmt}, {remaining} left"
    PLAIN = "iteration {n}/{total}{postfix}, {rate_inv_fmt}, {remaining} left"

    def __init__(
        self,
        total: int,
        first: int = 0,
        stream: TextIO | None = None,
        plain: TextIO | None = None,
        quiet_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            total,
            file=stream or sys.stderr,
            plain=plain or sys.stdout,
            quiet_seconds=quiet_seconds,
            plain_format=self.PLAIN,
            clock=clock,
            leave=False,
            initial=first,
            bar_format=self.LIVE,
            unit_scale=True,
            mininterval=0,
        )

    def update(self, done: int, cost: float | None = None) -> bool | None:
        """Show that `done` of `total` iterations are done (a count, not tqdm's increment);
        `cost` is the latest total cost J."""
        if cost is not None:
            self.set_postfix_str(f"J {cost:.4g}", refresh=False)
        return super().update(done - self.n)


class JobsLine(StatusLine):
    """A batch's progress: jobs done (finished or failed) of `total`, counted from `done`,
    how many are running and how many failed, and the time left (minutes:seconds, from
    the jobs done so far). Live on `stream` (default stderr) when that is a terminal; else
    a plain line on `plain` (default stdout) whenever a job is done."""

    LIVE = "{percentage:3.0f}%|{bar}| {n}/{total} jobs done{postfix}, {remaining} left"
    PLAIN = "jobs {n}/{total} done{postfix}, {remaining} left"

    def __init__(
        self,
        total: int,
        done: int = 0,
        stream: TextIO | None = None,
        plain: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(total, done, stream, plain, math.inf, clock)  # lines from show()

    def show(self, done: int, running: int, failed: int) -> None:
        """Show `done` jobs done, `running` running and `failed` failed (counts)."""
        self.set_postfix_str(f"{running} running, {failed} failed", refresh=False)
        if done == self.n:
            if self.live:
                self.refresh()
            return
        self.update(done)
        if not self.live:
            print(self.plain_line(), file=self.plain, flush=True)
