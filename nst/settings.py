"""The settings of a run, the values each may take, and the presets that reproduce the
seeds' setups.

`Settings()` is the TF 1.x assignment's setup; `Settings.preset_settings(name, ...)`
starts from a named preset and overrides the fields given. Settings checks every field
when it is made (FIELD_RULES, then the combinations of fields) and refuses a bad value
with a SettingError, so that nothing after it checks a value again.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from nst.assignment_config import CONFIG
from nst.networks import NETWORKS, VGG19
from nst.setting_checks import (
    Rule,
    SettingError,
    flag,
    is_whole,
    layer,
    number,
    one_of,
    optional,
    path,
    paths,
    shares,
    weighted_layers,
    whole,
)
from nst.tile_grid import ALIGN, MIN_TILE

PRECISIONS = ("float32", "bfloat16")
"""--precision's choices: what convolutions and matrix products compute in."""

ASSIGNMENT_STYLE_LAYERS = list(CONFIG.STYLE_LAYERS)
EIGHT_STYLE_LAYERS = [
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
]
OPTIMIZERS = ("adam", "lbfgs")
STYLE_LOSSES = ("gram", "wasserstein")
"""--style-loss's choices: the assignment's Gram-matrix cost, or the Wasserstein-2 distance
of the activations' means and covariances (nst.costs)."""
DECREASING_STYLE_LAYERS = [
    (name, weight / 341)
    for name, weight in zip(
        ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"), (256, 64, 16, 4, 1), strict=True
    )
]
"""The five conv*_1 layers weighted 256:64:16:4:1, summing to 1 (crowsonkb's weights for
the Wasserstein-2 cost, whose deeper layers have larger values)."""
TOLERANCE_WINDOW = 10
"""Iterations over which --tolerance compares the total cost J."""
OUTPUT_DEPTHS = (8, 16)
"""--output-depth's choices: bits per sample of the result PNGs."""
INITS = ("noise", "content", "style", "random", "jitter")
COLOR_TRANSFERS = ("off", "style", "content")
"""--color-transfer's choices: whose colours are changed before the transfer (nst.colors)."""
COLOR_MATCHES = ("covariance", "histogram")
"""--color-match's choices: how colours are matched (nst.colors.COLOR_MATCHERS)."""
PIXELS = ("caffe", "unit")
"""--pixels' choices: the network's input scale (nst.pixels.PIXEL_SPACES)."""
POOLINGS = ("avg", "max")
"""--pooling's choices: the pooling between the network's blocks."""

MAX_ITERATIONS = 1_000_000
"""Most optimizer steps a run may have (iterations, save_every, coarse_iterations, the
schedule's sum): at a second per step, eleven days; a bigger number is a typing mistake."""
MAX_THREADS = 1024
"""Most threads an op may use (threads); TensorFlow stores the number as a 32-bit int."""
MAX_SIDE = 16384
"""Longest image side this program handles (width, height, size, tile), in pixels."""
MAX_COARSE_LEVELS = 8
"""Most sizes a run may paint before the output size (coarse_levels; the schedule's
length less one)."""
MAX_WEIGHT = 1e12
"""Largest weight of a cost in J (alpha, beta, tv_weight) or of a style layer or image."""


@dataclass(frozen=True)
class Settings:
    """Everything one run needs: images, network, costs, optimizer, output.

    Sizes are in pixels; `size`, when set, is the output's longest side (the
    other side follows the content's aspect ratio) and replaces width and height.
    Making one (or a copy with `replace`) checks every field: SettingError names the
    first bad value.
    """

    content: Path | None = None
    styles: tuple[Path, ...] = ()
    style_blend_weights: tuple[float, ...] | None = None  # None: equal shares
    style_scale: float = 1.0
    weights: Path | None = None
    network: str = VGG19.name  # a key of nst.networks.NETWORKS
    width: int = CONFIG.IMAGE_WIDTH
    height: int = CONFIG.IMAGE_HEIGHT
    size: int | None = None
    pixels: str = "caffe"
    pooling: str = CONFIG.POOLING
    content_layer: str = CONFIG.CONTENT_LAYER
    style_layers: list[tuple[str, float]] = field(default_factory=lambda: ASSIGNMENT_STYLE_LAYERS)
    style_loss: str = "gram"  # one of STYLE_LOSSES
    alpha: float = CONFIG.ALPHA
    beta: float = CONFIG.BETA
    tv_weight: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = CONFIG.LEARNING_RATE
    adam_epsilon: float = 1e-8
    adam_beta2: float = 0.999  # decay of Adam's second moment
    adam_warm_start: bool = False  # a new size keeps Adam's moments, resized to it
    average: float = 0.0  # decay of the iterates' moving average (0: the image is the iterate)
    clip: bool = False
    init: str | Path = "noise"
    noise_ratio: float = CONFIG.NOISE_RATIO
    seed: int | None = None
    iterations: int = CONFIG.NUM_ITERATIONS
    coarse_levels: int = 0
    coarse_iterations: int = 50
    # iterations per level, smallest first; when set, iterations and coarse_levels follow from it
    schedule: tuple[int, ...] | None = None
    level_ratio: float = 2.0  # each level's sides are this many times the one before
    min_size: int = 0  # levels with a shorter longest side run at the first one that is not
    tolerance: float = 0.0  # a level ends when J fell by less than this share in TOLERANCE_WINDOW
    save_every: int = CONFIG.SAVE_EVERY
    preserve_colors: bool = False
    color_transfer: str = "off"  # one of COLOR_TRANSFERS
    color_match: str = "covariance"  # one of COLOR_MATCHES
    # tiles' side in pixels (nst.tiled_costs): larger levels are painted tile by tile; None: whole
    tile: int | None = None
    threads: int | None = None
    xla: bool = False
    precision: str = "float32"
    output_dir: Path = Path(CONFIG.OUTPUT_DIR)
    overwrite: bool = False
    output_depth: int = 8  # bits per sample of the saved iterates and generated_image.png
    preset: str = "assignment"

    def __post_init__(self):
        """Take the forms a Python user writes (API_FORMS), check every field (SettingError
        names the first bad one), then fill in what the schedule implies, then check the
        combinations of fields."""
        for name, form in API_FORMS.items():
            object.__setattr__(self, name, form(getattr(self, name)))
        for name, rule in FIELD_RULES.items():
            if reason := rule(getattr(self, name)):
                raise SettingError(name, reason)
        if self.schedule is not None:  # it names every size's iterations
            object.__setattr__(self, "iterations", sum(self.schedule))
            object.__setattr__(self, "coarse_levels", len(self.schedule) - 1)
        _check_combinations(self)

    @classmethod
    def preset_settings(cls, name: str, **overrides) -> Settings:
        """The preset `name` with the fields in `overrides` replaced; SettingError for an
        unknown preset."""
        if reason := FIELD_RULES["preset"](name):
            raise SettingError("preset", reason)
        return cls(**{**PRESETS[name], **overrides, "preset": name})

    def replace(self, **changes) -> Settings:
        """A copy with the given fields changed."""
        return dataclasses.replace(self, **changes)

    def with_absolute_paths(self) -> Settings:
        """A copy whose file and folder paths do not depend on the working folder."""
        return self.replace(
            content=self.content and self.content.absolute(),
            styles=tuple(p.absolute() for p in self.styles),
            weights=self.weights and self.weights.absolute(),
            init=self.init.absolute() if isinstance(self.init, Path) else self.init,
            output_dir=self.output_dir.absolute(),
        )

    @property
    def init_file(self) -> Path | None:
        """The --init image file, when init is one (else None)."""
        return self.init if isinstance(self.init, Path) else None

    def blend_weights(self) -> list[float]:
        """Each style image's share of J_style: the given weights scaled to sum to 1."""
        weights = self.style_blend_weights or [1.0] * len(self.styles)
        total = sum(weights)
        return [w / total for w in weights]


CROWSONKB_COSTS = {
    "style_loss": "wasserstein",
    "style_layers": DECREASING_STYLE_LAYERS,
    "alpha": 0.06,
    "beta": 1.0,
    "pooling": "max",
    "init": "content",
    "clip": True,
}
"""What the crowsonkb and quality presets share: the costs, layers and pooling of
crowsonkb/style-transfer-pytorch, its start from the content, the image kept in 0..255."""

PRESETS: dict[str, dict] = {
    # The TF 1.x assignment: every default of Settings. Its layers are VGG-16's too, so
    # --network vgg16 runs the same setup on VGG-16.
    "assignment": {},
    # Seed 004: the assignment with eight style layers at 0.125 each. It needs VGG-19:
    # conv3_4 and conv5_4 are not in VGG-16.
    "eight": {"network": VGG19.name, "style_layers": EIGHT_STYLE_LAYERS},
    # The TF 2 edition (seed 001): Keras' VGG19 (max pooling) fed [0, 1] pixels, 400x400,
    # content layer block5_conv4, five blockN_conv1 style layers at 0.2,
    # content plus uniform(-0.25, 0.25) noise, Keras' Adam(0.01) (epsilon 1e-7),
    # the image clipped to [0, 1] after every step, 10 epochs of 100 steps. It needs
    # VGG-19: conv5_4 is not in VGG-16.
    "tf2": {
        "network": VGG19.name,
        "width": 400,
        "height": 400,
        "pixels": "unit",
        "pooling": "max",
        "content_layer": "conv5_4",
        "learning_rate": 0.01,
        "adam_epsilon": 1e-7,
        "clip": True,
        "init": "jitter",
        "iterations": 1000,
        "save_every": 100,
    },
    # Our implementation of crowsonkb/style-transfer-pytorch's defaults (its README and
    # style_transfer.py): 512 px reached from 128 px in steps of sqrt(2), 1000 Adam steps at
    # the first size and 500 at each later one, Adam(0.02 of [0, 1] pixels = 5.1 levels,
    # betas 0.9 and 0.99) kept across sizes, the pixels clipped after each step, the
    # iterates averaged (decay 0.99), from the content; the Wasserstein-2 style cost on
    # relu1_1 .. relu5_1 weighted 256:64:16:4:1, the content's mean squared difference at
    # relu4_2 weighted 0.015 (J_content is that mean / 4: alpha 0.06), max pooling.
    # Not taken: its 9-point total variation cost (weight 2 on [0, 1] pixels), and its
    # network, torchvision's VGG-19 (this preset runs on --network's).
    "crowsonkb": {
        **CROWSONKB_COSTS,
        "size": 512,
        "learning_rate": 5.1,
        "adam_beta2": 0.99,
        "adam_warm_start": True,
        "average": 0.99,
        "schedule": (1000, 500, 500, 500, 500),
        "level_ratio": 2**0.5,
        "save_every": 100,
    },
    # The best picture per second measured (bench/compare.py, bench/README.md): crowsonkb's
    # costs and layers, with SciPy's L-BFGS-B (within the pixel range) instead of averaged
    # Adam steps, at 1024 px reached from 128 px in three doublings (at other sizes, the
    # sizes below 128 px give their iterations to the first size above).
    "quality": {
        **CROWSONKB_COSTS,
        "size": 1024,
        "optimizer": "lbfgs",
        "schedule": (100, 60, 40, 20),
        "min_size": 128,
        "save_every": 20,
    },
}


def _tile(value: object) -> str | None:
    """A tile side: whole pixels from MIN_TILE to MAX_SIDE, a multiple of ALIGN."""
    if reason := whole(MIN_TILE, MAX_SIDE)(value):
        return reason
    if value % ALIGN:
        return f"must be a multiple of {ALIGN} (the network's 4 poolings), not {value}"
    return None


def _schedule(value: object) -> str | None:
    """Iterations at each size: 1 to MAX_COARSE_LEVELS + 1 whole numbers, each at least 1,
    together at most MAX_ITERATIONS."""
    if not isinstance(value, tuple) or not all(is_whole(n) for n in value):
        return f"must be a tuple of whole numbers, not {value!r}"
    if not value:
        return "names no size's iterations"
    if len(value) > MAX_COARSE_LEVELS + 1:
        return (
            f"{len(value)} sizes are more than the {MAX_COARSE_LEVELS + 1} "
            f"({MAX_COARSE_LEVELS} coarse ones) allowed"
        )
    if min(value) < 1:
        return f"each size needs at least 1 iteration, not {min(value)}"
    if sum(value) > MAX_ITERATIONS:
        return f"{sum(value):,} iterations are more than the {MAX_ITERATIONS:,} allowed"
    return None


def _init(value: object) -> str | None:
    """One of INITS, or the pathlib.Path of an image file."""
    if isinstance(value, Path) or (isinstance(value, str) and value in INITS):
        return None
    return f"must be one of {', '.join(INITS)}, or an image file's path, not {value!r}"


ITERATIONS = whole(
    1, MAX_ITERATIONS, f"is more than the {MAX_ITERATIONS:,} iterations a run may have"
)
SIDE = whole(1, MAX_SIDE, f"pixels is more than the {MAX_SIDE} this program handles")
WEIGHT = number(0, MAX_WEIGHT)


def _as_path(value: object) -> object:
    """A str or os.PathLike as a pathlib.Path; anything else as it is (for its rule to refuse)."""
    return Path(value) if isinstance(value, str | os.PathLike) else value


def _as_paths(value: object) -> object:
    """A list or tuple of paths (_as_path) as a tuple; anything else as it is."""
    return tuple(map(_as_path, value)) if isinstance(value, list | tuple) else value


def _as_tuple(value: object) -> object:
    """A list as a tuple; anything else as it is."""
    return tuple(value) if isinstance(value, list) else value


API_FORMS = {
    "content": _as_path,
    "styles": _as_paths,
    "weights": _as_path,
    "output_dir": _as_path,
    "style_blend_weights": _as_tuple,
    "schedule": _as_tuple,
}
"""What Settings makes of the forms of a value a Python user may write: a path as a str, a
list for a tuple. (`init` stays as given: a str there is one of INITS.)"""


FIELD_RULES: dict[str, Rule] = {
    "content": optional(path),
    "styles": paths,
    "style_blend_weights": optional(shares(WEIGHT)),
    "style_scale": number(0, 8, low_open=True),
    "weights": optional(path),
    "network": one_of(NETWORKS),
    "width": SIDE,
    "height": SIDE,
    "size": optional(SIDE),
    "pixels": one_of(PIXELS),
    "pooling": one_of(POOLINGS),
    "content_layer": layer,
    "style_layers": weighted_layers(WEIGHT),
    "style_loss": one_of(STYLE_LOSSES),
    "alpha": WEIGHT,
    "beta": WEIGHT,
    "tv_weight": WEIGHT,
    "optimizer": one_of(OPTIMIZERS),
    "learning_rate": number(0, 1e6, low_open=True),
    "adam_epsilon": number(0, 1, low_open=True),
    "adam_beta2": number(0, 1, high_open=True),
    "adam_warm_start": flag,
    "average": number(0, 0.9999),
    "clip": flag,
    "init": _init,
    "noise_ratio": number(0, 1),
    "seed": optional(whole(0, 2**32 - 1)),
    "iterations": ITERATIONS,
    "coarse_levels": whole(0, MAX_COARSE_LEVELS),
    "coarse_iterations": ITERATIONS,
    "schedule": optional(_schedule),
    "level_ratio": number(1, 16, low_open=True),
    "min_size": whole(0, MAX_SIDE),
    "tolerance": number(0, 1),
    "save_every": ITERATIONS,
    "preserve_colors": flag,
    "color_transfer": one_of(COLOR_TRANSFERS),
    "color_match": one_of(COLOR_MATCHES),
    "tile": optional(_tile),
    "threads": optional(
        whole(1, MAX_THREADS, f"is more than the {MAX_THREADS:,} threads an op may use")
    ),
    "xla": flag,
    "precision": one_of(PRECISIONS),
    "output_dir": path,
    "overwrite": flag,
    "output_depth": one_of(OUTPUT_DEPTHS),
    "preset": one_of(PRESETS),
}
"""The rule (nst.setting_checks) each field of Settings follows, in the fields' order."""


def _check_combinations(s: Settings) -> None:
    """Refuse values that are good alone but not together (SettingError names the field
    and the others its reason concerns)."""
    if s.alpha == 0 and s.beta == 0:
        raise SettingError(
            "alpha", "alpha and beta are both 0, so there is nothing to optimize", ("beta",)
        )
    if s.style_blend_weights is not None and s.styles:
        given, needed = len(s.style_blend_weights), len(s.styles)
        if given != needed:
            raise SettingError(
                "style_blend_weights",
                f"must hold one weight per style image, not {given} for {needed}",
                ("styles",),
            )
    if s.schedule is None and s.coarse_levels * s.coarse_iterations >= s.iterations:
        raise SettingError(
            "coarse_levels",
            f"coarse levels x coarse iterations, {s.coarse_levels} x {s.coarse_iterations}, "
            f"leave none of the {s.iterations} iterations for the full size",
            ("coarse_iterations", "iterations"),
        )
    for name, what, layers in (
        ("content_layer", "content layer", [s.content_layer]),
        ("style_layers", "style layers", [n for n, _ in s.style_layers]),
    ):
        if reason := _lacking(s, name, what, layers):
            raise SettingError(name, reason, ("network", "preset"))


def _lacking(s: Settings, name: str, what: str, layers: list[str]) -> str | None:
    """Why the layers `layers` of field `name` (`what` in words) do not fit s.network, naming
    the preset when they are its own; None when the network has them all."""
    network = NETWORKS[s.network]
    lacking = ", ".join(network.lacking(layers))
    if not lacking:
        return None
    having = [net.name for net in NETWORKS.values() if not net.lacking(layers)]
    instead = f"network {having[0]}" if having else "other layers"
    chosen = f"{network.title} (network {network.name})"
    if PRESETS[s.preset].get(name) == getattr(s, name):
        return (
            f"preset {s.preset} uses the {what} {lacking}, which {chosen} lacks: "
            f"use {instead}, or other {what}"
        )
    return f"{chosen} has no layer {lacking}; choose another, or use {instead}"


def crowsonkb_levels(size: int, smallest: int = 128) -> int:
    """How many sizes crowsonkb's schedule has for longest side `size`: size / sqrt(2)^k,
    rounded, for k = 0, 1, ... while at least `smallest` pixels (1 when size < smallest)."""
    k = 1
    while round(size / 2 ** (k / 2)) >= smallest:
        k += 1
    return k


def settings_to_dict(settings: Settings) -> dict:
    """The settings as JSON-ready values (paths as text, layers as [name, weight] lists)."""
    values = dataclasses.asdict(settings)
    for name, value in values.items():
        if isinstance(value, Path):
            values[name] = str(value)
        elif isinstance(value, tuple | list):
            values[name] = [str(v) if isinstance(v, Path) else v for v in value]
    values["style_layers"] = [[name, weight] for name, weight in settings.style_layers]
    return values


def settings_from_dict(values: dict) -> Settings:
    """The inverse of settings_to_dict; raises ValueError for unknown fields, SettingError
    (a ValueError) for a bad value."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"unknown settings {', '.join(unknown)}")
    v = dict(values)
    for name in ("content", "weights", "output_dir"):
        if v.get(name) is not None:
            v[name] = Path(v[name])
    v["styles"] = tuple(Path(p) for p in v.get("styles", ()))
    for name in ("style_blend_weights", "schedule"):
        if v.get(name) is not None:
            v[name] = tuple(v[name])
    v["style_layers"] = [(name, float(weight)) for name, weight in v.get("style_layers", [])]
    if v.get("init") not in INITS and v.get("init") is not None:
        v["init"] = Path(v["init"])
    return Settings(**v)
