"""What the live view shows of a run: the latest state, replaced by the run's thread (a
Watcher, nst/watching.py) and read by the page's threads.

The run's thread never waits on a reader: each call only replaces the latest values under a
lock held for a few assignments, and wakes the readers. The readers encode the image
themselves (PNG, with Pillow), at most once per iterate for all of them.
"""

from __future__ import annotations

import base64
import io
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from nst.progress import work_pace
from nst.watching import Iterate, RunEnd, RunStart

PACE_WINDOW = 20
"""How many of the latest iterations the iterations per second are measured over."""


JPEG_QUALITY = 90
"""The quality of the JPEG copy the pages are sent as the image changes."""


def png_bytes(image: np.ndarray) -> bytes:
    """uint8 RGB `image` as a PNG file's bytes (fast compression: the download's copy)."""
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def jpeg_url(image: np.ndarray) -> str:
    """uint8 RGB `image` as a JPEG data: URL (the copy the page shows while the run goes:
    a tenth of the PNG's bytes, encoded several times faster)."""
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


@dataclass
class Snapshot:
    """The state as a reader sees it at one moment: `version` (rises with every change),
    `progress` (plain JSON-able values: see LiveState.progress), `points` the (iteration,
    J) pairs after the first `since` asked for, `image` the number of the latest iterate
    whose picture is known (-1: none yet), `saved` how many iterates were saved, `ended`
    whether the run has ended."""

    version: int
    progress: dict
    points: list[tuple[int, float]]
    image: int
    saved: int
    ended: bool


@dataclass
class _Latest:
    """The values the run's thread replaces (under LiveState.lock)."""

    start: RunStart | None = None
    iterate: Iterate | None = None
    costs: dict[str, float] | None = None  # the latest evaluated iterate's J and parts
    costs_at: int | None = None
    saved: list[str] = field(default_factory=list)  # the saved iterates' file names
    end: RunEnd | None = None
    points: list[tuple[int, float]] = field(default_factory=list)
    times: deque = field(default_factory=lambda: deque(maxlen=PACE_WINDOW))  # (s, done)
    work_before: np.ndarray = field(default_factory=lambda: np.zeros(1))  # [n]: of iterations < n


class LiveState:
    """A run's latest state for the live view; a Watcher of the run. `clock()` is the time
    in seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.version = 0
        self._latest = _Latest()
        self._encoded: dict[str, tuple[int, bytes | str]] = {}  # the latest image in each
        # form ("png", "jpeg"): (iteration, encoded), encoded once for every reader
        self._encoding = threading.Lock()
        self._inputs: dict[str, bytes] = {}

    # The run's side (the Watcher calls): a few assignments each.

    def start(self, run: RunStart) -> None:
        with self.lock:
            self._latest = _Latest(start=run, work_before=np.cumsum([0.0, *run.work]))
            self._latest.times.append((self.clock(), run.first))
            self._changed()

    def step(self, iterate: Iterate) -> None:
        with self.lock:
            latest = self._latest
            latest.iterate = iterate
            if iterate.costs is not None:
                latest.costs, latest.costs_at = iterate.costs, iterate.i
            if iterate.saved is not None:
                latest.saved.append(iterate.saved.name)
            if iterate.cost is not None:
                latest.points.append((iterate.i, float(iterate.cost)))
            latest.times.append((self.clock(), iterate.done))
            self._changed()

    def end(self, end: RunEnd) -> None:
        with self.lock:
            self._latest.end = end
            self._changed()

    def _changed(self) -> None:
        self.version += 1
        self.changed.notify_all()

    # The readers' side.

    def wait(self, version: int, timeout: float) -> int:
        """Wait until the version is other than `version` or `timeout` seconds have passed;
        the version then."""
        with self.lock:
            self.changed.wait_for(lambda: self.version != version, timeout)
            return self.version

    def snapshot(self, since: int = 0) -> Snapshot:
        """The state now, with the cost points after the first `since`."""
        with self.lock:
            latest = self._latest
            return Snapshot(
                self.version,
                self._progress(latest),
                latest.points[since:],
                latest.iterate.i if latest.iterate is not None else -1,
                len(latest.saved),
                latest.end is not None,
            )

    def folder(self) -> Path | None:
        """The run folder (None before the run starts)."""
        with self.lock:
            return self._latest.start.folder if self._latest.start else None

    @property
    def ended(self) -> bool:
        """Whether the run's end was told."""
        with self.lock:
            return self._latest.end is not None

    def image_png(self) -> tuple[int, bytes] | None:
        """(iteration, PNG bytes) of the latest picture, None before the first iterate."""
        return self._image("png", png_bytes)

    def image_jpeg_url(self) -> tuple[int, str] | None:
        """(iteration, JPEG data: URL) of the latest picture, None before the first iterate."""
        return self._image("jpeg", jpeg_url)

    def _image(self, form: str, encode: Callable[[np.ndarray], bytes | str]) -> tuple | None:
        """The latest picture in `form`, made with `encode` by the first reader that asks for
        it, outside the run's lock: (iteration, encoded); None before the first iterate."""
        with self.lock:
            iterate = self._latest.iterate
        if iterate is None:
            return None
        with self._encoding:
            kept = self._encoded.get(form)
            if kept is None or kept[0] != iterate.i:
                kept = self._encoded[form] = (iterate.i, encode(iterate.image))
            return kept

    def input_png(self, name: str) -> bytes | None:
        """The input image `name` ("content", or "style-K" for the K-th style image from 0)
        as PNG bytes; None when the run has no such image (or has not started)."""
        with self.lock:
            start = self._latest.start
        if start is None:
            return None
        images = {"content": start.content}
        images.update({f"style-{k}": image for k, image in enumerate(start.styles)})
        if name not in images:
            return None
        with self._encoding:
            if name not in self._inputs:
                self._inputs[name] = png_bytes(images[name])
            return self._inputs[name]

    def _progress(self, latest: _Latest) -> dict:
        """What the page's text shows: the iteration done and the total, J and its parts
        (and the iteration they are of), the iterations per second and the seconds left,
        the size level, the tile, the saved files, and the run's status (running or how it
        ended) with its message and result file."""
        start, iterate, end = latest.start, latest.iterate, latest.end
        done = iterate.done if iterate else (start.first if start else 0)
        per_second = left = None
        if len(latest.times) >= 2:  # over the last PACE_WINDOW iterations, weighed by work
            (t0, done0), (t1, done1) = latest.times[0], latest.times[-1]
            before = latest.work_before
            done0, done1 = (min(n, len(before) - 1) for n in (done0, done1))
            pace = work_pace(before, (t0, done0), (t1, done1))
            if pace is not None:
                per_second = (done1 - done0) / (t1 - t0)
                left = float(pace * (before[-1] - before[done1]))
        level = None
        if start is not None and len(start.levels) > 1 and iterate is not None:
            (width, height), _ = start.levels[iterate.level]
            level = {"index": iterate.level + 1, "count": len(start.levels),
                     "width": width, "height": height}  # fmt: skip
        return {
            "done": done,
            "total": start.total if start else None,
            "J": iterate.cost if iterate else None,
            "costs": latest.costs,
            "costs_at": latest.costs_at,
            "per_second": _finite(per_second),
            "seconds_left": _finite(left),
            "size": list(start.size) if start else None,
            "level": level,
            "tile": start.tile if start else None,
            "styles": len(start.styles) if start else 0,
            "saved": latest.saved[-1] if latest.saved else None,
            "status": end.status if end else ("running" if start else "starting"),
            "message": end.message if end else "",
            "result": end.result.name if end and end.result else None,
        }


def _finite(value: float | None) -> float | None:
    """`value`, or None when it is not a finite number (JSON has no infinity)."""
    return value if value is not None and math.isfinite(value) else None
