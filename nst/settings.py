"""The settings of a run and the presets that reproduce the seeds' setups.

`Settings()` is the TF 1.x assignment's setup; `Settings.preset_settings(name, ...)`
starts from a named preset and overrides the fields given.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from nst.config import CONFIG
from nst.networks import VGG19

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
TOLERANCE_WINDOW = 10
"""Iterations over which --tolerance compares the total cost J."""
OUTPUT_DEPTHS = (8, 16)
"""--output-depth's choices: bits per sample of the result PNGs."""
INITS = ("noise", "content", "style", "random", "jitter")
COLOR_TRANSFERS = ("off", "style", "content")
"""--color-transfer's choices: whose colours are changed before the transfer (nst.colors)."""
COLOR_MATCHES = ("covariance", "histogram")
"""--color-match's choices: how colours are matched (nst.colors.COLOR_MATCHERS)."""


@dataclass(frozen=True)
class Settings:
    """Everything one run needs: images, network, costs, optimizer, output.

    Sizes are in pixels; `size`, when set, is the output's longest side (the
    other side follows the content's aspect ratio) and replaces width and height.
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
    alpha: float = CONFIG.ALPHA
    beta: float = CONFIG.BETA
    tv_weight: float = 0.0
    optimizer: str = "adam"
    learning_rate: float = CONFIG.LEARNING_RATE
    adam_epsilon: float = 1e-8
    clip: bool = False
    init: str | Path = "noise"
    noise_ratio: float = CONFIG.NOISE_RATIO
    seed: int | None = None
    iterations: int = CONFIG.NUM_ITERATIONS
    coarse_levels: int = 0
    coarse_iterations: int = 50
    schedule: tuple[int, ...] | None = None  # iterations per level, smallest first
    tolerance: float = 0.0  # a level ends when J fell by less than this share in TOLERANCE_WINDOW
    save_every: int = CONFIG.SAVE_EVERY
    preserve_colors: bool = False
    color_transfer: str = "off"  # one of COLOR_TRANSFERS
    color_match: str = "covariance"  # one of COLOR_MATCHES
    threads: int | None = None
    xla: bool = False
    precision: str = "float32"
    output_dir: Path = Path(CONFIG.OUTPUT_DIR)
    overwrite: bool = False
    output_depth: int = 8  # bits per sample of the saved iterates and generated_image.png
    preset: str = "assignment"

    @classmethod
    def preset_settings(cls, name: str, **overrides) -> Settings:
        """The preset `name` with the fields in `overrides` replaced."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; the presets are {', '.join(PRESETS)}")
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
}


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
    """The inverse of settings_to_dict; raises ValueError for unknown or missing fields."""
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
