"""Where the tiles of a tiled run lie (nst.tiles): their size, overlap and grid.

Cores of `tile` x `tile` pixels partition the image; each tile's network sees
its core and a halo of `halo` pixels around it (its window). Corners lie on
multiples of ALIGN = 16 pixels from the image's corner, so every layer's
positions (strides 1, 2, 4, 8 and 16 after VGG's four poolings) are the whole
image's, and the grid moves by a multiple of 16 pixels at every iteration.
NumPy only, so that the command line checks --tile before TensorFlow loads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALIGN = 16
"""Pixels between possible tile corners: the stride of VGG's fifth block (four 2x2 poolings)."""
HALO = 64
"""Pixels each tile's network sees beyond its core on every side (the tiles' overlap)."""
MIN_TILE = 128
"""Smallest tile side --tile accepts, in pixels."""


def block_stride(layer: str) -> int:
    """Pixels per position of `layer` ('convB_k'): 2^(B-1), one pooling per block before B."""
    return 2 ** (int(layer[4]) - 1)


def overlap(start: int, length: int, extent: int) -> tuple[slice, slice]:
    """Where the span [start, start + length) meets an axis of `extent` positions: (the
    slice in the span, the slice in the axis); empty when they do not meet."""
    low, high = max(start, 0), max(min(start + length, extent), max(start, 0))
    return slice(low - start, high - start), slice(low, high)


@dataclass(frozen=True)
class Tiling:
    """Square cores of `tile` pixels (a multiple of ALIGN), each seen with `halo` more pixels
    on every side (a multiple of ALIGN)."""

    tile: int
    halo: int = HALO

    @property
    def window(self) -> int:
        """The side of what a tile's network sees: tile + 2 halo pixels."""
        return self.tile + 2 * self.halo

    def corners(self, width: int, height: int, shift: tuple[int, int] = (0, 0)) -> list:
        """The cores' top-left corners (x, y) covering width x height pixels: the grid of
        tile-pixel squares whose first corner is (-shift_x, -shift_y)."""
        x0, y0 = (-s for s in shift)
        xs, ys = range(x0, width, self.tile), range(y0, height, self.tile)
        return [(x, y) for y in ys for x in xs]

    def shift(self, seed: int | None, i: int) -> tuple[int, int]:
        """The grid's shift at iteration i: two multiples of ALIGN below `tile`, drawn from
        NumPy's generator seeded with (seed, i + 1) (seed None counts as 0)."""
        draws = np.random.default_rng([seed or 0, i + 1]).integers(0, self.tile // ALIGN, 2)
        return int(draws[0]) * ALIGN, int(draws[1]) * ALIGN


def tiling_of(tile: int | None, size: tuple[int, int]) -> Tiling | None:
    """The tiling of an image of `size` (width, height) with --tile `tile`: None (one piece)
    when `tile` is None or the image's longest side is at most `tile`."""
    if tile is None or max(size) <= tile:
        return None
    return Tiling(tile)
