"""Ctrl-C and SIGTERM: how a run or a batch stops at a point where its work can be kept.

Outside the optimization loop a signal interrupts at once. Inside it, the first signal is
only noted, and the loop stops at the next safe point: after the current iteration
(`StopRequests.check`), or between two tiles of a tiled run (`safe_point`, which also
works in L-BFGS-B's worker thread). A second signal interrupts at once.

The live view's Stop (nst/web) asks for the end another way, `StopRequests.finish_early`:
the loop ends after the current iteration as a run that settled early does, with its result
files and exit status 0 (a signal's run ends with 130 or 143 and no result files).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator


class Terminated(BaseException):
    """SIGTERM arrived; handled like Ctrl-C."""


class StopRequests:
    """The handler of SIGINT and SIGTERM.

    Outside the optimization loop a signal interrupts at once. Inside it, the
    first signal is only noted (`signum`), and the loop stops after the current
    iteration (`check`): an exception raised at an arbitrary point could land in
    a destructor, where Python prints and drops it. A second signal interrupts at
    once. `first` is the first signal that arrived either way: `safe_point` stops
    the work of other threads (L-BFGS-B's worker) with it. `early` is whether
    finish_early() was called (from any thread).
    """

    def __init__(self):
        self.in_loop = False
        self.signum: int | None = None
        self.first: int | None = None
        self.early = False

    def finish_early(self) -> None:
        """Ask the loop to end after the current iteration and write its result (the live
        view's Stop); callable from any thread."""
        self.early = True

    def __call__(self, signum: int, frame) -> None:
        if self.first is None:
            self.first = signum
        if self.in_loop and self.signum is None:
            self.signum = signum
            return
        raise _interruption(signum)

    def check(self) -> None:
        """Raise the interruption a signal noted in the loop asked for, if any."""
        if self.signum is not None:
            raise _interruption(self.signum)


_installed: list[StopRequests] = []
"""The handlers stop_signals installed, innermost last."""


def safe_point() -> None:
    """Raise the interruption of the first signal that the handler installed by stop_signals
    received, if any: for work that can stop between two of its parts without losing anything
    but the current iteration (a tiled run calls it before each tile). From any thread: in
    L-BFGS-B's worker, the exception ends minimize and is raised again in the caller."""
    if _installed and _installed[-1].first is not None:
        raise _interruption(_installed[-1].first)


def _interruption(signum: int) -> BaseException:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextlib.contextmanager
def stop_signals(stop: StopRequests) -> Iterator[None]:
    """`stop` handles SIGINT and SIGTERM while the block runs, when it runs in the main
    thread (only there can Python handle signals); the handlers before are put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    _installed.append(stop)
    try:
        yield
    finally:
        _installed.remove(stop)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stoppable(work: Callable[[StopRequests], int], stop: StopRequests | None = None) -> int:
    """Run `work(stop)` with `stop` (default: a new one) handling SIGINT and SIGTERM; its exit
    status, or, when a signal stopped it, 130 (Ctrl-C) or 143 (SIGTERM) after one line on
    stderr that says why (the interruption's message: what was kept and how to continue)."""
    stop = stop or StopRequests()
    try:
        with stop_signals(stop):
            return work(stop)
    except (KeyboardInterrupt, Terminated) as e:
        print(f"\nneural_art.py: {str(e) or 'interrupted'}", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
