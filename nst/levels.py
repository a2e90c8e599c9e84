"""The sizes a run paints at: the output size, and the coarse-to-fine schedule of levels
(each a size and the iterations run at it). NumPy only, so that a run is checked and
announced before TensorFlow loads."""

from __future__ import annotations

import numpy as np

from nst.settings import Settings


def output_size(settings: Settings, content_shape: tuple[int, ...]) -> tuple[int, int]:
    """(width, height): settings.size as the longest side with the content's aspect ratio,
    or settings.width x settings.height."""
    if settings.size is None:
        return settings.width, settings.height
    height, width = content_shape[:2]
    scale = settings.size / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def schedule(settings: Settings, size: tuple[int, int]) -> list[tuple[tuple[int, int], range]]:
    """The coarse-to-fine schedule: ((width, height), steps) for each level, smallest first.

    With settings.schedule = (n_L, ..., n_1, n_0), level k = L .. 0 runs n_k steps
    at size / r^k for r = settings.level_ratio (each side rounded, at least 1
    pixel), numbered on from the level before. Else, with settings.coarse_levels
    = L, level k = L .. 1 runs settings.coarse_iterations steps at size / r^k and
    the output size runs the remaining steps; without coarse levels, all steps
    run at size. Levels whose longest side is below settings.min_size give their
    steps to the first level that is not (see _merged_below).
    """
    s = settings
    width, height = size

    def shrunk(k: int) -> tuple[int, int]:
        r = s.level_ratio**k
        return max(1, round(width / r)), max(1, round(height / r))

    if s.schedule is not None:
        ends = np.cumsum(s.schedule).tolist()
        k_max = len(s.schedule) - 1
        levels = [
            (shrunk(k), range(end - n, end))
            for k, n, end in zip(range(k_max, -1, -1), s.schedule, ends, strict=True)
        ]
        return _merged_below(levels, s.min_size)
    levels = []
    for k in range(s.coarse_levels, 0, -1):
        begin = (s.coarse_levels - k) * s.coarse_iterations
        levels.append((shrunk(k), range(begin, min(begin + s.coarse_iterations, s.iterations))))
    levels.append(
        (size, range(min(s.coarse_levels * s.coarse_iterations, s.iterations), s.iterations))
    )
    return _merged_below(levels, s.min_size)


def _merged_below(
    levels: list[tuple[tuple[int, int], range]], min_size: int
) -> list[tuple[tuple[int, int], range]]:
    """`levels` without those whose longest side is below min_size pixels (the last level
    always stays): their steps run at the first level kept, before its own."""
    first = next((k for k, (size, _) in enumerate(levels) if max(size) >= min_size), None)
    if first is None:
        first = len(levels) - 1
    if first == 0:
        return levels
    size, steps = levels[first]
    return [(size, range(levels[0][1].start, steps.stop)), *levels[first + 1 :]]
