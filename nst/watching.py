"""The observers of a run: what the painting loop tells whoever watches it, as plain data.

The loop (nst/run/painting.py) calls each Watcher's start() once, step() after every
iteration (once the iteration's files are saved) and end() once, however the run ends.
The status line is fed this way (StatusWatcher), and so is the live view (nst/web): they
read the same stream of iterates, and neither can change what the run computes. Only
NumPy and the standard library: the runners and the page's server both import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class RunStart:
    """A run as it starts: `total` iterations, of which `first` are done (a resumed run's);
    `size` (width, height) of the result; `levels` each size level's (width, height) and
    its iterations, smallest first; `work` each iteration's work (its level's pixels);
    `tile` the tiles' side in pixels (None: the whole image at once); `content` and
    `styles` the input images (uint8 RGB); `folder` the run folder."""

    total: int
    first: int
    size: tuple[int, int]
    levels: tuple[tuple[tuple[int, int], int], ...]
    work: tuple[float, ...]
    tile: int | None
    content: np.ndarray
    styles: tuple[np.ndarray, ...]
    folder: Path


@dataclass(frozen=True)
class Iterate:
    """Iteration `i` done: `done` (i + 1) of `total`; `cost` the latest total cost J known
    (None before any); `costs` J and its parts when this iterate was evaluated, else None;
    `image` the picture (uint8 RGB, (H, W, 3), not to be changed); `level` the index of its
    size level in RunStart.levels; `saved` the file it was saved to (None: not saved)."""

    i: int
    done: int
    total: int
    cost: float | None
    costs: dict[str, float] | None
    image: np.ndarray
    level: int
    saved: Path | None


@dataclass(frozen=True)
class RunEnd:
    """How the run ended: `status` "finished", "stopped" (ended early from the live view,
    with its result), "interrupted" or "failed"; `message` what was printed about it;
    `result` the final image (None when there is none)."""

    status: str
    message: str = ""
    result: Path | None = None


class Watcher(Protocol):
    """Whoever watches a run. Each call comes from the run's thread and must return at once:
    a watcher that has work to do (encoding, sending) does it in a thread of its own."""

    def start(self, run: RunStart) -> None: ...

    def step(self, iterate: Iterate) -> None: ...

    def end(self, end: RunEnd) -> None: ...


class Watchers:
    """Several watchers seen as one: each call goes to each, in order."""

    def __init__(self, watchers: Sequence[Watcher]) -> None:
        self.watchers = tuple(watchers)

    def start(self, run: RunStart) -> None:
        for watcher in self.watchers:
            watcher.start(run)

    def step(self, iterate: Iterate) -> None:
        for watcher in self.watchers:
            watcher.step(iterate)

    def end(self, end: RunEnd) -> None:
        for watcher in self.watchers:
            watcher.end(end)


class _Status(Protocol):
    def update(self, done: int, cost: float | None = None, where: str | None = None) -> None: ...


class StatusWatcher:
    """Feeds a status line (nst.progress.StatusLine) from the iterates: the count done and
    the latest J. Its start and end are the loop's (it draws and erases the line)."""

    def __init__(self, status: _Status) -> None:
        self.status = status

    def start(self, run: RunStart) -> None:
        pass

    def step(self, iterate: Iterate) -> None:
        self.status.update(iterate.done, iterate.cost)

    def end(self, end: RunEnd) -> None:
        pass
