"""How much memory a run needs, estimated from the image size before it starts.

A run keeps every activation from conv1_1 to the deepest layer the costs use
for the backward pass, plus the gradients and TensorFlow's working buffers.
The estimate is

    peak = BASE_BYTES + PER_VALUE_BYTES * values

where `values` is the number of float32 values in the activations of the conv
layers (of the run's network) up to the deepest one used, for the larger of the output and the style
image. A run in tiles (nst.tiles) keeps only one tile's window in the network,
and the whole image's arrays beside it:

    peak = BASE_BYTES + TILE_VALUE_BYTES * window values + PIXEL_BYTES[optimizer] * pixels
           + 2 * the content target's values (float16)

The constants were fitted to the peak resident memory that `bench/memory.py`
measured with TensorFlow 2.21 on a CPU (see bench/README.md); the estimate is
meant to err on the high side.
"""

from __future__ import annotations

import os
from pathlib import Path

from nst.errors import InputError
from nst.layer_shapes import conv_shapes, deepest_layer
from nst.networks import NETWORKS, VGG19, Network
from nst.settings import Settings
from nst.tiling import ALIGN, MIN_TILE, tiling_of

GIB = 2**30
BASE_BYTES = int(0.8 * GIB)
"""TensorFlow, the program and the kernels, before any image-sized buffer."""
PER_VALUE_BYTES = 22.5
"""Peak bytes per float32 value of the forward pass's activations (4 bytes for the value, the
rest for gradients, optimizer state, cost evaluation and TensorFlow's buffers)."""


TILE_VALUE_BYTES = 9.0
"""Peak bytes per float32 value of one tile window's activations (forward and backward)."""
PIXEL_BYTES = {"adam": 170, "lbfgs": 700}
"""Peak bytes per output pixel of the whole image's arrays in a tiled run: the image, the
gradient, the pictures shown, and Adam's two moments (166 measured) or L-BFGS-B's float64
vectors (its ten pairs of history among them; not measured: 480 for the history alone)."""


def activation_values(width: int, height: int, deepest: str, network: Network = VGG19) -> int:
    """Values in the outputs of `network`'s conv layers conv1_1 .. deepest for width x height
    pixels."""
    shapes = conv_shapes(width, height, deepest, network)
    return sum(s.height * s.width * s.channels_out for s in shapes)


def estimate_peak_bytes(settings: Settings, size: tuple[int, int]) -> int:
    """The estimated peak memory of a run of `settings` at `size` (width, height), in bytes."""
    s = settings
    network = NETWORKS[s.network]
    deepest = deepest_layer([s.content_layer, *(name for name, _ in s.style_layers)], network)
    width, height = size
    tiling = tiling_of(s.tile, size)
    if tiling is not None:
        window = activation_values(tiling.window, tiling.window, deepest, network)
        content = conv_shapes(width, height, s.content_layer, network)[-1]
        target = content.height * content.width * content.channels_out
        whole = PIXEL_BYTES[s.optimizer] * width * height + 2 * target
        return BASE_BYTES + int(TILE_VALUE_BYTES * window) + whole
    style = max(1, round(width * s.style_scale)), max(1, round(height * s.style_scale))
    values = max(
        activation_values(*size, deepest, network), activation_values(*style, deepest, network)
    )
    return BASE_BYTES + int(PER_VALUE_BYTES * values)


def available_bytes() -> int | None:
    """Memory the system can give a new process now (Linux MemAvailable), else its physical
    memory, else None when unknown."""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def fit_memory(settings: Settings, size: tuple[int, int], available: int | None) -> Settings:
    """The settings a run of `size` (width, height) fits `available` bytes with: `settings`
    when its estimated peak fits (or `available` is None); else, when no --tile was given,
    with the largest tile (a multiple of ALIGN, at least MIN_TILE) whose estimate fits.
    Raises InputError when none does, naming a --size (or a --tile) that fits."""
    if available is None or estimate_peak_bytes(settings, size) <= available:
        return settings
    if settings.tile is None:
        tiles = range(MIN_TILE, max(size) + 1, ALIGN)
        fitting = [t for t in tiles if _fits(settings.replace(tile=t), size, available)]
        if fitting:
            return settings.replace(tile=max(fitting))
    width, height = size
    needed = estimate_peak_bytes(settings, size)
    fits = _largest_fitting_side(settings.replace(tile=settings.tile or MIN_TILE), size, available)
    advice = f"--size {fits} or less fits" if fits else "even a small image does not fit"
    if settings.tile is not None and _fits(settings.replace(tile=MIN_TILE), size, available):
        advice = f"a smaller --tile fits (now {settings.tile})"
    raise InputError(
        f"a {width}x{height} run needs about {needed / GIB:.1f} GiB of memory, and "
        f"{available / GIB:.1f} GiB is available; {advice} (longest side now {max(size)})"
    )


def _fits(settings: Settings, size: tuple[int, int], available: int) -> bool:
    return estimate_peak_bytes(settings, size) <= available


def _largest_fitting_side(settings: Settings, size: tuple[int, int], available: int) -> int:
    """The largest longest side, keeping size's aspect ratio, whose estimate fits (0 if none)."""
    width, height = size
    longest = max(width, height)

    def fits(side: int) -> bool:
        scaled = max(1, round(width * side / longest)), max(1, round(height * side / longest))
        return _fits(settings, scaled, available)

    low, high = 0, longest  # fits(low) or low == 0; not fits(high)
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low
