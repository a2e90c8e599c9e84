"""Progress as people see it: the assignment's cost lines, and progress bars (a run's, a
batch's, a download's) drawn in tqdm's format that become plain lines now and then when the
output is not a terminal. Only tqdm (its public static formatters and its write lock) and
NumPy: every layer that works for long may show one."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

import numpy as np
from tqdm import tqdm

HEARTBEAT = 1.0
"""Seconds between a heartbeat's looks at a shown bar (see Bar)."""


def plural(n: int, thing: str) -> str:
    """'1 weight', '2 weights'."""
    return f"{n} {thing}{'' if n == 1 else 's'}"


def work_pace(
    work_before: np.ndarray, then: tuple[float, int], now: tuple[float, int]
) -> float | None:
    """Seconds per unit of work between `then` and `now`, each (seconds, iterations done),
    where work_before[n] is the work of the iterations before n; None when no time passed
    or no work was done between them."""
    (t0, n0), (t1, n1) = then, now
    done, elapsed = work_before[n1] - work_before[n0], t1 - t0
    return elapsed / done if done > 0 and elapsed > 0 else None


def cost_text(value: float) -> str:
    """A cost as the assignment printed it: str() of the float32 its session returned (the
    fewest digits that give back that float32), also when given as a Python float."""
    return str(np.float32(value))


def cost_lines(i: int, J: float, J_content: float, J_style: float) -> str:
    """The assignment's four lines for iteration i."""
    J, J_content, J_style = map(cost_text, (J, J_content, J_style))
    return f"Iteration {i} :\ntotal cost = {J}\ncontent cost = {J_content}\nstyle cost = {J_style}"


class Bar:
    """A count `n` of `total` (None: not known), counted from `initial`, shown on `file`.

    On a terminal it is drawn in place, at most every `mininterval` seconds (refresh()
    draws at once). Elsewhere (a pipe, a log file) nothing is rewritten in place: the
    bar's numbers go to `plain` as an ordinary line, but only when nothing has been
    printed for `quiet_seconds` (clear() and aside() count as printing). `clock()` is the
    time in seconds; the elapsed time counts from construction. The line is tqdm's meter
    (tqdm.format_meter with `meter`: unit, unit_scale, unit_divisor); subclasses give
    their own line().

    With `heartbeat` (seconds), a daemon thread looks at the bar that often while it is
    shown (from construction, update() or the end of aside(), until clear() or close()):
    it redraws a live bar (its elapsed time and speed move on) and prints the plain line
    after quiet_seconds of silence, even when no update() comes. All drawing holds tqdm's
    write lock, so that the heartbeat's lines never cut into another. Use the bar in a
    `with` block (or close() it), which also ends the heartbeat; a bar that is left
    (`leave`, on a terminal only) stays on its own line."""

    def __init__(
        self,
        total: int | None,
        *,
        file: TextIO,
        plain: TextIO,
        quiet_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        leave: bool = True,
        initial: int = 0,
        mininterval: float = 0.0,
        heartbeat: float | None = None,
        **meter: Any,
    ) -> None:
        self.total, self.initial, self.n = total, initial, initial
        self.postfix = ""
        self.file, self.plain, self.live = file, plain, file.isatty()
        self.ascii = not _unicode(file)  # the bar in '#' when its blocks cannot be written
        self.quiet_seconds, self.clock, self.leave = quiet_seconds, clock, leave
        self.mininterval, self.heartbeat, self.meter = mininterval, heartbeat, meter
        self.lock = tqdm.get_lock()
        self.start_time = self.last_output = clock()
        self.closed = False
        self._drawn = 0  # the width of the live bar on the terminal; 0 when none is
        self._last_draw = -math.inf
        self._beating: threading.Event | None = None  # set it to end the heartbeat
        with self.lock:
            self._start_beat()
            self._show(force=True)

    def line(self, live: bool) -> str:
        """What the bar shows: the live bar (fitted to the terminal's width), or the plain
        line (tqdm's meter without the bar)."""
        elapsed = self.clock() - self.start_time
        numbers = dict(initial=self.initial, postfix=self.postfix or None, **self.meter)
        if live:
            columns = _columns(self.file)
            return tqdm.format_meter(
                self.n, self.total, elapsed, ncols=columns, ascii=self.ascii, **numbers
            )
        return tqdm.format_meter(self.n, self.total, elapsed, ncols=0, **numbers).strip()

    def with_bar(self, text: str) -> str:
        """`text` after tqdm's percentage and bar, fitted to the terminal's width."""
        escaped = text.replace("{", "{{").replace("}", "}}")
        return tqdm.format_meter(
            self.n,
            self.total,
            0,
            ncols=_columns(self.file),
            ascii=self.ascii,
            bar_format="{percentage:3.0f}%|{bar}| " + escaped,
        )

    def update(self, n: int) -> None:
        """Show that the count is `n` (a count, not tqdm's increment)."""
        with self.lock:
            self.n = n
            self._start_beat()
            self._show(force=False)

    def refresh(self) -> None:
        """Show the bar now (on a terminal, whatever mininterval says)."""
        with self.lock:
            self._show(force=True)

    def clear(self) -> None:
        """Erase the live bar so that ordinary output can follow, which counts as printing;
        nothing is shown again until the next update()."""
        with self.lock:
            self._stop_beat()
            self._erase()
            self.last_output = self.clock()

    @contextlib.contextmanager
    def aside(self) -> Iterator[None]:
        """The bar put aside while the block prints: erased and not shown until the block
        ends; then shown again, and the quiet time starts from there."""
        self.clear()
        yield
        with self.lock:
            if not self.closed:
                self.last_output = self.clock()
                self._start_beat()
                self._show(force=True)

    def close(self) -> None:
        """End the bar: a live bar that is left is drawn once more and its line ended,
        else it is erased; the heartbeat ends. Closing again does nothing."""
        with self.lock:
            self._stop_beat()
            if self.closed:
                return
            self.closed = True
            if self.live and self.leave:
                self._draw(self.line(True))
                self.file.write("\n")
                self.file.flush()
            else:
                self._erase()

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _show(self, force: bool) -> None:
        """Draw the live bar (when `force`d or mininterval has passed), or print the plain
        line when nothing has been printed for quiet_seconds. Call with the lock held."""
        now = self.clock()
        if self.live:
            if force or now - self._last_draw >= self.mininterval:
                self._draw(self.line(True))
                self._last_draw = now
        elif now - self.last_output >= self.quiet_seconds:
            print(self.line(False), file=self.plain, flush=True)
            self.last_output = now

    def _draw(self, text: str) -> None:
        """Write `text` over the live bar's line."""
        self.file.write("\r" + text + " " * max(self._drawn - len(text), 0))
        self.file.flush()
        self._drawn = len(text)

    def _erase(self) -> None:
        if self.live and self._drawn:
            self.file.write("\r" + " " * self._drawn + "\r")
            self.file.flush()
            self._drawn = 0

    def _start_beat(self) -> None:
        """Start the heartbeat (when the bar has one and it is not running)."""
        if self.heartbeat is None or self._beating is not None or self.closed:
            return
        stop = self._beating = threading.Event()
        threading.Thread(target=self._beat, args=(stop,), name="progress", daemon=True).start()

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat):
            with self.lock:
                if stop.is_set():  # cleared while this beat waited for the lock
                    return
                self._show(force=True)

    def _stop_beat(self) -> None:
        if self._beating is not None:
            self._beating.set()
            self._beating = None


class StatusLine(Bar):
    """The optimization's progress: iterations done of `total` (counted from `first`), the
    latest total cost J, seconds per iteration and the time left (minutes:seconds). Live on
    `stream` (default stderr) when that is a terminal; else a plain line on `plain` (default
    stdout) whenever nothing has been printed for `quiet_seconds`; with `heartbeat`, also
    in the middle of an iteration (see Bar).

    `weights` are the iterations' work (one per iteration, e.g. the pixels of its size
    level; default 1 each). The pace is timed from the start until a second update(),
    then from the first (see line())."""

    LIVE = "{n}/{total}{postfix}, {per_iteration}, {left} left"
    """The live bar's text after the percentage and the bar."""
    PLAIN = "iteration {n}/{total}{postfix}, {per_iteration}, {left} left"
    SETUP_IN_FIRST = True
    """Whether the first update's count took longer than the rest (the first iteration also
    builds the graph): then, once later ones are done, the pace leaves it out."""

    def __init__(
        self,
        total: int,
        first: int = 0,
        stream: TextIO | None = None,
        plain: TextIO | None = None,
        quiet_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        weights: Sequence[float] | None = None,
        heartbeat: float | None = None,
    ) -> None:
        work = np.ones(total) if weights is None else np.asarray(weights, dtype=np.float64)
        if work.shape != (total,):
            raise ValueError(f"{len(work)} weights for {total} iterations")
        self.work = work
        self.work_before = np.concatenate([[0.0], np.cumsum(work)])  # [i]: of iterations < i
        self.first_update: tuple[float, int] | None = None  # (time, iterations done)
        super().__init__(
            total,
            file=stream or sys.stderr,
            plain=plain or sys.stdout,
            quiet_seconds=quiet_seconds,
            clock=clock,
            leave=False,
            initial=first,
            heartbeat=heartbeat,
        )

    def update(self, done: int, cost: float | None = None, where: str | None = None) -> None:
        """Show that `done` of `total` iterations are done (a count, not tqdm's increment);
        `cost` is the latest total cost J; `where` what the iterations are of (a clip's
        "frame 3/48"), shown before J."""
        with self.lock:
            if self.first_update is None:
                self.first_update = (self.clock(), done)
            if cost is not None or where is not None:
                shown = [where] + ([f"J {cost:.4g}"] if cost is not None else [])
                self.postfix = ", ".join(filter(None, shown))
            super().update(done)

    def line(self, live: bool) -> str:
        """The live bar or the plain line (LIVE, PLAIN) with the numbers of now. The pace p
        is the seconds since the start over the work done since then (with SETUP_IN_FIRST,
        since the first update once more is done); the seconds per iteration are p times
        the work of the iteration under way (the last one's when all are done), the time
        left p times the work of the iterations not done."""
        before, total = self.work_before, self.total
        n = min(self.n, total)
        since, done_then = self.start_time, self.initial
        if self.SETUP_IN_FIRST and self.first_update and n > self.first_update[1]:
            since, done_then = self.first_update
        pace = work_pace(before, (since, done_then), (self.clock(), n))
        per_iteration = left = "?"
        if pace is not None:
            per_iteration = tqdm.format_sizeof(pace * self.work[min(n, total - 1)])
            left = tqdm.format_interval(pace * (before[total] - before[n]))
        text = (self.LIVE if live else self.PLAIN).format(
            n=self.n,
            total=total,
            postfix=f", {self.postfix}" if self.postfix else "",
            per_iteration=f"{per_iteration}s/it",
            left=left,
        )
        return self.with_bar(text) if live else text


class JobsLine(StatusLine):
    """A batch's progress: jobs done (finished or failed) of `total`, counted from `done`,
    how many are running and how many failed, and the time left (minutes:seconds, from
    the jobs done so far). Live on `stream` (default stderr) when that is a terminal; else
    a plain line on `plain` (default stdout) whenever a job is done."""

    LIVE = "{n}/{total} jobs done{postfix}, {left} left"
    PLAIN = "jobs {n}/{total} done{postfix}, {left} left"
    SETUP_IN_FIRST = False

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
        with self.lock:
            self.postfix = f"{running} running, {failed} failed"
            if done == self.n:
                if self.live:
                    self.refresh()
                return
            self.update(done)
            if not self.live:
                print(self.line(False), file=self.plain, flush=True)


def _columns(file: TextIO) -> int | None:
    """The width of the terminal `file` writes to, None when not known."""
    try:
        return os.get_terminal_size(file.fileno()).columns or None
    except (AttributeError, OSError, ValueError):
        return None


def _unicode(file: TextIO) -> bool:
    """Whether `file`'s encoding can write the bar's block characters."""
    try:
        "\u2588\u2589".encode(file.encoding)
    except (AttributeError, TypeError, LookupError, UnicodeEncodeError):
        return False
    return True
