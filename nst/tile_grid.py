"""Where the tiles of a tiled run lie (nst.tiled_costs): their windows, cores, and how they move.

The cores partition the image; each tile's network sees its core and a halo of
`halo` pixels around it (on the sides where the image goes on), in a window no
larger than `tile` + 2 `halo` pixels a side. All windows of a size level have one
shape, so one graph and one set of kernels serve every tile. Along each axis the
windows are as few as the cores allow (an interior core spans at most
window - 2 halo pixels, one at the image's edge window - halo) and no longer than
needed, and they stay inside the image where they can: only what is outside
the image is padding. Corners and core borders lie on multiples of ALIGN = 16
pixels from the image's corner, so every layer's positions (strides 1, 2, 4, 8
and 16 after VGG's four poolings) are the whole image's. At every iteration the
borders between cores are drawn anew within what the windows allow, so they do
not stay in one place. NumPy only, so that the command line checks --tile
before TensorFlow loads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALIGN = 16
"""Pixels between possible tile corners: the stride of VGG's fifth block (four 2x2 poolings)."""
HALO = 64
"""Pixels each tile's network sees beyond its core on every inner side (the tiles' overlap)."""
MIN_TILE = 128
"""Smallest tile side --tile accepts, in pixels."""


def block_stride(layer: str) -> int:
    """Pixels per position of `layer` ('convB_k'): 2^(B-1), one pooling per block before B."""
    return 2 ** (int(layer[4]) - 1)


def aligned(pixels: int) -> int:
    """`pixels` rounded up to a multiple of ALIGN."""
    return -(-pixels // ALIGN) * ALIGN


@dataclass(frozen=True)
class Tile:
    """One tile of an image: its window's top-left corner (x, y) in the image's pixels (the
    window may reach beyond the image), and its core, the columns and rows it counts."""

    corner: tuple[int, int]
    columns: range
    rows: range


@dataclass(frozen=True)
class Tiling:
    """Cores of at most `tile` pixels a side (a multiple of ALIGN) inside the image, each seen
    with `halo` more pixels (a multiple of ALIGN) on every side where the image goes on, for
    a size level of `size` (width, height) pixels."""

    tile: int
    size: tuple[int, int]
    halo: int = HALO

    @property
    def window(self) -> int:
        """The longest a window's side can be: tile + 2 halo pixels (what bounds the memory)."""
        return self.tile + 2 * self.halo

    @property
    def window_shape(self) -> tuple[int, int]:
        """(width, height) of every window of this level: per axis of n windows, the least
        multiple of ALIGN whose n windows cover the axis (see `_spans`), or the aligned
        extent when one window covers it; at least 2 halo + ALIGN (so that a window can have
        a core between two halos, for a style image larger than the level)."""
        return self._side(self.size[0]), self._side(self.size[1])

    def _side(self, extent: int) -> int:
        top = aligned(extent)
        side = top
        if top > self.window:
            count = -(-(top - 2 * self.halo) // self.tile)
            side = aligned(-(-(top + 2 * self.halo * (count - 1)) // count))
        return max(side, min(self.window, 2 * self.halo + ALIGN))

    def tiles(self, width: int, height: int, draws: np.random.Generator | None = None) -> list:
        """The Tiles of an image of width x height pixels, seen through windows of
        window_shape, rows of tiles from the top: the borders between cores drawn from
        `draws` (`grid`), or, with None, midway in their ranges."""
        side_x, side_y = self.window_shape
        columns = self._spans(width, side_x, draws)
        rows = self._spans(height, side_y, draws)
        return [Tile((x, y), xs, ys) for y, ys in rows for x, xs in columns]

    def _spans(self, extent: int, side: int, draws: np.random.Generator | None) -> list:
        """[(window start, core range)] along an axis of `extent` pixels, windows of `side`.

        With top = extent rounded up to ALIGN, n windows of side s can hold cores whose
        borders b_1 < ... < b_n-1 satisfy b_1 <= s - halo (the first window starts at 0),
        b_k+1 - b_k <= s - 2 halo, and b_n-1 >= top - s + halo (the last window ends at
        top), which is possible when n s - 2 halo (n - 1) >= top. Each border is drawn
        among the multiples of ALIGN that leave the next ones possible; each window then
        starts where it holds its core's halo and, when it can, ends inside top."""
        top, h = aligned(extent), self.halo
        if top <= side:
            return [(0, range(extent))]
        step = side - 2 * h
        count = -(-(top - 2 * h) // step)
        last = top - side  # where the last window starts
        borders = [0]
        for k in range(1, count):
            reach = side - h if k == 1 else borders[-1] + step
            low = max(borders[-1] + ALIGN, last + h - (count - 1 - k) * step)
            high = min(reach, top - ALIGN * (count - k))
            borders.append(_drawn(low, high, draws))
        borders.append(extent)
        spans = []
        for k in range(count):
            end = borders[k + 1] + h if k < count - 1 else extent
            start = max(0, min(borders[k] - h, max(last, end - side)))
            spans.append((start, range(borders[k], borders[k + 1])))
        return spans

    def grid(self, seed: int | None, i: int) -> np.random.Generator:
        """What draws the borders at iteration i: NumPy's generator seeded with (seed, i + 1)
        (seed None counts as 0), so that --resume draws them again."""
        return np.random.default_rng([seed or 0, i + 1])


def _drawn(low: int, high: int, draws: np.random.Generator | None) -> int:
    """A multiple of ALIGN in [low, high] (both multiples of ALIGN): drawn from `draws`, or
    the middle one (rounded down) when None."""
    choices = (high - low) // ALIGN + 1
    pick = choices // 2 if draws is None else int(draws.integers(0, choices))
    return low + ALIGN * pick


def tiling_of(tile: int | None, size: tuple[int, int]) -> Tiling | None:
    """The tiling of an image of `size` (width, height) with --tile `tile`: None (one piece)
    when `tile` is None or the image's longest side is at most `tile`."""
    if tile is None or max(size) <= tile:
        return None
    return Tiling(tile, size)
