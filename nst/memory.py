"""How much memory a run needs, estimated from the image size before it starts.

A run keeps every activation from conv1_1 to the deepest layer the costs use
for the backward pass, plus the gradients and TensorFlow's working buffers.
The estimate is

    peak = BASE_BYTES + PER_VALUE_BYTES * values

where `values` is the number of float32 values in the activations of the conv
layers (of the run's network) up to the deepest one used, for the larger of the output and the style
image. The two constants were fitted to the peak resident memory that
`bench/memory.py` measured with TensorFlow 2.21 on a CPU (see bench/README.md);
the estimate is meant to err on the high side.
"""

from __future__ import annotations

import os
from pathlib import Path

from nst.errors import InputError
from nst.layer_shapes import conv_shapes, deepest_layer
from nst.networks import NETWORKS, VGG19, Network
from nst.settings import Settings

GIB = 2**30
BASE_BYTES = int(0.8 * GIB)
"""TensorFlow, the program and the kernels, before any image-sized buffer."""
PER_VALUE_BYTES = 22.5
"""Peak bytes per float32 value of the forward pass's activations (4 bytes for the value, the
rest for gradients, optimizer state, cost evaluation and TensorFlow's buffers)."""


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


def check_memory(settings: Settings, size: tuple[int, int], available: int | None) -> None:
    """Raise InputError when the run's estimated peak exceeds `available` bytes, naming a
    --size that fits (nothing is checked when `available` is None)."""
    needed = estimate_peak_bytes(settings, size)
    if available is None or needed <= available:
        return
    width, height = size
    longest = max(width, height)
    fits = _largest_fitting_side(settings, size, available)
    advice = f"--size {fits} or less fits" if fits else "even a small image does not fit"
    raise InputError(
        f"a {width}x{height} run needs about {needed / GIB:.1f} GiB of memory, and "
        f"{available / GIB:.1f} GiB is available; {advice} (longest side now {longest})"
    )


def _largest_fitting_side(settings: Settings, size: tuple[int, int], available: int) -> int:
    """The largest longest side, keeping size's aspect ratio, whose estimate fits (0 if none)."""
    width, height = size
    longest = max(width, height)

    def fits(side: int) -> bool:
        scaled = max(1, round(width * side / longest)), max(1, round(height * side / longest))
        return estimate_peak_bytes(settings, scaled) <= available

    low, high = 0, longest  # fits(low) or low == 0; not fits(high)
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low
