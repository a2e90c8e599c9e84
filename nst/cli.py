"""The command line of neural_art.py: options, their defaults and their checks.

Every bad value is reported by `parse_args` as one sentence naming the option,
with exit status 2, before any work starts.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from nst.errors import InputError
from nst.weights import CONV_NAMES, KERAS_FILENAME, WEIGHTS_FILENAME, WEIGHTS_URL
from nst.weights_sources import ENV_VAR
from nst_utils import CONFIG

STYLE_LAYER_PRESETS: dict[str, list[tuple[str, float]]] = {
    "assignment": list(CONFIG.STYLE_LAYERS),
    "eight": [
        (name, 0.125)
        for name in (
            "conv1_1",
            "conv2_1",
            "conv3_1",
            "conv3_4",
            "conv4_1",
            "conv5_1",
            "conv5_2",
            "conv5_4",
        )
    ],
}


@dataclass(frozen=True)
class Settings:
    """Everything one run of neural_art.py needs to know."""

    content: Path | None
    style: Path | None
    weights: Path | None
    check_weights: bool
    download_weights: bool
    weights_url: str
    output_dir: Path
    overwrite: bool
    width: int
    height: int
    iterations: int
    save_every: int
    learning_rate: float
    alpha: float
    beta: float
    noise_ratio: float
    seed: int | None
    content_layer: str
    style_layers: list[tuple[str, float]]
    pooling: str


def layer_name(name: str) -> str:
    """VGG-19 conv layer name in the assignment's spelling; Keras' blockX_convY is convX_Y."""
    text = name.strip()
    if text.startswith("block") and "_conv" in text:
        block, conv = text[len("block") :].split("_conv", 1)
        text = f"conv{block}_{conv}"
    if text not in CONV_NAMES:
        raise ValueError(
            f"unknown layer {name!r}; VGG-19's conv layers are conv1_1, conv1_2, conv2_1, "
            "conv2_2, conv3_1 .. conv3_4, conv4_1 .. conv4_4, conv5_1 .. conv5_4 "
            "(Keras spelling block1_conv1 .. block5_conv4 also accepted)"
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


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"must be at least 1, not {value}")
    return value


def _size(text: str) -> int:
    value = positive_int(text)
    if value > 16384:
        raise ValueError(f"{value} pixels is more than the 16384 this program handles")
    return value


def _float_in(low: float, high: float, low_open: bool = False):
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


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**32:
        raise ValueError(f"must be between 0 and {2**32 - 1}, not {value}")
    return value


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except for flags and options that default to nothing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _checked(parse):
    """An argparse type from a parser raising ValueError with a readable message."""

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = parse.__name__
    return convert


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with every option's default in its help."""
    c = CONFIG
    parser = _Parser(
        prog="neural_art.py",
        description="Paint CONTENT in the style of STYLE with neural style transfer "
        "(Gatys et al. 2015; the deeplearning.ai assignment's algorithm and defaults).",
        formatter_class=_HelpFormatter,
    )
    add = parser.add_argument
    add("content", type=Path, nargs="?", metavar="CONTENT", help="content image (any format)")
    add("style", type=Path, nargs="?", metavar="STYLE", help="style image (any common format)")
    add(
        "--weights",
        type=Path,
        metavar="PATH",
        help=f"VGG-19 weights: MatConvNet's {WEIGHTS_FILENAME} or Keras' {KERAS_FILENAME} "
        f"(default: the first found of ${ENV_VAR}, pretrained-model/{WEIGHTS_FILENAME}, "
        "the per-user cache, Keras' cache; see the README)",
    )
    add(
        "--check-weights",
        action="store_true",
        help="report the weights file's format, checksums and structure, then exit",
    )
    add(
        "--download-weights",
        action="store_true",
        help="fetch the weights into the per-user cache (or to --weights PATH), then exit; "
        "the main job does this by itself when it finds no weights",
    )
    add(
        "--weights-url",
        default=WEIGHTS_URL,
        metavar="URL",
        help="where to fetch the weights from, e.g. a mirror; whatever the source, the file "
        "is kept only when its checksum is a published one",
    )
    add(
        "--output-dir",
        type=Path,
        default=Path(c.OUTPUT_DIR),
        metavar="DIR",
        help="folder for <i>.png and generated_image.jpg (created if missing)",
    )
    add(
        "--overwrite",
        action="store_true",
        help="replace images an earlier run left in the output folder",
    )
    add("--width", type=_checked(_size), default=c.IMAGE_WIDTH, help="image width in pixels")
    add("--height", type=_checked(_size), default=c.IMAGE_HEIGHT, help="image height in pixels")
    add(
        "--iterations",
        type=_checked(positive_int),
        default=c.NUM_ITERATIONS,
        metavar="N",
        help="Adam steps",
    )
    add(
        "--save-every",
        type=_checked(positive_int),
        default=c.SAVE_EVERY,
        metavar="N",
        help="print the costs and save <i>.png when i %% N == 0",
    )
    add(
        "--learning-rate",
        type=_checked(_float_in(0, 1e6, low_open=True)),
        default=c.LEARNING_RATE,
        help="Adam's step size",
    )
    add(
        "--alpha",
        type=_checked(_float_in(0, 1e12)),
        default=c.ALPHA,
        help="weight of the content cost in J",
    )
    add(
        "--beta",
        type=_checked(_float_in(0, 1e12)),
        default=c.BETA,
        help="weight of the style cost in J",
    )
    add(
        "--noise-ratio",
        type=_checked(_float_in(0, 1)),
        default=c.NOISE_RATIO,
        help="share of uniform noise in the initial image (0 = the content image)",
    )
    add(
        "--seed",
        type=_checked(_seed),
        default=None,
        help="seed of the initial noise; the same seed and inputs give the same image "
        "(default: a new random image each run)",
    )
    add(
        "--content-layer",
        type=_checked(layer_name),
        default=c.CONTENT_LAYER,
        metavar="LAYER",
        help="layer whose activations the content cost compares",
    )
    add(
        "--style-layers",
        type=_checked(style_layers),
        default="assignment",
        metavar="LAYERS",
        help="'assignment' (conv1_1, conv2_1, conv3_1, conv4_1, conv5_1 at 0.2 each), "
        "'eight' (conv1_1, conv2_1, conv3_1, conv3_4, conv4_1, conv5_1, conv5_2, conv5_4 "
        "at 0.125 each), or a list like conv1_1:0.5,conv3_1:0.5",
    )
    add(
        "--pooling",
        choices=("avg", "max"),
        default=c.POOLING,
        help="pooling between blocks (the assignment uses average pooling)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> Settings:
    """Parse and check the command line; exits with status 2 on a bad value."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    if not (ns.check_weights or ns.download_weights) and (ns.content is None or ns.style is None):
        parser.error("give a CONTENT and a STYLE image")
    if ns.alpha == 0 and ns.beta == 0:
        parser.error("--alpha and --beta are both 0, so there is nothing to optimize")
    return Settings(
        content=ns.content,
        style=ns.style,
        weights=ns.weights,
        check_weights=ns.check_weights,
        download_weights=ns.download_weights,
        weights_url=ns.weights_url,
        output_dir=ns.output_dir,
        overwrite=ns.overwrite,
        width=ns.width,
        height=ns.height,
        iterations=ns.iterations,
        save_every=ns.save_every,
        learning_rate=ns.learning_rate,
        alpha=ns.alpha,
        beta=ns.beta,
        noise_ratio=ns.noise_ratio,
        seed=ns.seed,
        content_layer=ns.content_layer,
        style_layers=ns.style_layers,
        pooling=ns.pooling,
    )


def prepare_output_dir(settings: Settings, planned: list[str]) -> None:
    """Create the output folder and make sure the run destroys nothing of an earlier one.

    `planned` are the file names this run will write. Raises InputError when the
    folder cannot be made or written, or already holds one of them (unless
    --overwrite).
    """
    out = settings.output_dir
    if out.exists() and not out.is_dir():
        raise InputError(f"--output-dir {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".neural_art_write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise InputError(f"--output-dir {out} cannot be written: {e.strerror}") from None
    existing = [name for name in planned if (out / name).exists()]
    if existing and not settings.overwrite:
        shown = ", ".join(existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise InputError(
            f"--output-dir {out} already holds {shown} from an earlier run; "
            "choose another --output-dir, or pass --overwrite to replace them"
        )
