"""Any output size in tiles: the whole image's costs and gradient, computed a tile at a time.

Every cost is a sum over positions or a function of such sums: J_content =
sum((a_C - a_G)^2) / (4 n_H n_W n_C); the Gram matrix G = sum of x x^T over the
positions x of a layer; the Wasserstein cost's mean and covariance, from sum x
and sum x x^T; J_tv, a sum over neighbouring pixels, and a clip's J_temporal, a
sum over pixels (both computed on the whole image, in NumPy). So the whole
image's J and dJ/d image come from two passes over tiles:

1. forward only: each tile's share of the sums S_l (G_l, sum x) and of the
   content cost, over its core positions (the cores partition the image); their
   totals are the whole image's, which give J(S) and dJ/dS_l;
2. forward and backward, per tile: the gradient of
   L = alpha / (4 n_H n_W n_C) sum_core (a_C - a_G)^2 + sum_l <dJ/dS_l, S_l(core)>
   with the whole image's dJ/dS_l held fixed. By the chain rule, the whole
   image's gradient is the sum of the tiles' gradients, each added at its
   window's place (halo included): overlaps are summed, not blended, since the
   sum is the exact gradient. The last tile of pass 1 is run as a partial run,
   kept open until dJ/dS_l is known, so that its gradient needs no second
   forward pass.

A tile's network sees its core and a halo around it (nst.tile_grid), so the
core's activations are the whole image's but for the part of their receptive
field beyond the halo. Outside the image each layer's output is set to 0, as
the whole image's zero ("SAME") padding does. Every tile of a size level has
the same window shape, so one graph, and one set of kernels prepared for its
shapes, serves them all; the borders between cores are drawn anew at every
iteration (Tiling.tiles), so what the tiles' edges change is somewhere else
each time. Between tiles a pending Ctrl-C stops the run (nst.stopping).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

import numpy as np

from nst.assignment import load_vgg_model
from nst.costs import (
    activation_gram,
    gram_distance,
    moments_of_sums,
    total_cost,
    wasserstein_distance,
)
from nst.layer_shapes import positions
from nst.networks import network_of
from nst.stopping import safe_point
from nst.tf1.api import tf as tf1
from nst.tile_grid import Tile, Tiling, block_stride


class TileNetwork:
    """The network on one window of `tiling` (its window_shape), in the default graph, with
    each layer's output 0 outside the image. `place` puts a tile of an image into it;
    `gram[name]` and `total[name]` are sum x x^T and sum x over the tile's core positions
    of `layers`. One graph for every tile: the tiles differ only in what is fed."""

    def __init__(self, kernels: dict, tiling: Tiling, pooling: str, hold, layers: list[str]):
        self.tiling = tiling
        width, height = tiling.window_shape
        blocks = {int(name[4]) for name in network_of(kernels).conv_names}
        self.strides = {b: 2 ** (b - 1) for b in blocks}
        shapes = {b: (1, height // s, width // s, 1) for b, s in self.strides.items()}
        self.valid = {b: tf1.placeholder(tf1.float32, shape) for b, shape in shapes.items()}
        self.core = {b: tf1.placeholder(tf1.float32, shape) for b, shape in shapes.items()}

        def outside_zero(name: str, output):
            return output * self.valid[int(name[4])]

        self.model = load_vgg_model(
            kernels, width, height, pooling, hold=hold, outputs=outside_zero
        )
        self.new_input = tf1.placeholder(tf1.float32, (1, height, width, 3))
        self.set_input = self.model["input"].assign(self.new_input)
        self.gram, self.total = {}, {}
        for name in layers:
            core_only = self.model[name] * self.core[int(name[4])]
            self.gram[name] = activation_gram(core_only)
            self.total[name] = tf1.reduce_sum(core_only, axis=[0, 1, 2])

    def place(self, sess, image: np.ndarray, tile: Tile) -> dict:
        """Put the window of `tile` of `image` (1, H, W, 3; 0 outside it) into the network;
        the feed of the masks of its positions inside the image and of its core."""
        _, height, width, _ = image.shape
        window = np.zeros(self.new_input.shape, np.float32)
        (wy, iy), (wx, ix) = self.spans(tile, 1, height, width)
        window[:, wy, wx] = image[:, iy, ix]
        sess.run(self.set_input, {self.new_input: window})
        feed = {}
        for block, stride in self.strides.items():
            for masks, core in ((self.valid, False), (self.core, True)):
                values = np.zeros(masks[block].shape, np.float32)
                (rows, _), (columns, _) = self.spans(tile, stride, height, width, core)
                values[:, rows, columns] = 1
                feed[masks[block]] = values
        return feed

    def spans(self, tile: Tile, stride: int, height: int, width: int,
              core: bool = False) -> tuple[tuple[slice, slice], tuple[slice, slice]]:  # fmt: skip
        """((rows in the window, rows in the whole), (columns ..., ...)) of the part of
        `tile`'s window inside the image (or of its core), at a layer of `stride` pixels
        per position, for an image of height x width pixels."""
        x, y = tile.corner
        sides = self.tiling.window_shape
        spans = []
        for start, side, extent, part in ((y, sides[1], height, tile.rows),
                                          (x, sides[0], width, tile.columns)):  # fmt: skip
            first = start // stride
            if core:
                low, high = part.start // stride, -(-part.stop // stride)
            else:
                low, high = max(first, 0), min(first + side // stride, -(-extent // stride))
            spans.append((slice(low - first, high - first), slice(low, high)))
        return tuple(spans)

    def activations(self, sess, image: np.ndarray, name: str, dtype=np.float32) -> np.ndarray:
        """Layer `name`'s activation (1, n_H, n_W, n_C) of the whole `image`, put together
        from the tiles' cores, as `dtype`."""
        _, height, width, _ = image.shape
        stride, tensor = block_stride(name), self.model[name]
        shape = (1, -(-height // stride), -(-width // stride), int(tensor.shape[-1]))
        whole = np.zeros(shape, dtype)
        for tile, values in self.over_tiles(sess, image, tensor):
            (wy, iy), (wx, ix) = self.spans(tile, stride, height, width, core=True)
            whole[:, iy, ix] = values[:, wy, wx]
        return whole

    def over_tiles(self, sess, image: np.ndarray, fetches, draws=None, more=None) -> Iterator:
        """(tile, the values of `fetches`) for each tile of `image` (the core borders drawn
        from `draws`, see Tiling.tiles); `more(tile)`, when given, adds to each tile's feed."""
        _, height, width, _ = image.shape
        tiles = self.tiling.tiles(width, height, draws)
        for tile, feed in self.placed(sess, image, tiles, more):
            yield tile, sess.run(fetches, feed)

    def placed(self, sess, image: np.ndarray, tiles: list, more=None) -> Iterator:
        """(tile, its feed) for each of `tiles` of `image`, put into the network in turn;
        `more(tile)`, when given, adds to the feed. Before each tile, a pending Ctrl-C or
        SIGTERM is raised (nst.stopping.safe_point)."""
        for tile in tiles:
            safe_point()
            feed = self.place(sess, image, tile)
            if more is not None:
                feed.update(more(tile))
            yield tile, feed


def tiled_style_targets(
    net: TileNetwork, sess, image: np.ndarray, layers: list[str], size: tuple, style_loss: str
) -> list:
    """nst.level_costs.style_targets of the style `image` computed over tiles: Gram matrices
    sum x x^T (float64 sums) scaled to the positions of an output of `size` (width, height),
    or the moments (nst.costs.moments_of_sums)."""
    _, height, width, _ = image.shape
    fetches = ({n: net.gram[n] for n in layers}, {n: net.total[n] for n in layers})
    grams, totals = _summed(values for _, values in net.over_tiles(sess, image, fetches))
    counts = {name: positions(name, width, height) for name in layers}
    if style_loss == "wasserstein":
        return [moments_of_sums(totals[n], grams[n], counts[n]) for n in layers]
    return [(grams[n] * (positions(n, *size) / counts[n])).astype(np.float32) for n in layers]


BAND_VALUES = 2**20
"""Values total_variation squares in float64 at a time."""


def total_variation(
    image: np.ndarray, gradient: np.ndarray | None = None, weight: float = 1.0
) -> float:
    """J_tv of nst.costs.total_variation_cost, in NumPy, with weight * dJ_tv/d image added
    to `gradient` (image's shape) when given: with the differences d of vertical and
    horizontal neighbours, J_tv = sum d^2, and each d adds 2 d to its later pixel's gradient
    and -2 d to its earlier one's. Holds one copy of the image at a time (d), and sums d^2
    in float64 BAND_VALUES values at a time."""
    cost = 0.0
    for axis in (1, 2):
        d = np.diff(image, axis=axis)
        flat = d.reshape(-1)
        cost = _banded_dot(flat, flat, cost)
        if gradient is None:
            continue
        d *= np.float32(2 * weight)
        later = [slice(None)] * 4
        earlier = [slice(None)] * 4
        later[axis], earlier[axis] = slice(1, None), slice(None, -1)
        gradient[tuple(later)] += d
        gradient[tuple(earlier)] -= d
    return cost


def temporal_difference(
    image: np.ndarray,
    warped: np.ndarray,
    certainty: np.ndarray,
    gradient: np.ndarray | None = None,
    weight: float = 1.0,
) -> float:
    """J_temporal of nst.costs.temporal_cost, in NumPy, with weight * dJ_temporal/d image added
    to `gradient` (image's shape) when given: with d = image - warped and c the certainty
    (H, W) broadcast over the channels, J_temporal = sum(c d^2) / D, D = image.size, and
    dJ_temporal/d image = 2 c d / D. Holds two copies of the image at a time (d and c d),
    and sums in float64 BAND_VALUES values at a time."""
    d = np.subtract(image, warped, dtype=np.float32)
    weighted = d * np.asarray(certainty, np.float32)[..., None]
    total = _banded_dot(weighted.reshape(-1), d.reshape(-1))
    if gradient is not None:
        weighted *= np.float32(2 * weight / image.size)
        gradient += weighted
    return total / image.size


def _banded_dot(a: np.ndarray, b: np.ndarray, total: float = 0.0) -> float:
    """total + sum(a * b) for flat float32 arrays a and b, each product summed in float64,
    BAND_VALUES values at a time (one float64 band of b at a time, not a whole copy)."""
    for start in range(0, a.size, BAND_VALUES):
        band = slice(start, start + BAND_VALUES)
        total += float(np.dot(a[band], b[band].astype(np.float64)))
    return total


def _summed(parts: Iterable[tuple]) -> tuple:
    """The sums, in float64, of the tiles' values: each part a tuple of {name: array} dicts
    or scalars, as all the others."""
    totals = None
    for part in parts:
        if totals is None:
            totals = [_as_float64(p) for p in part]
            continue
        for k, p in enumerate(part):
            if isinstance(p, dict):
                for name, value in p.items():
                    totals[k][name] += value
            else:
                totals[k] += float(p)
    return tuple(totals)


def _digest(image: np.ndarray) -> bytes:
    """A digest of `image`'s values as the network sees them (float32), DIGEST_ROWS rows at
    a time (no whole copy of a float64 image)."""
    digest = hashlib.blake2b(digest_size=16)
    for top in range(0, image.shape[1], DIGEST_ROWS):
        digest.update(np.ascontiguousarray(image[:, top : top + DIGEST_ROWS], np.float32))
    return digest.digest()


DIGEST_ROWS = 256
"""Rows of an image _digest converts to float32 at a time."""


def _as_float64(part):
    if isinstance(part, dict):
        return {name: np.asarray(value, np.float64) for name, value in part.items()}
    return float(part)


class TiledCosts:
    """The costs of nst.optimize.Objective `objective` for whole images of `size` (width,
    height), and their gradient, evaluated over the tiles of `net` in `sess` (see the
    module's docstring). a_C: the content's activation at the content layer (whole);
    targets[k]: style image k's targets (nst.level_costs.style_targets, scaled to `size`);
    temporal: a clip's frame's nst.optimize.TemporalTargets, or None."""

    def __init__(self, sess, net: TileNetwork, objective, a_C, targets, size, seed, temporal=None):
        o = self.objective = objective
        self.sess, self.net, self.a_C, self.seed = sess, net, a_C, seed
        self.temporal = temporal
        self._last_sums: tuple | None = None  # ((i, _digest(image)), _sums' feed)
        self.names = [name for name, _ in o.style_layers]
        channels = {n: int(net.gram[n].shape[0]) for n in self.names}
        self.G = {n: tf1.placeholder(tf1.float32, (c, c)) for n, c in channels.items()}
        self.t = {}
        if o.style_loss == "wasserstein":
            self.t = {n: tf1.placeholder(tf1.float32, (c,)) for n, c in channels.items()}
        self.content_sum = tf1.placeholder(tf1.float32, ())
        _, n_H, n_W, n_C = a_C.shape
        J_content = self.content_sum / (4 * n_H * n_W * n_C)
        J_style = self._style_cost(targets, size)
        self.costs = [total_cost(J_content, J_style, o.alpha, o.beta), J_content, J_style]
        sums = [*self.G.values(), *self.t.values()]
        self.slopes = dict(zip(sums, tf1.gradients(self.costs[0], sums), strict=True))
        self.slope_in = {s: tf1.placeholder(tf1.float32, s.shape) for s in sums}
        a_G = net.model[o.content_layer]
        self.a_C_tile = tf1.placeholder(tf1.float32, a_G.shape)
        core = net.core[int(o.content_layer[4])]
        self.content_part = tf1.reduce_sum(tf1.square(self.a_C_tile - a_G) * core)
        surrogate = o.alpha / (4 * n_H * n_W * n_C) * self.content_part
        for name in self.names:
            surrogate += tf1.reduce_sum(self.slope_in[self.G[name]] * net.gram[name])
            if self.t:
                surrogate += tf1.reduce_sum(self.slope_in[self.t[name]] * net.total[name])
        self.gradient = tf1.gradients(surrogate, net.model["input"])[0]

    def _style_cost(self, targets: list, size: tuple[int, int]):
        """J_style = sum_k blend_k sum_l weight_l J_style_layer(targets[k][l], S_l) from the
        whole image's sums S_l fed to self.G (and self.t)."""
        o = self.objective
        per_style = []
        for style in targets:
            J = 0
            for (name, weight), target in zip(o.style_layers, style, strict=True):
                G, count = self.G[name], positions(name, *size)
                n_C = int(G.shape[0])
                if self.t:
                    mean = self.t[name] / count
                    covariance = G / count - tf1.tensordot(mean, mean, axes=0)
                    J += weight * wasserstein_distance(target, mean, covariance, n_C)
                else:
                    J += weight * gram_distance(target, G, n_C, count)
            per_style.append(J)
        return sum(w * J for w, J in zip(o.blend, per_style, strict=True))

    def _content_tile(self, tile: Tile) -> dict:
        """The feed of the content's activation over the window of `tile`."""
        _, n_H, n_W, _ = self.a_C.shape
        stride = block_stride(self.objective.content_layer)
        (wy, iy), (wx, ix) = self.net.spans(tile, stride, n_H * stride, n_W * stride)
        window = np.zeros(self.a_C_tile.shape, np.float32)
        window[:, wy, wx] = self.a_C[:, iy, ix]
        return {self.a_C_tile: window}

    def _sums(self, image: np.ndarray, i: int, hold_last: bool = False) -> tuple[dict, tuple]:
        """Pass 1: the feed of the whole image's sums, added up over the cores of step i's
        tiles; with `hold_last`, the last tile's run is left open (a partial run) for its
        gradient, which then needs no second forward pass: (that tile, the run's handle), else
        None. Kept for the image last seen: the costs of an image whose gradient was just taken
        (or the reverse, L-BFGS-B's first point) need no second pass."""
        key = (i, _digest(image))
        if self._last_sums is not None and self._last_sums[0] == key:
            return self._last_sums[1], None
        fetches = (
            {n: self.net.gram[n] for n in self.names},
            {n: self.net.total[n] for n in self.names} if self.t else {},
            self.content_part,
        )
        tiles = self._tiles(image, i)
        parts, held = [], None
        for tile, feed in self.net.placed(self.sess, image, tiles, self._content_tile):
            if hold_last and tile is tiles[-1]:
                later = [*fetches[0].values(), *fetches[1].values(), fetches[2], self.gradient]
                handle = self.sess.partial_run_setup(later, [*feed, *self.slope_in.values()])
                parts.append(self.sess.partial_run(handle, fetches, feed))
                held = tile, handle
            else:
                parts.append(self.sess.run(fetches, feed))
        grams, totals, content = _summed(parts)
        feed = {self.G[n]: grams[n] for n in self.names} | {self.content_sum: content}
        feed |= {self.t[n]: totals[n] for n in self.t}
        self._last_sums = key, feed
        return feed, held

    def _tiles(self, image: np.ndarray, i: int) -> list:
        """The tiles of `image` at step i (Tiling.tiles, drawn from the seed and i)."""
        _, height, width, _ = image.shape
        return self.net.tiling.tiles(width, height, self.net.tiling.grid(self.seed, i))

    def costs_of(self, image: np.ndarray, i: int) -> tuple:
        """(J, J_content, J_style[, J_tv]) of `image` (1, H, W, 3), over the tiles of step i."""
        values = self.sess.run(self.costs, self._sums(image, i)[0])
        return self._with_pixel_costs(values, image)

    def cost_and_gradient(self, image: np.ndarray, i: int) -> tuple[float, np.ndarray]:
        """(J, dJ/d image) of `image` (1, H, W, 3), over the tiles of step i (both passes)."""
        sums, held = self._sums(image, i, hold_last=True)
        values, slopes = self.sess.run((self.costs, self.slopes), sums)
        slope_feed = {self.slope_in[s]: value for s, value in slopes.items()}
        _, height, width, _ = image.shape
        gradient = np.zeros(image.shape, np.float32)

        def add(tile: Tile, tile_gradient: np.ndarray) -> None:
            (wy, iy), (wx, ix) = self.net.spans(tile, 1, height, width)
            gradient[:, iy, ix] += tile_gradient[:, wy, wx]

        tiles = self._tiles(image, i)
        if held is not None:
            tile, handle = held
            add(tile, self.sess.partial_run(handle, self.gradient, slope_feed))
            tiles.remove(tile)

        def more(tile: Tile) -> dict:
            return self._content_tile(tile) | slope_feed

        for tile, feed in self.net.placed(self.sess, image, tiles, more):
            add(tile, self.sess.run(self.gradient, feed))
        costs = self._with_pixel_costs(values, image, gradient)
        return float(costs[0]), gradient

    def _with_pixel_costs(
        self, values: list, image: np.ndarray, gradient: np.ndarray | None = None
    ) -> tuple:
        """The costs with the shares of the costs of the pixels themselves, computed on the
        whole image: the total variation (and J_tv) when it counts, the temporal cost (and
        J_temporal) of a clip's frame; their gradients added to `gradient` when given."""
        J, *parts = values
        weight = self.objective.tv_weight
        if weight > 0:
            J_tv = total_variation(image, gradient, weight)
            J, parts = J + weight * J_tv, [*parts, J_tv]
        if (t := self.temporal) is not None:
            J_temporal = sum(
                temporal_difference(image, warped, c, gradient, t.weight)
                for warped, c in zip(t.warped, t.weights, strict=True)
            )
            J, parts = J + t.weight * J_temporal, [*parts, J_temporal]
        return tuple(np.float32(v) for v in (J, *parts))
