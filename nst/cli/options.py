"""Every command-line option, defined once: its flag, the values it accepts, and its help.

An option named after a `Settings` field takes its default from that field
(the assignment preset's value; `--preset` changes it); any other option from
the `Command` field of its name (nst/cli/main.py). nst/cli/main.py builds the parser
from `OPTIONS`, so that the help, the parsing, the presets and --show-preset
all read the same definitions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nst.images import located
from nst.networks import ALL_CONV_NAMES, NETWORKS
from nst.settings import (
    ASSIGNMENT_STYLE_LAYERS,
    COLOR_MATCHES,
    COLOR_TRANSFERS,
    DECREASING_STYLE_LAYERS,
    EIGHT_STYLE_LAYERS,
    INITS,
    OPTIMIZERS,
    OUTPUT_DEPTHS,
    PRECISIONS,
    PRESETS,
    STYLE_LOSSES,
    TOLERANCE_WINDOW,
)
from nst.tiling import ALIGN, MIN_TILE
from nst.weights.sources import ENV_VAR

MAX_ITERATIONS = 1_000_000
"""Most optimizer steps a run may have (--iterations, --save-every, --coarse-iterations):
at a second per step, eleven days; a bigger number is a typing mistake."""
MAX_THREADS = 1024
"""Most threads an op may use (--threads); TensorFlow stores the number as a 32-bit int."""
MAX_PIXELS = 16384
"""Longest image side this program handles (--width, --height, --size), in pixels."""

STYLE_LAYER_PRESETS: dict[str, list[tuple[str, float]]] = {
    "assignment": ASSIGNMENT_STYLE_LAYERS,
    "eight": EIGHT_STYLE_LAYERS,
    "decreasing": DECREASING_STYLE_LAYERS,
}


def layer_name(name: str) -> str:
    """A VGG conv layer name in the assignment's spelling; Keras' blockX_convY is convX_Y.
    (Whether the --network has the layer is checked with the other options.)"""
    text = name.strip()
    if text.startswith("block") and "_conv" in text:
        block, conv = text[len("block") :].split("_conv", 1)
        text = f"conv{block}_{conv}"
    if text not in ALL_CONV_NAMES:
        raise ValueError(
            f"unknown layer {name!r}; VGG-19's conv layers are conv1_1, conv1_2, conv2_1, "
            "conv2_2, conv3_1 .. conv3_4, conv4_1 .. conv4_4, conv5_1 .. conv5_4 "
            "(Keras spelling block1_conv1 .. block5_conv4 also accepted; VGG-16 lacks "
            "conv3_4, conv4_4 and conv5_4)"
        )
    return text


def style_layers(text: str) -> list[tuple[str, float]]:
    """A preset name, or 'layer:weight,...' (without weights, the layers share 1 equally)."""
    if text in STYLE_LAYER_PRESETS:
        return list(STYLE_LAYER_PRESETS[text])
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError("no layers given")
    layers = []
    for item in items:
        name, _, weight = item.partition(":")
        layers.append((layer_name(name), _weight(weight, item) if weight else None))
    names = [name for name, _ in layers]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"layer {', '.join(duplicates)} is listed more than once")
    if any(w is None for _, w in layers):
        if not all(w is None for _, w in layers):
            raise ValueError("give a weight for every layer or for none")
        layers = [(name, 1.0 / len(layers)) for name in names]
    if not any(w > 0 for _, w in layers):
        raise ValueError("at least one layer needs a positive weight")
    return layers


def _weight(text: str, item: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"weight of {item!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"weight of {item!r} must be a finite number >= 0")
    return value


def whole_number(low: int, high: int, above: str = "") -> Callable[[str], int]:
    """A parser of whole numbers from `low` to `high`. `above` ends the message about a
    number above `high` ("N <above>"); without it, the message gives both bounds."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a whole number") from None
        if above and value > high:
            raise ValueError(f"{value} {above}")
        if above and value < low:
            raise ValueError(f"must be at least {low}, not {value}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, not {value}")
        return value

    return parse


def number(low: float, high: float, low_open: bool = False) -> Callable[[str], float]:
    """A parser of finite numbers in [low, high], or (low, high] when `low_open`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value > high:
            bound = ">" if low_open else ">="
            raise ValueError(f"must be a number {bound} {low:g} and <= {high:g}, not {text}")
        return value

    return parse


def iteration_counts(text: str) -> tuple[int, ...]:
    """'n1,n2,...': 1 to 9 counts (up to 8 coarse sizes and the output size), each a whole
    number >= 1, together at most MAX_ITERATIONS."""
    counts = tuple(iteration_count(item.strip()) for item in text.split(","))
    if len(counts) > 9:
        raise ValueError(f"{len(counts)} sizes are more than the 9 (8 coarse ones) allowed")
    if sum(counts) > MAX_ITERATIONS:
        raise ValueError(f"{sum(counts):,} iterations are more than the {MAX_ITERATIONS:,} allowed")
    return counts


def image_file(text: str) -> Path:
    """An image's path: a bare name missing here is looked for in images/ (nst.images.located)."""
    return located(Path(text))


def initial_image(text: str) -> str | Path:
    """One of INITS, or the path of an existing file."""
    if text in INITS:
        return text
    path = Path(text)
    if not path.is_file():
        raise ValueError(f"{text!r} is none of {', '.join(INITS)}, nor an image file")
    return path


def blend_weights(text: str) -> tuple[float, ...]:
    """'w1,w2,...': numbers >= 0, at least one of them positive."""
    weights = tuple(_weight(item.strip(), item.strip()) for item in text.split(","))
    if not any(w > 0 for w in weights):
        raise ValueError("at least one style image needs a positive weight")
    return weights


def sweep(text: str) -> tuple[str, tuple[str, ...]]:
    """'NAME=V1,V2,...' (the values separated by ';' instead when one holds a comma): the
    option NAME and its values. Which options a batch may sweep, and each value, are
    checked when the batch's jobs are made (nst/batch/jobs.py)."""
    name, equals, values = text.partition("=")
    if not equals or not name.strip():
        raise ValueError(f"{text!r} is not NAME=V1,V2,...")
    items = tuple(value.strip() for value in values.split(";" if ";" in values else ","))
    if not all(items):
        raise ValueError(f"{text!r} has an empty value")
    return name.strip(), items


def output_depth(text: str) -> int:
    """One of OUTPUT_DEPTHS (bits per sample), 8 or 16."""
    if text.strip() not in {str(depth) for depth in OUTPUT_DEPTHS}:
        raise ValueError(f"must be {' or '.join(map(str, OUTPUT_DEPTHS))}, not {text!r}")
    return int(text)


def tile_side(text: str) -> int:
    """--tile: whole pixels from MIN_TILE to MAX_PIXELS, a multiple of ALIGN."""
    value = whole_number(MIN_TILE, MAX_PIXELS)(text)
    if value % ALIGN:
        raise ValueError(f"must be a multiple of {ALIGN} (the network's 4 poolings), not {value}")
    return value


iteration_count = whole_number(
    1, MAX_ITERATIONS, f"is more than the {MAX_ITERATIONS:,} iterations a run may have"
)
pixel_count = whole_number(
    1, MAX_PIXELS, f"pixels is more than the {MAX_PIXELS} this program handles"
)
weight = number(0, 1e12)
thread_count = whole_number(
    1, MAX_THREADS, f"is more than the {MAX_THREADS:,} threads an op may use"
)


@dataclass(frozen=True)
class Option:
    """One option. `flag` is "--name" (or a positional's name); `kind` is "value" (takes
    a value, read by `parse` or one of `choices`), "flag" (on when given), "switch"
    (--name / --no-name) or "list" (a value each time it is given, kept in a list);
    `nargs` is for positionals; `shown_default` replaces the default in the help when
    the value itself would not read well."""

    flag: str
    help: str
    parse: Callable[[str], object] | None = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    kind: str = "value"
    nargs: str | None = None
    shown_default: str | None = None

    @property
    def name(self) -> str:
        """The attribute the value goes to: --save-every is save_every."""
        return self.flag.lstrip("-").replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option(
        "content",
        "content image (any format; a bare name is also looked for in images/)",
        image_file,
        metavar="CONTENT",
        nargs="?",
    ),
    Option("styles", "style image(s); several are blended", image_file, metavar="STYLE", nargs="*"),
    Option(
        "--preset",
        f"the defaults: {', '.join(PRESETS)} (see the README)",
        choices=tuple(PRESETS),
        metavar="NAME",
    ),
    Option("--show-preset", "print the settings (options applied) as JSON; exit", kind="flag"),
    Option(
        "--network",
        "vgg19 (the assignment's) or vgg16 (no conv3_4, conv4_4, conv5_4)",
        choices=tuple(NETWORKS),
        metavar="NET",
    ),
    Option(
        "--weights",
        f"the network's weights, MatConvNet's .mat or Keras' .h5 (default: the first found "
        f"of ${ENV_VAR}, pretrained-model/, the per-user cache, Keras' cache)",
        Path,
        metavar="PATH",
    ),
    Option("--check-weights", "report on the weights file: format, checksums, layers", kind="flag"),
    Option("--download-weights", "fetch the weights (to --weights PATH), then exit", kind="flag"),
    Option(
        "--weights-url",
        "a mirror to fetch the weights from (checksum-checked)",
        metavar="URL",
    ),
    Option(
        "--output-dir",
        "the run or batch folder",
        Path,
        metavar="DIR",
        shown_default="new, in output/",
    ),
    Option("--overwrite", "replace the earlier run's files in --output-dir", kind="flag"),
    Option(
        "--output-depth",
        "bits per sample of <i>.png and generated_image.png: 8 or 16 (beside the JPEG)",
        output_depth,
        metavar="BITS",
    ),
    Option(
        "--resume",
        "continue a stopped run (or batch) in RUN_DIR",
        Path,
        metavar="RUN_DIR",
    ),
    Option(
        "--batch",
        "run a job for each row of a CSV file (see README)",
        Path,
        metavar="JOBS.csv",
    ),
    Option(
        "--batch-content", "a batch of each content image in DIR (or one file)", Path, metavar="DIR"
    ),
    Option("--batch-style", "... with each style image in DIR (or one file)", Path, metavar="DIR"),
    Option(
        "--sweep",
        "each job once per value of option NAME (repeatable)",
        sweep,
        metavar="NAME=V1,V2",
        kind="list",
    ),
    Option(
        "--workers",
        "jobs of a batch at once",
        whole_number(1, 10_000),
        metavar="N",
        shown_default="one per 4 cores",
    ),
    Option(
        "--ray-address",
        "the Ray cluster of a batch",
        metavar="ADDR",
        shown_default="this machine's",
    ),
    Option("--retries", "runs more of a job whose worker died", whole_number(0, 100), metavar="N"),
    Option(
        "--run-notebook",
        "run a TF 1.x notebook (.ipynb, .py) unchanged",
        Path,
        metavar="PATH",
    ),
    Option(
        "--executed",
        "with --run-notebook: where the executed copy goes (default: "
        "<name>.executed.ipynb beside it)",
        Path,
        metavar="OUT",
    ),
    Option("--width", "image width in pixels", pixel_count, metavar="PX"),
    Option("--height", "image height in pixels", pixel_count, metavar="PX"),
    Option(
        "--size",
        "longest side in pixels, the other following the content's aspect "
        "ratio (replaces --width and --height)",
        pixel_count,
        metavar="PIXELS",
    ),
    Option(
        "--tile",
        "tiles of PX x PX pixels (memory follows PX, not the size)",
        tile_side,
        metavar="PX",
        shown_default="when needed",
    ),
    Option("--iterations", "optimizer steps", iteration_count, metavar="N"),
    Option(
        "--save-every", "print costs, save <i>.png if i %% N == 0", iteration_count, metavar="N"
    ),
    Option(
        "--optimizer",
        "adam (the assignment's) or lbfgs (SciPy's L-BFGS-B: lower costs in fewer steps)",
        choices=OPTIMIZERS,
        metavar="OPT",
    ),
    Option("--learning-rate", "Adam's step size", number(0, 1e6, low_open=True), metavar="RATE"),
    Option("--alpha", "weight of the content cost in J", weight, metavar="A"),
    Option("--beta", "weight of the style cost in J", weight, metavar="B"),
    Option(
        "--tv-weight",
        "weight of the total variation cost in J (e.g. 1e-3 smooths noise)",
        weight,
        metavar="W",
    ),
    Option(
        "--style-blend-weights",
        "each style image's share of the style cost (default: equal)",
        blend_weights,
        metavar="W1,W2,...",
    ),
    Option(
        "--style-scale",
        "style image size relative to the output (below 1: smaller strokes)",
        number(0, 8, low_open=True),
        metavar="S",
    ),
    Option(
        "--init",
        f"initial image: {', '.join(INITS)} (see the README), or an image file",
        initial_image,
        metavar="INIT",
    ),
    Option(
        "--noise-ratio",
        "noise share of --init noise's image",
        number(0, 1),
        metavar="R",
    ),
    Option(
        "--seed",
        "seed of the initial image's noise (default: a new one each run, "
        "recorded in manifest.json)",
        whole_number(0, 2**32 - 1),
        metavar="N",
    ),
    Option("--content-layer", "layer the content cost compares", layer_name, metavar="NAME"),
    Option(
        "--style-loss",
        "gram (the assignment's) or wasserstein (the mean and covariance of each layer)",
        choices=STYLE_LOSSES,
        metavar="LOSS",
    ),
    Option(
        "--style-layers",
        "assignment (five conv*_1 at 0.2), eight (eight at 0.125), decreasing (five at "
        "256:64:16:4:1), or a list such as conv1_1:0.5,conv3_1:0.5",
        style_layers,
        metavar="LIST",
        shown_default="assignment",
    ),
    Option("--pooling", "pooling between blocks", choices=("avg", "max")),
    Option(
        "--pixels",
        "network input: caffe = 0..255 minus the mean colour, unit = [0, 1]",
        choices=("caffe", "unit"),
        metavar="PX",
    ),
    Option(
        "--clip",
        "keep the image in the pixel range: clipped after each Adam step, or L-BFGS-B's bounds",
        kind="switch",
    ),
    Option(
        "--coarse-levels",
        "coarse-to-fine: first L smaller sizes (see --level-ratio); 0 = off",
        whole_number(0, 8),
        metavar="L",
    ),
    Option("--coarse-iterations", "iterations at each coarse level", iteration_count, metavar="N"),
    Option(
        "--schedule",
        "iterations at each size, smallest first (replaces --iterations)",
        iteration_counts,
        metavar="N1,N2,...",
    ),
    Option(
        "--level-ratio",
        "ratio of successive sizes' sides",
        number(1, 16, low_open=True),
        metavar="R",
    ),
    Option(
        "--average",
        "show the iterates' moving average with this decay, e.g. 0.99; 0 = off",
        number(0, 0.9999),
        metavar="DECAY",
    ),
    Option(
        "--tolerance",
        f"end a size when J fell by less than this share in {TOLERANCE_WINDOW} iterations",
        number(0, 1),
        metavar="REL",
    ),
    Option(
        "--threads",
        "threads per TensorFlow op",
        thread_count,
        metavar="N",
        shown_default="one per core",
    ),
    Option("--xla", "compile the graph with XLA (see bench/README.md)", kind="flag"),
    Option(
        "--precision",
        "bfloat16: about twice as fast on CPUs with AVX512_BF16 or AMX, slightly different results",
        choices=PRECISIONS,
        metavar="P",
    ),
    Option("--preserve-colors", "keep the content's colours (the result's luminance)", kind="flag"),
    Option(
        "--color-transfer",
        "off, style (the style images take the content's colours) or content (the reverse)",
        choices=COLOR_TRANSFERS,
        metavar="WHO",
    ),
    Option(
        "--color-match",
        "covariance (the colours' mean and 3x3 covariance) or histogram",
        choices=COLOR_MATCHES,
        metavar="METHOD",
    ),
)
