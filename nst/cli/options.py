"""Every command-line option, defined once: its flag, how its text becomes a value, and its help.

An option named after a `Settings` field takes its default from that field
(the assignment preset's value; `--preset` changes it); any other option from
the `Command` field of its name (nst/cli/main.py). nst/cli/main.py builds the parser
from `OPTIONS`, so that the help, the parsing, the presets and --show-preset
all read the same definitions. The parse functions here only turn text into
values (numbers, paths, lists); Settings checks the values (nst/settings.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from nst.images import located
from nst.job import FLOW_METHODS, MAX_PASSES
from nst.networks import ALL_CONV_NAMES
from nst.setting_checks import whole
from nst.settings import (
    ASSIGNMENT_STYLE_LAYERS,
    DECREASING_STYLE_LAYERS,
    EIGHT_STYLE_LAYERS,
    INITS,
    MAX_ITERATIONS,
    POOLINGS,
    PRESETS,
    TOLERANCE_WINDOW,
)
from nst.weights.sources import ENV_VAR

STYLE_LAYER_PRESETS: dict[str, list[tuple[str, float]]] = {
    "assignment": ASSIGNMENT_STYLE_LAYERS,
    "eight": EIGHT_STYLE_LAYERS,
    "decreasing": DECREASING_STYLE_LAYERS,
}
KERAS_LAYER_NAMES = {f"block{name[4]}_conv{name[6:]}": name for name in ALL_CONV_NAMES}
"""Keras' names of the conv layers (block4_conv2), and the assignment's (conv4_2)."""


def layer_name(text: str) -> str:
    """A conv layer's name in the assignment's spelling: Keras' blockX_convY is convX_Y.
    (Whether the --network has the layer is checked by Settings.)"""
    return KERAS_LAYER_NAMES.get(text.strip(), text.strip())


def style_layers(text: str) -> list[tuple[str, float]]:
    """A preset name, or 'layer:weight,...' (without weights, the layers share 1 equally)."""
    if text in STYLE_LAYER_PRESETS:
        return list(STYLE_LAYER_PRESETS[text])
    items = [item.strip() for item in text.split(",") if item.strip()]
    layers = []
    for item in items:
        name, _, weight = item.partition(":")
        layers.append((layer_name(name), _weight(weight, item) if weight else None))
    unweighted = [name for name, w in layers if w is None]
    if unweighted and len(unweighted) < len(layers):
        raise ValueError("give a weight for every layer or for none")
    if unweighted:
        return [(name, 1.0 / len(layers)) for name in unweighted]
    return layers


def _weight(text: str, item: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"weight of {item!r} is not a number") from None


def whole_number(text: str) -> int:
    """A whole number ('12')."""
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def number(text: str) -> float:
    """A number ('0.5', '1e-3', 'nan')."""
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def bounded_whole_number(low: int, high: int) -> Callable[[str], int]:
    """A whole number from `low` to `high`, for the options of how a batch runs (which the
    settings of a run do not hold, so Settings does not check them)."""
    rule = whole(low, high)

    def parse(text: str) -> int:
        value = whole_number(text)
        if reason := rule(value):
            raise ValueError(reason)
        return value

    return parse


def frame_range(text: str) -> tuple[int | None, int | None]:
    """'A:B': frames A to B of a clip, numbered from 1, both painted; 'A:' to the last,
    ':B' from the first. (Whether the clip has them is checked when it is opened.)"""
    first, colon, last = text.partition(":")
    if not colon:
        raise ValueError(f"{text!r} is not A:B (frames A to B, numbered from 1)")
    bounds = tuple(whole_number(part) if part.strip() else None for part in (first, last))
    if any(b is not None and b < 1 for b in bounds):
        raise ValueError(f"{text!r}: frames are numbered from 1")
    if None not in bounds and bounds[0] > bounds[1]:
        raise ValueError(f"{text!r}: the first frame comes after the last")
    return bounds


def frame_rate(text: str) -> Fraction:
    """Frames per second: '24', '29.97' or '30000/1001', above 0."""
    try:
        rate = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{text!r} is not a number of frames per second") from None
    if rate <= 0:
        raise ValueError(f"{text!r}: a frame rate must be above 0")
    return rate


def flow_method(text: str) -> str:
    """One of FLOW_METHODS."""
    if text not in FLOW_METHODS:
        raise ValueError(f"{text!r} is not {' or '.join(FLOW_METHODS)}")
    return text


WEB_HOST = "127.0.0.1"
WEB_PORT = 8080
"""Where --web alone listens."""


def web_address(text: str) -> tuple[str, int]:
    """'[HOST:]PORT' (an IPv6 HOST in brackets, '[::1]:8080'): where the live view listens;
    PORT 0 is any free port. The host alone is checked when the server binds (nst/web)."""
    host, colon, port = text.strip().rpartition(":")
    if not colon:
        host = WEB_HOST
    elif not host:
        raise ValueError(f"{text!r}: give [HOST:]PORT")
    host = host.removeprefix("[").removesuffix("]")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"{text!r}: the port is not a whole number") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"{text!r}: a port is from 0 to 65535")
    return host, number


def weight(text: str) -> float:
    """A weight in J: a finite number, at least 0."""
    value = number(text)
    if not 0 <= value < float("inf"):
        raise ValueError(f"{text!r}: must be a finite number, at least 0")
    return value


def iteration_counts(text: str) -> tuple[int, ...]:
    """'n1,n2,...': whole numbers, the iterations at each size, smallest first."""
    return tuple(whole_number(item.strip()) for item in text.split(","))


def image_file(text: str) -> Path:
    """An image's path: a bare name missing here is looked for in images/ (nst.images.located)."""
    return located(Path(text))


def initial_image(text: str) -> str | Path:
    """One of INITS; else the path of the file `text` names, when there is one; else the
    text itself (which Settings then refuses)."""
    if text in INITS or not Path(text).is_file():
        return text
    return Path(text)


def blend_weights(text: str) -> tuple[float, ...]:
    """'w1,w2,...': one number per style image."""
    return tuple(_weight(item.strip(), item.strip()) for item in text.split(","))


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


@dataclass(frozen=True)
class Option:
    """One option. `flag` is "--name" (or a positional's name); `kind` is "value" (takes
    a value, read by `parse`, else kept as text), "flag" (on when given), "switch"
    (--name / --no-name) or "list" (a value each time it is given, kept in a list);
    `nargs` is for positionals, and "?" for an option whose value may be left out (it is
    `const` then); `shown_default` replaces the default in the help when the value itself
    would not read well."""

    flag: str
    help: str
    parse: Callable[[str], object] | None = None
    metavar: str | None = None
    kind: str = "value"
    nargs: str | None = None
    shown_default: str | None = None
    const: object = None

    @property
    def name(self) -> str:
        """The attribute the value goes to: --save-every is save_every."""
        return self.flag.lstrip("-").replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option(
        "content",
        "content image (here, else in images/)",
        image_file,
        metavar="CONTENT",
        nargs="?",
    ),
    Option("styles", "style image(s); several are blended", image_file, metavar="STYLE", nargs="*"),
    Option(
        "--preset",
        f"the defaults: {', '.join(PRESETS)} (see the README)",
        metavar="NAME",
    ),
    Option("--show-preset", "print the settings (options applied) as JSON; exit", kind="flag"),
    Option(
        "--network",
        "vgg19 (the assignment's) or vgg16 (no conv3_4, conv4_4, conv5_4)",
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
        "8 or 16 bits per sample of the PNG images",
        whole_number,
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
        "jobs or frames at once",
        bounded_whole_number(1, 10_000),
        metavar="N",
        shown_default="one per 4 cores",
    ),
    Option(
        "--ray-address",
        "the Ray cluster",
        metavar="ADDR",
        shown_default="this machine's",
    ),
    Option(
        "--retries",
        "reruns of a job/frame whose worker died",
        bounded_whole_number(0, 100),
        metavar="N",
    ),
    Option(
        "--frames",
        "a clip's frames A to B, from 1",
        frame_range,
        metavar="A:B",
        shown_default="all",
    ),
    Option(
        "--fps",
        "frame rate of a folder",
        frame_rate,
        metavar="F",
        shown_default="24",
    ),
    Option(
        "--temporal-weight",
        "weight of a clip's temporal cost in J; 0: each frame painted on its own",
        weight,
        metavar="W",
    ),
    Option(
        "--frame-iterations",
        "later frames' iterations",
        bounded_whole_number(1, MAX_ITERATIONS),
        metavar="N",
        shown_default="--iterations / 3",
    ),
    Option(
        "--passes",
        "a clip's passes (on Ray with --workers)",
        bounded_whole_number(1, MAX_PASSES),
        metavar="N",
    ),
    Option(
        "--flow",
        f"a clip's optical flow: {' or '.join(FLOW_METHODS)}",
        flow_method,
        metavar="M",
    ),
    Option(
        "--web",
        f"live view in a browser (alone: {WEB_HOST}:{WEB_PORT})",
        web_address,
        metavar="[HOST:]PORT",
        nargs="?",
        const=(WEB_HOST, WEB_PORT),
    ),
    Option(
        "--run-notebook",
        "run a TF 1.x notebook (.ipynb, .py) unchanged",
        Path,
        metavar="PATH",
    ),
    Option(
        "--executed",
        "--run-notebook's executed copy (default: <name>.executed.ipynb)",
        Path,
        metavar="OUT",
    ),
    Option("--width", "image width in pixels", whole_number, metavar="PX"),
    Option("--height", "image height in pixels", whole_number, metavar="PX"),
    Option(
        "--size",
        "longest side in pixels, the other following the content's aspect "
        "ratio (replaces --width and --height)",
        whole_number,
        metavar="PIXELS",
    ),
    Option(
        "--tile",
        "tiles of PX x PX pixels",
        whole_number,
        metavar="PX",
        shown_default="when needed",
    ),
    Option("--iterations", "optimizer steps", whole_number, metavar="N"),
    Option("--save-every", "print costs, save <i>.png if i %% N == 0", whole_number, metavar="N"),
    Option(
        "--optimizer",
        "adam (the assignment's) or lbfgs (SciPy's L-BFGS-B: lower costs in fewer steps)",
        metavar="OPT",
    ),
    Option("--learning-rate", "Adam's step size", number, metavar="RATE"),
    Option("--alpha", "weight of the content cost in J", number, metavar="A"),
    Option("--beta", "weight of the style cost in J", number, metavar="B"),
    Option(
        "--tv-weight",
        "weight of the total variation in J",
        number,
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
        "style size / output size, <1: finer",
        number,
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
        number,
        metavar="R",
    ),
    Option(
        "--seed",
        "noise seed (default: new, in manifest.json)",
        whole_number,
        metavar="N",
    ),
    Option("--content-layer", "layer the content cost compares", layer_name, metavar="NAME"),
    Option(
        "--style-loss",
        "gram (the assignment's) or wasserstein (the mean and covariance of each layer)",
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
    Option("--pooling", f"pooling between blocks: {' or '.join(POOLINGS)}", metavar="POOL"),
    Option(
        "--pixels",
        "network input: caffe = 0..255 minus the mean colour, unit = [0, 1]",
        metavar="PX",
    ),
    Option(
        "--clip",
        "keep the image in the pixel range",
        kind="switch",
        shown_default="off",
    ),
    Option(
        "--coarse-levels",
        "L smaller sizes first (coarse-to-fine)",
        whole_number,
        metavar="L",
    ),
    Option("--coarse-iterations", "iterations at each coarse level", whole_number, metavar="N"),
    Option(
        "--schedule",
        "steps per size, smallest first; replaces --iterations",
        iteration_counts,
        metavar="N1,N2,...",
    ),
    Option(
        "--level-ratio",
        "ratio of successive sizes' sides",
        number,
        metavar="R",
    ),
    Option(
        "--average",
        "show the iterates' moving average with this decay, e.g. 0.99; 0 = off",
        number,
        metavar="DECAY",
    ),
    Option(
        "--tolerance",
        f"end a size when J fell by less than this share in {TOLERANCE_WINDOW} iterations",
        number,
        metavar="REL",
    ),
    Option(
        "--threads",
        "threads per TensorFlow op",
        whole_number,
        metavar="N",
        shown_default="one per core",
    ),
    Option("--xla", "compile the graph with XLA (see bench/README.md)", kind="flag"),
    Option(
        "--precision",
        "float32, or bfloat16 (faster with AVX512_BF16 or AMX, other results)",
        metavar="P",
    ),
    Option("--preserve-colors", "keep the content's colours (the result's luminance)", kind="flag"),
    Option(
        "--color-transfer",
        "off, style (the style images take the content's colours) or content (the reverse)",
        metavar="WHO",
    ),
    Option(
        "--color-match",
        "covariance (the colours' mean and 3x3 covariance) or histogram",
        metavar="METHOD",
    ),
)
