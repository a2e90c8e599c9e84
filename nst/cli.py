"""The command line of neural_art.py: options, their defaults and their checks.

Every bad value is reported by `parse_args` as one sentence naming the option,
with exit status 2, before any work starts.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from nst.errors import InputError
from nst.files import WriteError
from nst.images import open_image
from nst.settings import (
    ASSIGNMENT_STYLE_LAYERS,
    EIGHT_STYLE_LAYERS,
    INITS,
    OPTIMIZERS,
    PRECISIONS,
    PRESETS,
    Settings,
)
from nst.weights import CONV_NAMES, KERAS_FILENAME, WEIGHTS_FILENAME, WEIGHTS_URL
from nst.weights_sources import ENV_VAR

MAX_ITERATIONS = 1_000_000
"""Most optimizer steps a run may have (--iterations, --save-every, --coarse-iterations):
at a second per step, eleven days; a bigger number is a typing mistake."""
MAX_THREADS = 1024
"""Most threads an op may use (--threads); TensorFlow stores the number as a 32-bit int."""

STYLE_LAYER_PRESETS: dict[str, list[tuple[str, float]]] = {
    "assignment": ASSIGNMENT_STYLE_LAYERS,
    "eight": EIGHT_STYLE_LAYERS,
}


@dataclass(frozen=True)
class Command:
    """What the command line asks for: a run's settings and what to do with them."""

    settings: Settings
    argv: list[str]
    check_weights: bool = False
    download_weights: bool = False
    weights_url: str = WEIGHTS_URL
    resume: Path | None = None
    resume_iterations: int | None = None  # --iterations given with --resume
    show_preset: bool = False
    run_notebook: Path | None = None
    executed: Path | None = None


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


def _whole_number(text: str, low: int, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if high is None and value < low:
        raise ValueError(f"must be at least {low}, not {value}")
    if high is not None and not low <= value <= high:
        raise ValueError(f"must be between {low} and {high}, not {value}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    return _whole_number(text, 1)


def _count(text: str) -> int:
    return _whole_number(text, 0, 8)


def _at_most(high: int, what: str):
    """A parser of whole numbers from 1 to `high`; `what` names the bound in its message."""

    def parse(text: str) -> int:
        value = positive_int(text)
        if value > high:
            raise ValueError(f"{value} is more than the {high:,} {what}")
        return value

    return parse


_iteration_count = _at_most(MAX_ITERATIONS, "iterations a run may have")


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
    return _whole_number(text, 0, 2**32 - 1)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except for flags and options that default to nothing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
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


def _init(text: str) -> str | Path:
    if text in INITS:
        return text
    path = Path(text)
    if not path.is_file():
        raise ValueError(f"{text!r} is none of {', '.join(INITS)}, nor an image file")
    return path


def _blend_weights(text: str) -> tuple[float, ...]:
    weights = tuple(_weight(item.strip(), item.strip()) for item in text.split(","))
    if not any(w > 0 for w in weights):
        raise ValueError("at least one style image needs a positive weight")
    return weights


class _Adder:
    """Adds options to a parser; with `given_only`, an option left out stays out of the result,
    so that a preset's value can take its place."""

    def __init__(self, parser: argparse.ArgumentParser, given_only: bool):
        self.parser = parser
        self.given_only = given_only

    def __call__(self, *names: str, **kwargs) -> None:
        if self.given_only and names[0].startswith("-"):
            kwargs["default"] = argparse.SUPPRESS
        self.parser.add_argument(*names, **kwargs)


USAGE = """
  neural_art.py CONTENT STYLE [STYLE ...] [options]    paint CONTENT in the style of STYLE
  neural_art.py --resume RUN_DIR [--iterations N]      continue a stopped run
  neural_art.py --run-notebook PATH [--executed OUT]   run a TF 1.x notebook unchanged
  neural_art.py --check-weights | --download-weights   the VGG-19 weights file"""


def build_parser(given_only: bool = False) -> argparse.ArgumentParser:
    """The argument parser, with every option's default (the assignment preset's) in its help."""
    d = Settings()
    parser = _Parser(
        prog="neural_art.py",
        usage=USAGE,
        allow_abbrev=False,  # --iteration is a typo, not --iterations
        description="Paint CONTENT in the style of STYLE with neural style transfer "
        "(Gatys et al. 2015). The defaults are the deeplearning.ai assignment's; --preset "
        "changes them (see --show-preset).",
        formatter_class=_HelpFormatter,
    )
    add = _Adder(parser, given_only)
    add("content", type=Path, nargs="?", metavar="CONTENT", help="content image (any format)")
    add(
        "styles",
        type=Path,
        nargs="*",
        metavar="STYLE",
        help="style image(s) (any common format); several are blended",
    )
    add(
        "--preset",
        choices=tuple(PRESETS),
        default="assignment",
        help="assignment: the TF 1.x assignment; eight: seed 004's eight style layers; "
        "tf2: the TF 2 edition (400x400, [0, 1] pixels clipped every step, conv5_4, "
        "max pooling, Adam 0.01, 1000 steps, an image every 100)",
    )
    add(
        "--show-preset",
        action="store_true",
        help="print every setting of the preset (with the other options applied), then exit",
    )
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
        default=d.output_dir,
        metavar="DIR",
        help="the run folder: <i>.png, generated_image.jpg, manifest.json, checkpoint.npz, "
        "costs.png, contact_sheet.png, progress.gif, side_by_side.png (created if missing); "
        "without it, each run gets a new folder in output/ named after its images "
        "(output/cat-stone, then output/cat-stone-2, ...)",
    )
    add(
        "--overwrite",
        action="store_true",
        help="replace an earlier run in the output folder: the files its manifest lists are "
        "removed first; files it did not write stay",
    )
    add(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its last checkpoint, with its settings "
        "(--iterations may raise the number of iterations)",
    )
    add(
        "--run-notebook",
        type=Path,
        metavar="PATH",
        help="run a TF 1.x notebook (.ipynb) or script (.py) unchanged in its own folder, "
        "as Jupyter would, with TF 1.x's API and random numbers, then compare each cell's "
        "output with the stored one (see the README)",
    )
    add(
        "--executed",
        type=Path,
        metavar="OUT",
        help="with --run-notebook: where the executed copy goes (default: "
        "<name>.executed.ipynb beside the notebook)",
    )
    add("--width", type=_checked(_size), default=d.width, help="image width in pixels")
    add("--height", type=_checked(_size), default=d.height, help="image height in pixels")
    add(
        "--size",
        type=_checked(_size),
        metavar="PIXELS",
        help="longest side of the output in pixels, the other side following the content's "
        "aspect ratio (replaces --width and --height)",
    )
    add(
        "--iterations",
        type=_checked(_iteration_count),
        default=d.iterations,
        metavar="N",
        help="optimizer steps (Adam updates, or L-BFGS steps of one line search each)",
    )
    add(
        "--save-every",
        type=_checked(_iteration_count),
        default=d.save_every,
        metavar="N",
        help="print the costs and save <i>.png when i %% N == 0",
    )
    add(
        "--optimizer",
        choices=OPTIMIZERS,
        default=d.optimizer,
        help="adam: the assignment's; lbfgs: L-BFGS with a Wolfe line search (Gatys et al.'s "
        "choice), usually lower costs in fewer steps",
    )
    add(
        "--learning-rate",
        type=_checked(_float_in(0, 1e6, low_open=True)),
        default=d.learning_rate,
        help="Adam's step size",
    )
    add(
        "--alpha",
        type=_checked(_float_in(0, 1e12)),
        default=d.alpha,
        help="weight of the content cost in J",
    )
    add(
        "--beta",
        type=_checked(_float_in(0, 1e12)),
        default=d.beta,
        help="weight of the style cost in J",
    )
    add(
        "--tv-weight",
        type=_checked(_float_in(0, 1e12)),
        default=d.tv_weight,
        help="weight of the total variation cost (sum of squared differences of neighbouring "
        "pixels) in J; a small value such as 1e-3 smooths out noise",
    )
    add(
        "--style-blend-weights",
        type=_checked(_blend_weights),
        metavar="W1,W2,...",
        help="share of each style image in the style cost, scaled to sum to 1 "
        "(default: equal shares)",
    )
    add(
        "--style-scale",
        type=_checked(_float_in(0, 8, low_open=True)),
        default=d.style_scale,
        help="size of the style image relative to the output; below 1 gives smaller "
        "brush strokes, above 1 larger ones",
    )
    add(
        "--init",
        type=_checked(_init),
        default=d.init,
        metavar="INIT",
        help="initial image: noise (noise ratio of uniform(-20, 20) noise blended with the "
        "content), content, style, random (uniform pixels), jitter (content plus "
        "uniform(-64, 64) noise, the TF 2 edition's), or an image file",
    )
    add(
        "--noise-ratio",
        type=_checked(_float_in(0, 1)),
        default=d.noise_ratio,
        help="share of noise in the initial image with --init noise (0 = the content image)",
    )
    add(
        "--seed",
        type=_checked(_seed),
        default=None,
        help="seed of the initial image's noise; the same seed and inputs give the same image "
        "(default: a new seed each run, recorded in manifest.json)",
    )
    add(
        "--content-layer",
        type=_checked(layer_name),
        default=d.content_layer,
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
        default=d.pooling,
        help="pooling between blocks (the assignment uses average pooling)",
    )
    add(
        "--pixels",
        choices=("caffe", "unit"),
        default=d.pixels,
        help="network input: caffe = 0..255 minus ImageNet's mean colour (the assignment's), "
        "unit = [0, 1] (the TF 2 edition's)",
    )
    add(
        "--clip",
        action=argparse.BooleanOptionalAction,
        default=d.clip,
        help="put the image back into the pixel range after every Adam step",
    )
    add(
        "--coarse-levels",
        type=_checked(_count),
        default=d.coarse_levels,
        metavar="L",
        help="coarse-to-fine: start with L smaller sizes, each half the next one's sides, "
        "and upsample the result to start the next; 0 = off",
    )
    add(
        "--coarse-iterations",
        type=_checked(_iteration_count),
        default=d.coarse_iterations,
        metavar="N",
        help="iterations at each coarse level, counted in --iterations",
    )
    add(
        "--threads",
        type=_checked(_at_most(MAX_THREADS, "threads an op may use")),
        metavar="N",
        help="threads each TensorFlow op may use (default: one per core)",
    )
    add(
        "--xla",
        action="store_true",
        help="compile the graph with XLA (slower on this project's CPU machine; see "
        "bench/README.md)",
    )
    add(
        "--precision",
        choices=PRECISIONS,
        default=d.precision,
        help="bfloat16: convolutions and matrix products in bfloat16 through oneDNN, on CPUs "
        "with AVX512_BF16 or AMX about twice as fast, with slightly different results "
        "(see bench/README.md)",
    )
    add(
        "--preserve-colors",
        action="store_true",
        help="keep the content's colours: the result's luminance with the content's chroma",
    )
    return parser


_COMMAND_ONLY = (
    "preset",
    "show_preset",
    "check_weights",
    "download_weights",
    "weights_url",
    "resume",
    "run_notebook",
    "executed",
)


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status. The options and the image files are checked
    before TensorFlow is loaded (which takes seconds), then nst.app carries the command out.
    Bad input and write failures end it with one line and status 2."""
    command = parse_args(argv)
    try:
        check_images(command)
        from nst.app import run_command  # TensorFlow and the rest, only now

        return run_command(command)
    except (InputError, WriteError) as e:
        print(f"neural_art.py: error: {e}", file=sys.stderr)
        return 2


def check_images(command: Command) -> None:
    """InputError for a content, style or --init image of a new run that is missing or is
    not an image file (read from its header only; decoding comes later)."""
    s = command.settings
    if command.resume or command.run_notebook or s.content is None:
        return
    for path in (s.content, *s.styles, *([s.init] if isinstance(s.init, Path) else [])):
        with open_image(path):
            pass


def parse_args(argv: list[str] | None = None) -> Command:
    """Parse and check the command line; exits with status 2 on a bad value."""
    parser = build_parser()
    ns = parser.parse_args(argv)  # every value checked, defaults filled in
    given = vars(build_parser(given_only=True).parse_args(argv))
    options = {k: v for k, v in given.items() if k not in _COMMAND_ONLY}
    options.update(content=ns.content, styles=tuple(ns.styles))
    if "output_dir" not in given and ns.content and ns.styles and not ns.resume:
        options["output_dir"] = new_run_folder(ns.output_dir, ns.content, ns.styles)
    settings = Settings.preset_settings(ns.preset, **options)
    command = Command(
        settings,
        argv=list(sys.argv[1:] if argv is None else argv),
        check_weights=ns.check_weights,
        download_weights=ns.download_weights,
        weights_url=ns.weights_url,
        resume=ns.resume,
        resume_iterations=given.get("iterations") if ns.resume else None,
        show_preset=ns.show_preset,
        run_notebook=ns.run_notebook,
        executed=ns.executed,
    )
    _check(parser, command, given)
    return command


def _check(parser: argparse.ArgumentParser, command: Command, given: dict) -> None:
    """The checks that concern several options at once."""
    s = command.settings
    if command.executed is not None and command.run_notebook is None:
        parser.error("--executed names the executed copy of --run-notebook PATH; give that too")
    if command.run_notebook is not None:
        extra = _given_besides(given, {"run_notebook", "executed", "overwrite"})
        if extra:
            parser.error(
                "--run-notebook runs the notebook with its own settings; only --executed and "
                f"--overwrite may be given with it, not {', '.join(extra)}"
            )
        return
    if command.resume is not None:
        extra = _given_besides(given, {"resume", "iterations", "weights", "weights_url"})
        if extra:
            parser.error(
                "--resume continues with the run's own settings; only --iterations (and "
                f"--weights) may be given with it, not {', '.join(extra)}"
            )
        return
    if command.check_weights or command.download_weights or command.show_preset:
        return
    if s.content is None or not s.styles:
        parser.error("give a CONTENT and a STYLE image")
    if s.size is not None and ({"width", "height"} & set(given)):
        parser.error("give --size, or --width and --height, not both")
    if s.alpha == 0 and s.beta == 0:
        parser.error("--alpha and --beta are both 0, so there is nothing to optimize")
    weights = s.style_blend_weights
    if weights is not None and len(weights) != len(s.styles):
        parser.error(
            f"--style-blend-weights gives {_plural(len(weights), 'weight')} for "
            f"{_plural(len(s.styles), 'style image')}"
        )
    if s.coarse_levels and s.coarse_levels * s.coarse_iterations >= s.iterations:
        parser.error(
            f"--coarse-levels {s.coarse_levels} x --coarse-iterations {s.coarse_iterations} "
            f"leaves none of the {s.iterations} --iterations for the full size"
        )
    if s.clip and s.optimizer == "lbfgs":
        parser.error("--clip works with --optimizer adam only; add --no-clip")


def new_run_folder(base: Path, content: Path, styles: list[Path]) -> Path:
    """Where a run goes without --output-dir: base/<content>-<style>, or with -2, -3, ...
    when that already holds something, so that each run keeps its own folder."""
    name = f"{content.stem}-{'+'.join(style.stem for style in styles)}"
    folder, n = base / name, 2
    while folder.exists() and not (folder.is_dir() and not any(folder.iterdir())):
        folder, n = base / f"{name}-{n}", n + 1
    return folder


def _plural(n: int, thing: str) -> str:
    """'1 weight', '2 weights'."""
    return f"{n} {thing}{'' if n == 1 else 's'}"


def _given_besides(given: dict, allowed: set[str]) -> list[str]:
    """The options and arguments given on the command line other than `allowed`."""
    return [
        name.upper() if name in ("content", "styles") else "--" + name.replace("_", "-")
        for name, value in given.items()
        if name not in allowed and value not in (None, [])
    ]


def check_output_dir(settings: Settings, planned: list[str]) -> None:
    """What prepare_output_dir would refuse, found without writing anything (so that it is
    said before the weights are loaded): a file where the folder should be, a folder that
    cannot be made or written (by the permissions of the nearest one that exists), or one
    holding files of `planned` (unless --overwrite)."""
    out = settings.output_dir
    if out.exists() and not out.is_dir():
        raise InputError(f"--output-dir {out} is a file, not a folder")
    nearest = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not nearest.is_dir():
        raise InputError(f"--output-dir {out} cannot be made: {nearest} is a file")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise InputError(f"--output-dir {out} cannot be written: {nearest} is not writable")
    existing = [name for name in planned if (out / name).exists()]
    if existing and not settings.overwrite:
        shown = ", ".join(existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise InputError(
            f"--output-dir {out} already holds {shown} from an earlier run; "
            "choose another --output-dir, or pass --overwrite to replace them"
        )


def prepare_output_dir(settings: Settings, planned: list[str]) -> None:
    """Create the output folder and make sure the run destroys nothing of an earlier one.

    `planned` are the file names this run will write. Raises InputError when the
    folder cannot be made or written, or already holds one of them (unless
    --overwrite).
    """
    check_output_dir(settings, planned)
    out = settings.output_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".neural_art_write_test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise InputError(f"--output-dir {out} cannot be written: {e.strerror}") from None
