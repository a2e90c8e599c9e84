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

import atexit
import dataclasses
import math
import weakref
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from nst.assignment_images import generate_noise_image
from nst.averaging import IterateAverage, mean_of
from nst.checkpoint import Checkpoint
from nst.colors import match_colors, preserve_colors, with_content_chroma
from nst.errors import InputError
from nst.images import Inputs, resize
from nst.level_costs import KeptStyleTargets, level_costs, objective_of
from nst.levels import output_size, schedule
from nst.networks import NETWORKS
from nst.optimize import cost_names
from nst.optimizers import Adam, Iterate, LbfgsB, Optimizer
from nst.pixels import PIXEL_SPACES, PixelSpace
from nst.settings import TOLERANCE_WINDOW, Settings
from nst.tile_grid import tiling_of
from nst.video.temporal_targets import TemporalTargets
from nst.weights.guard import read_weights
from nst.weights.sources import find_weights

NOISE_AMPLITUDE = 20.0  # the assignment's uniform(-20, 20), in 0..255 pixel units
JITTER_AMPLITUDE = 63.75  # the TF 2 edition's uniform(-0.25, 0.25) of [0, 1] pixels
API_NAMING = "give stylize settings with weights=PATH"
"""How a caller of the Python API names the weights file, in the error when none is found."""


@dataclass(frozen=True)
class Step:
    """Iterate i for the caller.

    image: the picture (uint8 RGB, (H, W, 3)), with the content's colours
    when content_colors is given (preserve_colors); costs: {"total", "content",
    "style"[, "total variation"][, "temporal"]} of this image when evaluated (every save_every
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
    temporal: TemporalTargets | None = None,
    kept: KeptStyleTargets | None = None,
) -> Generator[Step, None, None]:
    """Yield Step i for i in 0 .. settings.iterations - 1 (from resume.i + 1 when resuming).

    `kernels` are the weights of settings.network if already read
    (nst.weights.guard.read_weights), else they are read from settings.weights or the
    first file found; `inputs` are
    the images if already read, else they are read from settings' paths. With
    coarse levels (see `schedule`) the first steps' images are smaller. `temporal`: a
    clip's frame's targets (nst.optimize.TemporalTargets), at the output size, for settings
    without coarse levels; `kept`: style targets kept from an earlier run with the same style
    images and size (nst.level_costs.KeptStyleTargets: a clip's frames), and kept for the
    next. A resume Checkpoint with i = -1 gives the initial image. Raises
    InputError for unreadable images or weights, and NonFiniteCostError when a
    cost becomes infinite or NaN. Closing the generator stops the run; a generator
    still open when the program ends is closed then (_close_open_runs).
    """
    if temporal is not None and settings.coarse_levels:
        raise ValueError("stylize: a clip's temporal targets are of the output size only")
    steps = _stylize(settings, resume, kernels, inputs, temporal, kept)
    _open_runs.add(steps)
    return steps


_open_runs: weakref.WeakSet = weakref.WeakSet()
"""The generators stylize made that are still referenced (a closed one is left alone)."""


@atexit.register
def _close_open_runs() -> None:
    """Close the runs a program left open (it kept the generator and stopped taking steps),
    while the interpreter still works: later, at its finalization, TensorFlow's session and
    L-BFGS-B's thread can no longer end, and the program would never exit."""
    for steps in list(_open_runs):
        steps.close()


def _stylize(
    settings: Settings,
    resume: Checkpoint | None,
    kernels: dict | None,
    inputs: Inputs | None,
    temporal: TemporalTargets | None,
    kept: KeptStyleTargets | None,
) -> Iterator[Step]:
    """stylize's steps."""
    s = settings
    network = NETWORKS[s.network]
    inputs = recolored(s, inputs or Inputs.read(s.content, s.styles, s.init_file))
    size = output_size(s, inputs.content.shape)
    if not kernels:
        kernels = read_weights(
            s.weights or find_weights(network=network, naming=API_NAMING), network
        )
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
        level = _level_steps(s, kernels, inputs, (width, height), start, steps, temporal, kept)
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
    temporal: TemporalTargets | None = None,
    kept: KeptStyleTargets | None = None,
) -> Iterator[Step]:
    """The Steps in `steps` at one size (width, height), starting from `start`: its image (the
    initial image when None), Adam's state and the iterates' average; `temporal` and `kept`:
    see stylize. The same for the whole image and for tiles (when settings.tile is smaller than
    the size): only the level's costs (nst.level_costs) differ, which settings.optimizer's
    optimizer (optimizer_of) runs on."""
    s = settings
    space = PIXEL_SPACES[s.pixels]
    tiling = tiling_of(s.tile, size)
    content_rgb = resize(inputs.content, *size)
    image = start.image
    if image is None:
        image = initial_image(s, space, space.to_network(content_rgb), inputs)
        if tiling is not None:  # a tiled run keeps its images in float32 (half the bytes)
            image = image.astype(np.float32)
    bounds = space.bounds() if s.clip else None
    names = cost_names(objective_of(s), temporal)
    with level_costs(s, kernels, inputs, content_rgb, tiling, temporal, kept) as costs:
        iterates = optimizer_of(s).steps(costs, image, steps, s.save_every, start.state, bounds)
        del image  # the optimizer keeps it only as long as it needs it
        last = steps.stop - 1
        yield from _shown(
            s, iterates, space, content_rgb, start, names, lambda x: costs.costs(x, last)
        )


def optimizer_of(settings: Settings) -> Optimizer:
    """settings.optimizer's optimizer: Adam with the settings' parameters, or L-BFGS-B whose
    pixel unit is one level of 0..255 in settings.pixels' units."""
    s = settings
    if s.optimizer == "adam":
        return Adam(s.learning_rate, s.adam_beta2, s.adam_epsilon)
    return LbfgsB(PIXEL_SPACES[s.pixels].scale)


def _shown(
    settings: Settings,
    iterates: Iterator[Iterate],
    space: PixelSpace,
    content_rgb: np.ndarray,
    start: Checkpoint,
    names: tuple[str, ...],
    costs_of,
) -> Iterator[Step]:
    """The Steps the caller sees of `iterates` (their costs named `names`): their moving
    average when settings.average (its costs from `costs_of(image)`), with the content's
    colours when preserve_colors."""
    s = settings
    average = None
    if s.average:
        average = IterateAverage(s.average, start.average)
        iterates = _averaged(iterates, average, costs_of)
    content_colors = content_rgb if s.preserve_colors else None
    return _checked_steps(iterates, space, names, content_colors, average)


def _averaged(iterates: Iterator[Iterate], average: IterateAverage, costs_of) -> Iterator[Iterate]:
    """The iterates, each taken into `average`; the costs given are those of the average
    (`costs_of(image)`, evaluated when the iterate's would be), the picture the caller shows."""
    for it in iterates:
        average.add(it.image)
        if it.costs is not None:
            it = dataclasses.replace(it, costs=costs_of(average.value()))
        yield it


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
    names: tuple[str, ...],
    content_rgb: np.ndarray | None,
    average: IterateAverage | None = None,
) -> Iterator[Step]:
    """Steps from iterates (their costs named `names`, nst.optimize.cost_names), stopping
    with NonFiniteCostError at the first infinite or NaN cost.
    With `average` (kept up to date by _averaged), a Step's picture is the average."""
    previous: Step | None = None
    good: Step | None = None  # the latest step known to have finite costs
    for it in iterates:
        if not math.isfinite(it.J_before):  # the cost of the image this step started from
            raise _non_finite(it.i - 1, good)
        good = previous or good
        if not (np.isfinite(it.image).all() and all(map(math.isfinite, it.costs or ()))):
            raise _non_finite(it.i, good)
        costs = dict(zip(names, map(float, it.costs), strict=True)) if it.costs else None
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
