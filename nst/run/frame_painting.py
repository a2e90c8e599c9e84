"""One frame of a clip painted: what it needs as plain data (FrameWork), so that it can be
painted here or in a Ray worker, and what comes back (PaintedFrame)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nst.checkpoint import Checkpoint
from nst.images import Inputs
from nst.progress import cost_text
from nst.settings import Settings
from nst.video.frame_start import FrameStart


@dataclass(frozen=True)
class FrameWork:
    """Frame `number` (from 1, in the painted span) to paint with `settings`: its content
    `frame` (uint8 RGB, as decoded), the style images, and where it starts (None: the
    settings' initial image, with no temporal cost)."""

    number: int
    settings: Settings
    frame: np.ndarray
    styles: list[np.ndarray]
    start: FrameStart | None


@dataclass(frozen=True)
class PaintedFrame:
    """Frame `number`'s result (uint8 RGB), its final costs, its iterations, its seconds and
    the share of its pixels that the frame it started from shows (None: painted on its
    own)."""

    number: int
    image: np.ndarray
    costs: dict[str, float] | None
    iterations: int
    seconds: float
    certain: float | None

    @property
    def total(self) -> float | None:
        """The final total cost J, when evaluated."""
        return None if not self.costs else self.costs["total"]

    def costs_line(self) -> str:
        """'total ..., content ..., style ...[, temporal ...] (S s)'."""
        if not self.costs:
            return f"costs not evaluated ({self.seconds} s)"
        costs = ", ".join(f"{name} {cost_text(value)}" for name, value in self.costs.items())
        return f"{costs} ({self.seconds} s)"


def paint_frame(
    work: FrameWork, kernels: dict, kept=None, on_step: Callable | None = None
) -> PaintedFrame:
    """Paint `work` with the network's `kernels`; `kept`: the style targets kept across
    frames (nst.level_costs.KeptStyleTargets); `on_step(step)` is called after each
    iteration (nst.transfer.Step)."""
    from nst.transfer import stylize  # TensorFlow loads here

    start = work.start
    resume = None if start is None else Checkpoint(-1, start.image)
    temporal = None if start is None else start.temporal
    clock = time.monotonic()
    steps = stylize(work.settings, resume, kernels, Inputs(work.frame, work.styles), temporal, kept)
    last = None
    try:
        for last in steps:
            if on_step is not None:
                on_step(last)
    finally:
        steps.close()
    seconds = round(time.monotonic() - clock, 3)
    certain = None if start is None else start.certain
    return PaintedFrame(work.number, last.image, last.costs, last.i + 1, seconds, certain)


_kept_here = None
"""The style targets a Ray worker process keeps across the frames it paints."""


def paint_frame_task(work: FrameWork, kernels: dict) -> PaintedFrame:
    """paint_frame in a Ray worker, which keeps its style targets for its next frames."""
    global _kept_here
    if _kept_here is None:
        from nst.level_costs import KeptStyleTargets

        _kept_here = KeptStyleTargets()
    return paint_frame(work, kernels, _kept_here)
