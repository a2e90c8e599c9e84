"""One size level's costs: its content and style targets, and J, its parts and dJ/dx of any image.

`level_costs` makes them for the whole image in one TensorFlow graph
(nst.optimize.GraphCosts, targets from graphs of their own) or in tiles
(nst.tiled_costs, targets from the same tiles); either way the optimizers get an
nst.optimizers.LevelCosts, so that the rest of a run does not know which.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import numpy as np

from nst.assignment import load_vgg_model
from nst.costs import activation_gram, moments
from nst.images import Inputs, resize
from nst.layer_shapes import positions
from nst.optimize import GraphCosts, Objective, cost_graph
from nst.optimizers import LevelCosts
from nst.pixels import PIXEL_SPACES, PixelSpace
from nst.settings import Settings
from nst.tf1.api import tf as tf1
from nst.tf_session import DEFAULT_COMPUTE, Compute
from nst.tile_grid import Tiling
from nst.tiled_costs import TiledCosts, TileNetwork, tiled_style_targets
from nst.video.temporal_targets import TemporalTargets

CONTENT_TARGET_DTYPE = np.float16
"""How a tiled run keeps the whole content target (half float32's memory; relative error
at most 2^-11, see bench/README.md)."""


class KeptStyleTargets:
    """Style targets kept from one level_costs to the next whose style images, size and
    settings are the same (a clip's frames): computed once, not again for every frame.
    `key` says what they were computed from (None: nothing kept yet)."""

    def __init__(self):
        self.key: tuple | None = None
        self.targets: list | None = None

    def get(self, key: tuple, compute: Callable[[], list]) -> list:
        """The targets of `key`: the kept ones when they are of it, else compute()'s, kept."""
        if key != self.key:
            self.key = None  # until the new targets are in
            self.targets = compute()
            self.key = key
        return self.targets


def level_costs(
    settings: Settings,
    kernels: dict,
    inputs: Inputs,
    content_rgb: np.ndarray,
    tiling: Tiling | None,
    temporal: TemporalTargets | None = None,
    kept: KeptStyleTargets | None = None,
) -> AbstractContextManager[LevelCosts]:
    """The costs of settings' objective for images of content_rgb's size (the content, uint8
    RGB, at that size), with the style images of `inputs` at settings.style_scale times it,
    and a clip's frame's `temporal` targets when given: in the tiles of `tiling`, or on the
    whole image when it is None. With `kept`, the style targets are taken from there when it
    holds those of the same style images, size and settings, and kept there otherwise. The
    costs hold a TensorFlow session until the context ends."""
    s = settings
    space = PIXEL_SPACES[s.pixels]
    height, width, _ = content_rgb.shape
    styles = style_images(s, space, inputs, (width, height))
    content = space.to_network(content_rgb)  # only the context holds it, to drop it when used
    compute = Compute(s.threads, s.xla, s.precision)
    key = (tiling is None, id(kernels), (width, height), s.network, s.pooling,
           s.style_loss, tuple(s.style_layers), s.style_scale, s.pixels, compute,
           _digest(inputs.styles))  # fmt: skip
    kept = kept or KeptStyleTargets()
    if tiling is None:
        return _whole_image_costs(s, kernels, content, styles, compute, temporal, kept, key)
    return _tiled_costs(s, kernels, content, styles, compute, tiling, temporal, kept, key)


def _digest(images: list[np.ndarray]) -> bytes:
    """A digest of the images' shapes and pixels."""
    digest = hashlib.blake2b(digest_size=16)
    for image in images:
        digest.update(repr(image.shape).encode())
        digest.update(np.ascontiguousarray(image).data)
    return digest.digest()


@contextmanager
def _whole_image_costs(
    settings: Settings,
    kernels: dict,
    content: np.ndarray,
    styles: Iterator[np.ndarray],
    compute: Compute,
    temporal: TemporalTargets | None,
    kept: KeptStyleTargets,
    key: tuple,
) -> Iterator[LevelCosts]:
    """level_costs of the whole image: one graph of the costs, its targets computed before in
    graphs of their own (activations, style_targets), the style targets kept in `kept` under
    `key`."""
    s = settings
    _, height, width, _ = content.shape
    a_C = activations(kernels, content, [s.content_layer], s.pooling, compute)[0]
    del content  # what is kept of it is a_C (the image arrays are what memory grows with)
    names = [name for name, _ in s.style_layers]
    targets = kept.get(
        key,
        lambda: [
            style_targets(kernels, style, names, s.pooling, (width, height), s.style_loss, compute)
            for style in styles
        ],
    )
    with tf1.Graph().as_default() as graph, compute.session(graph) as sess:
        held = HeldKernels()
        model = load_vgg_model(kernels, width, height, s.pooling, hold=held)
        costs = cost_graph(model, a_C, targets, objective_of(s), temporal)
        sess.run(tf1.global_variables_initializer())
        held.load(sess)
        yield GraphCosts(sess, costs)


@contextmanager
def _tiled_costs(
    settings: Settings,
    kernels: dict,
    content: np.ndarray,
    styles: Iterator[np.ndarray],
    compute: Compute,
    tiling: Tiling,
    temporal: TemporalTargets | None,
    kept: KeptStyleTargets,
    key: tuple,
) -> Iterator[LevelCosts]:
    """level_costs in tiles: one tile's network computes the targets (the content's as
    CONTENT_TARGET_DTYPE, one style image at a time, the style targets kept in `kept` under
    `key`) and every cost and gradient."""
    s = settings
    _, height, width, _ = content.shape
    with tf1.Graph().as_default() as graph, compute.session(graph) as sess:
        held = HeldKernels()
        names = [name for name, _ in s.style_layers]
        net = TileNetwork(kernels, tiling, s.pooling, held, names)
        held.load(sess)
        a_C = net.activations(sess, content, s.content_layer, CONTENT_TARGET_DTYPE)
        del content  # the image arrays are the memory a tiled run grows with
        targets = kept.get(
            key,
            lambda: [
                tiled_style_targets(net, sess, style, names, (width, height), s.style_loss)
                for style in styles
            ],
        )
        objective = objective_of(s)
        size = (width, height)
        yield _InTiles(TiledCosts(sess, net, objective, a_C, targets, size, s.seed, temporal))


class _InTiles(LevelCosts):
    """The LevelCosts of nst.tiled_costs.TiledCosts (Adam's steps in NumPy)."""

    def __init__(self, tiled: TiledCosts):
        self.tiled = tiled

    def costs(self, x: np.ndarray, i: int) -> tuple:
        return self.tiled.costs_of(x, i)

    def cost_and_gradient(self, x: np.ndarray, i: int) -> tuple[float, np.ndarray]:
        return self.tiled.cost_and_gradient(x, i)


def objective_of(settings: Settings) -> Objective:
    """What J measures, from the settings."""
    s = settings
    return Objective(
        s.content_layer,
        s.style_layers,
        s.blend_weights(),
        s.alpha,
        s.beta,
        s.tv_weight,
        s.style_loss,
    )


def style_images(
    settings: Settings, space: PixelSpace, inputs: Inputs, size: tuple[int, int]
) -> Iterator[np.ndarray]:
    """The style images as network input, each at settings.style_scale times `size`, made
    one at a time."""
    width, height = size
    scale = settings.style_scale
    style_size = max(1, round(width * scale)), max(1, round(height * scale))
    return (space.to_network(resize(rgb, *style_size)) for rgb in inputs.styles)


class HeldKernels:
    """Kernels held in variables, loaded once per session (`hold=` of load_vgg_model).

    As constants (the assignment's way) the 80 MB of kernels are copied into
    every graph TensorFlow optimizes for a new set of fetched tensors; held in
    variables they are stored once. The values, and so the results, are the same.
    """

    def __init__(self):
        self.pairs: list[tuple[tf1.Variable, np.ndarray]] = []

    def __call__(self, value: np.ndarray) -> tf1.Variable:
        variable = tf1.Variable(tf1.zeros(value.shape, value.dtype), trainable=False)
        self.pairs.append((variable, value))
        return variable

    def load(self, sess) -> None:
        """Put the kernels' values into their variables (after the variables' initializer)."""
        for variable, value in self.pairs:
            variable.load(value, sess)


def activations(
    kernels: dict,
    image: np.ndarray,
    layers: list[str],
    pooling: str,
    compute: Compute = DEFAULT_COMPUTE,
) -> list[np.ndarray]:
    """The network's activations at `layers` for `image` (1, H, W, 3), in a graph of their
    own (the network is the one whose layers `kernels` hold)."""
    _, height, width, _ = image.shape
    with tf1.Graph().as_default() as graph, compute.session(graph) as sess:
        held = HeldKernels()
        model = load_vgg_model(kernels, width, height, pooling, hold=held)
        held.load(sess)
        sess.run(model["input"].assign(image))
        return sess.run([model[name] for name in layers])


def style_targets(
    kernels: dict,
    image: np.ndarray,
    layers: list[str],
    pooling: str,
    size: tuple[int, int],
    style_loss: str = "gram",
    compute: Compute = DEFAULT_COMPUTE,
) -> list:
    """What the style cost compares with, per layer of `layers`, for the style `image`.

    With style_loss "gram", the Gram matrices (n_C, n_C) of `image`'s activations;
    with "wasserstein", their moments (mu, Sigma, Sigma^1/2) (nst.costs.moments).

    Each Gram matrix is scaled to the number of positions the layer has for an output of
    `size` (width, height), see nst.costs.activation_gram. Only these matrices,
    not the activations, go into the optimized graph. They are computed from the
    activations held as constants, as in the assignment's graph, so that
    TensorFlow computes them the same way and the costs agree bit for bit.
    """
    width, height = size
    targets = activations(kernels, image, layers, pooling, compute)
    if style_loss == "wasserstein":
        return [moments(a_S) for a_S in targets]
    with tf1.Graph().as_default() as graph, compute.session(graph) as sess:
        return sess.run(
            [
                activation_gram(tf1.constant(a_S), positions(name, width, height))
                for name, a_S in zip(layers, targets, strict=True)
            ]
        )
