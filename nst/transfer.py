"""The Python API: `stylize(settings)` yields every iterate of a style transfer.

    from nst.settings import TOLERANCE_WINDOW, Settings
    from nst.transfer import stylize

    settings = Settings(content=Path("images/cat.jpg"), styles=(Path("images/stone.jpg"),))
    for step in stylize(settings):
        if step.costs:
            print(step.i, step.costs["total"])
    # step.image is the last picture (uint8 RGB)

The command line runs the same generator; it only adds printing and files.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from nst.assignment import generate_noise_image, load_vgg_model
from nst.averaging import IterateAverage, mean_of
from nst.checkpoint import Checkpoint
from nst.colors import match_colors, preserve_colors, with_content_chroma
from nst.compute import DEFAULT_COMPUTE, Compute
from nst.costs import activation_gram, moments
from nst.errors import InputError
from nst.images import Inputs, resize
from nst.layer_shapes import positions
from nst.levels import output_size, schedule
from nst.networks import NETWORKS
from nst.optimize import (
    Adam,
    CostGraph,
    Iterate,
    Objective,
    adam_evaluated_steps,
    adam_steps,
    cost_graph,
    lbfgs_evaluated_steps,
    lbfgs_steps,
)
from nst.pixels import PIXEL_SPACES, PixelSpace
from nst.settings import TOLERANCE_WINDOW, Settings
from nst.tf1.api import tf as tf1
from nst.tiles import TiledCosts, TileNetwork, tiled_style_targets
from nst.tiling import Tiling, tiling_of
from nst.weights.guard import read_weights
from nst.weights.sources import find_weights

COST_NAMES = ("total", "content", "style", "total variation")
NOISE_AMPLITUDE = 20.0  # the assignment's uniform(-20, 20), in 0..255 pixel units
JITTER_AMPLITUDE = 63.75  # the TF 2 edition's uniform(-0.25, 0.25) of [0, 1] pixels
CONTENT_TARGET_DTYPE = np.float16
"""How a tiled run keeps the whole content target (half float32's memory; relative error
at most 2^-11, see bench/README.md)."""


@dataclass(frozen=True)
class Step:
    """Iterate i for the caller.

    image: the picture (uint8 RGB, (H, W, 3)), with the content's colours
    when content_colors is given (preserve_colors); costs: {"total", "content",
    "style"[, "total variation"]} of this image when evaluated (every save_every
    steps and after the last), else None; J_before: the total cost of the image
    this step started from; checkpoint: the state to resume from (the picture
    shown is its average when averaging, else its image); space: the pixel space
    of the checkpoint's images; content_colors: the content (uint8 RGB at the
    picture's size) whose colours the picture keeps, or None.
    """

    i: int
    image: np.ndarray
    costs: dict[str, float] | None
    J_before: float
    checkpoint: Checkpoint
    space: PixelSpace
    content_colors: np.ndarray | None

    @property
    def pixels(self) -> np.ndarray:
        """The picture as float64 (H, W, 3) on the 0..255 scale before it was rounded to 8
        bits (what --output-depth 16 writes); made when asked, not kept (24 bytes a pixel)."""
        pixels = self.space.to_pixels(_shown_image(self.checkpoint))
        if self.content_colors is not None:
            pixels = with_content_chroma(self.content_colors, pixels)
        return pixels


class NonFiniteCostError(InputError):
    """The costs overflowed; `last_good` is the latest Step whose costs were finite (or None)."""

    def __init__(self, message: str, last_good: Step | None):
        super().__init__(message)
        self.last_good = last_good


def stylize(
    settings: Settings,
    resume: Checkpoint | None = None,
    kernels: dict | None = None,
    inputs: Inputs | None = None,
) -> Iterator[Step]:
    """Yield Step i for i in 0 .. settings.iterations - 1 (from resume.i + 1 when resuming).

    `kernels` are the weights of settings.network if already read
    (nst.weights.guard.read_weights), else they are read from settings.weights or the
    first file found; `inputs` are
    the images if already read, else they are read from settings' paths. With
    coarse levels (see `schedule`) the first steps' images are smaller. Raises
    InputError for unreadable images or weights, and NonFiniteCostError when a
    cost becomes infinite or NaN. Closing the generator stops the run.
    """
    s = settings
    network = NETWORKS[s.network]
    inputs = recolored(s, inputs or Inputs.read(s.content, s.styles, s.init_file))
    size = output_size(s, inputs.content.shape)
    kernels = kernels or read_weights(s.weights or find_weights(network=network), network)
    first = resume.i + 1 if resume else 0
    start = resume or Checkpoint(-1, None)
    for (width, height), steps in schedule(s, size):
        if not steps or first > steps[-1]:
            continue
        if start.image is not None and (
            start is not resume or start.image.shape[1:3] != (height, width)
        ):  # a new level
            start = _enlarged(start, width, height, s.adam_warm_start)
        last = None
        steps = range(max(first, steps.start), steps.stop)
        level = _level_steps(s, kernels, inputs, (width, height), start, steps)
        totals: list[float] = []
        for last in level:
            yield last
            totals.append(last.J_before)
            if _settled(totals, s.tolerance):
                level.close()
                break
        if last is not None:  # else L-BFGS found no step: the next level starts from `start`
            start = last.checkpoint


def _enlarged(checkpoint: Checkpoint, width: int, height: int, warm_start: bool) -> Checkpoint:
    """Where a new level of width x height starts: the last level's picture (its average,
    when averaging) enlarged bilinearly when smaller, with Adam's moments enlarged likewise
    when `warm_start` (else Adam starts afresh), and a new average."""

    def enlarged(array: np.ndarray) -> np.ndarray:
        return resize(array[0], width, height, Image.Resampling.BILINEAR)[None]

    image = enlarged(_shown_image(checkpoint))
    state = ()
    if warm_start:  # the moments have the image's shape; Adam's beta powers are scalars
        state = tuple(enlarged(v) if np.ndim(v) == 4 else v for v in checkpoint.state)
    return Checkpoint(checkpoint.i, image, state)


def _settled(totals: list[float], tolerance: float) -> bool:
    """Whether the total cost J has settled: over the last TOLERANCE_WINDOW iterations of
    `totals` (J at each iteration), (J_old - J_new) / |J_old| < tolerance; never when
    tolerance is 0."""
    if tolerance <= 0 or len(totals) <= TOLERANCE_WINDOW:
        return False
    old, new = totals[-1 - TOLERANCE_WINDOW], totals[-1]
    return (old - new) < tolerance * abs(old)


def recolored(settings: Settings, inputs: Inputs) -> Inputs:
    """The images the targets and the initial image are made from: `inputs` itself with
    --color-transfer off; with style, new Inputs whose style images have the content's
    colours; with content, new Inputs whose content has the colours of the style images
    blended with settings.style_blend_weights (equal shares when None). Colours are
    matched by settings.color_match (nst.colors.match_colors), once, on the decoded images."""
    s = settings
    if s.color_transfer == "style":
        styles = [
            match_colors(style, [inputs.content], method=s.color_match) for style in inputs.styles
        ]
        return dataclasses.replace(inputs, styles=styles)
    if s.color_transfer == "content":
        content = match_colors(inputs.content, inputs.styles, s.style_blend_weights, s.color_match)
        return dataclasses.replace(inputs, content=content)
    return inputs


def _level_steps(
    settings: Settings,
    kernels: dict,
    inputs: Inputs,
    size: tuple[int, int],
    start: Checkpoint,
    steps: range,
) -> Iterator[Step]:
    """The Steps in `steps` at one size (width, height): its targets, graph and session,
    starting from `start`: its image (the initial image when None), Adam's state and the
    iterates' average. In tiles (nst.tiles) when settings.tile is smaller than the size."""
    s = settings
    width, height = size
    tiling = tiling_of(s.tile, size)
    if tiling is not None:
        yield from _tiled_level_steps(s, kernels, inputs, size, start, steps, tiling)
        return
    space = PIXEL_SPACES[s.pixels]
    compute = Compute(s.threads, s.xla, s.precision)
    content_rgb = resize(inputs.content, width, height)
    content = space.to_network(content_rgb)
    a_C = activations(kernels, content, [s.content_layer], s.pooling, compute)[0]
    style_names = [name for name, _ in s.style_layers]
    targets = [
        style_targets(kernels, style, style_names, s.pooling, size, s.style_loss, compute)
        for style in _style_images(s, space, inputs, size)
    ]
    image = initial_image(s, space, content, inputs) if start.image is None else start.image
    bounds = space.bounds() if s.clip else None
    with tf1.Graph().as_default() as graph, compute.session(graph) as sess:
        held = HeldKernels()
        model = load_vgg_model(kernels, width, height, s.pooling, hold=held)
        adam = Adam(s.learning_rate, s.adam_beta2, s.adam_epsilon)
        costs = cost_graph(model, a_C, targets, _objective(s), s.optimizer, adam, bounds)
        sess.run(tf1.global_variables_initializer())
        held.load(sess)
        if s.optimizer == "adam":
            iterates = adam_steps(sess, costs, image, steps, s.save_every, start.state)
        else:
            iterates = lbfgs_steps(sess, costs, image, steps, s.save_every, space.scale, bounds)
        yield from _shown(
            s, iterates, space, content_rgb, start, lambda x: _costs_at(sess, costs, x)
        )


def _objective(settings: Settings) -> Objective:
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


def _style_images(
    settings: Settings, space: PixelSpace, inputs: Inputs, size: tuple[int, int]
) -> Iterator[np.ndarray]:
    """The style images as network input, each at settings.style_scale times `size`, made
    one at a time."""
    width, height = size
    scale = settings.style_scale
    style_size = max(1, round(width * scale)), max(1, round(height * scale))
    return (space.to_network(resize(rgb, *style_size)) for rgb in inputs.styles)


def _tiled_level_steps(
    settings: Settings,
    kernels: dict,
    inputs: Inputs,
    size: tuple[int, int],
    start: Checkpoint,
    steps: range,
    tiling: Tiling,
) -> Iterator[Step]:
    """_level_steps in tiles: the targets and every cost and gradient computed over the
    tiles of `tiling` (nst.tiles), the optimizer's state kept for the whole image."""
    s = settings
    width, height = size
    space = PIXEL_SPACES[s.pixels]
    compute = Compute(s.threads, s.xla, s.precision)
    content_rgb = resize(inputs.content, width, height)
    content = space.to_network(content_rgb)
    image = start.image
    if image is None:  # float32 as the optimizers take it: the same values, half the bytes
        image = initial_image(s, space, content, inputs).astype(np.float32)
    bounds = space.bounds() if s.clip else None
    with tf1.Graph().as_default() as graph, compute.session(graph) as sess:
        held = HeldKernels()
        style_names = [name for name, _ in s.style_layers]
        net = TileNetwork(kernels, tiling, s.pooling, held, style_names)
        held.load(sess)
        a_C = net.activations(sess, content, s.content_layer, CONTENT_TARGET_DTYPE)
        del content  # the image arrays are the memory a tiled run grows with
        targets = [  # one style image at a time
            tiled_style_targets(net, sess, style, style_names, size, s.style_loss)
            for style in _style_images(s, space, inputs, size)
        ]
        tiled = TiledCosts(sess, net, _objective(s), a_C, targets, size, s.seed)
        evaluator = tiled.evaluator()
        if s.optimizer == "adam":
            adam = Adam(s.learning_rate, s.adam_beta2, s.adam_epsilon)
            iterates = adam_evaluated_steps(
                evaluator, image, steps, s.save_every, start.state, adam, bounds
            )
        else:
            iterates = lbfgs_evaluated_steps(
                evaluator, image, steps, s.save_every, space.scale, bounds
            )
        del image
        last = steps.stop - 1
        yield from _shown(s, iterates, space, content_rgb, start, lambda x: tiled.costs_of(x, last))


def _shown(
    settings: Settings,
    iterates: Iterator[Iterate],
    space: PixelSpace,
    content_rgb: np.ndarray,
    start: Checkpoint,
    costs_of,
) -> Iterator[Step]:
    """The Steps the caller sees of `iterates`: their moving average when settings.average
    (its costs from `costs_of(image)`), with the content's colours when preserve_colors."""
    s = settings
    average = None
    if s.average:
        average = IterateAverage(s.average, start.average)
        iterates = _averaged(iterates, average, costs_of)
    content_colors = content_rgb if s.preserve_colors else None
    return _checked_steps(iterates, space, content_colors, average)


def _costs_at(sess, graph: CostGraph, image: np.ndarray) -> tuple:
    """graph's costs for `image`; model['input'] is put back after (the optimizer goes on
    from what it held)."""
    current = sess.run(graph.model["input"])
    graph.assign_input(sess, image)
    costs = tuple(sess.run(graph.costs()))
    graph.assign_input(sess, current)
    return costs


def _averaged(iterates: Iterator[Iterate], average: IterateAverage, costs_of) -> Iterator[Iterate]:
    """The iterates, each taken into `average`; the costs given are those of the average
    (`costs_of(image)`, evaluated when the iterate's would be), the picture the caller shows."""
    for it in iterates:
        average.add(it.image)
        if it.costs is not None:
            it = dataclasses.replace(it, costs=costs_of(average.value()))
        yield it


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


def initial_image(
    settings: Settings, space: PixelSpace, content: np.ndarray, inputs: Inputs
) -> np.ndarray:
    """The image the optimization starts from, as network input (1, H, W, 3).

    noise: the assignment's noise_ratio * uniform(-20, 20) + (1 - noise_ratio) * content;
    content; style: the first style image at the output size; random: uniform
    0..255 pixels; jitter: content + uniform(-63.75, 63.75) (the TF 2 edition's
    ±0.25 of [0, 1]), clipped to 0..255; a path: that image (inputs.init) at the
    content's size.
    Random numbers come from NumPy's global generator, seeded with settings.seed.
    """
    s = settings
    if s.seed is not None:
        np.random.seed(s.seed)
    low, high = space.bounds()
    if s.init == "noise":
        return generate_noise_image(content, s.noise_ratio, NOISE_AMPLITUDE * space.scale)
    if s.init == "content":
        return content
    if s.init == "random":
        pixels = np.random.uniform(0, 255, content.shape[1:]).astype(np.float32)
        return pixels[None] * space.scale - space.means
    if s.init == "jitter":
        amplitude = JITTER_AMPLITUDE * space.scale
        noise = np.random.uniform(-amplitude, amplitude, content.shape).astype(np.float32)
        return np.clip(content + noise, low, high)
    source = inputs.styles[0] if s.init == "style" else inputs.init
    _, height, width, _ = content.shape
    return space.to_network(resize(source, width, height))


def _checked_steps(
    iterates: Iterator[Iterate],
    space: PixelSpace,
    content_rgb: np.ndarray | None,
    average: IterateAverage | None = None,
) -> Iterator[Step]:
    """Steps from iterates, stopping with NonFiniteCostError at the first infinite or NaN cost.
    With `average` (kept up to date by _averaged), a Step's picture is the average."""
    previous: Step | None = None
    good: Step | None = None  # the latest step known to have finite costs
    for it in iterates:
        if not math.isfinite(it.J_before):  # the cost of the image this step started from
            raise _non_finite(it.i - 1, good)
        good = previous or good
        if not (np.isfinite(it.image).all() and all(map(math.isfinite, it.costs or ()))):
            raise _non_finite(it.i, good)
        costs = dict(zip(COST_NAMES, map(float, it.costs), strict=False)) if it.costs else None
        checkpoint = Checkpoint(it.i, it.image, it.state, average.state() if average else ())
        image = _rgb(space, _shown_image(checkpoint), content_rgb)
        step = Step(it.i, image, costs, it.J_before, checkpoint, space, content_rgb)
        if costs is not None:
            good = step
        previous = step
        yield step


def _shown_image(checkpoint: Checkpoint) -> np.ndarray:
    """The picture a checkpoint shows, as network input: its iterates' average when
    averaging, else its image."""
    return mean_of(checkpoint.average) if checkpoint.average else checkpoint.image


BAND_ROWS = 256
"""Rows converted at a time from network input to a picture (its float64 copies stay small)."""


def _rgb(space: PixelSpace, image: np.ndarray, content_rgb: np.ndarray | None) -> np.ndarray:
    """uint8 (H, W, 3) of network input `image`: space.to_rgb, then with the colours of
    `content_rgb` (preserve_colors) when given; BAND_ROWS rows at a time, the same values."""
    rgb = np.empty(image.shape[1:], np.uint8)
    for top in range(0, len(rgb), BAND_ROWS):
        band = slice(top, top + BAND_ROWS)
        rgb[band] = space.to_rgb(image[:, band])
        if content_rgb is not None:
            rgb[band] = preserve_colors(content_rgb[band], rgb[band])
    return rgb


def _non_finite(i: int, last_good: Step | None) -> NonFiniteCostError:
    where = f"after iteration {i}" if i >= 0 else "at the start"
    return NonFiniteCostError(
        f"the cost became infinite or NaN {where}; the step size is too large for "
        "these images: lower --learning-rate (or try --optimizer lbfgs)",
        last_good,
    )
