"""How much memory a run needs, estimated from the image size before it starts.

A run keeps every activation from conv1_1 to the deepest layer the costs use
for the backward pass, plus the gradients and TensorFlow's working buffers.
The estimate is

    peak = BASE_BYTES + PER_VALUE_BYTES * values
           + (PIXEL_BYTES[optimizer] - PIXEL_BYTES["adam"]) * pixels

where `values` is the number of float32 values in the activations of the conv
layers (of the run's network) up to the deepest one used, for the larger of the
output and the style image; the last term is what L-BFGS-B keeps beyond the
image Adam keeps in the graph (0 for Adam). A run in tiles (nst.tiled_costs) keeps
only one tile's window in the network, and the whole image's arrays beside it:

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
from nst.tile_grid import ALIGN, MIN_TILE, tiling_of

GIB = 2**30
BASE_BYTES = int(0.8 * GIB)
"""TensorFlow, the program and the kernels, before any image-sized buffer."""
PER_VALUE_BYTES = 22.5
"""Peak bytes per float32 value of the forward pass's activations (4 bytes for the value, the
rest for gradients, optimizer state, cost evaluation and TensorFlow's buffers)."""


TILE_VALUE_BYTES = 10.0
"""Peak bytes per float32 value of one tile window's activations (forward and backward)."""
PIXEL_BYTES = {"adam": 90, "lbfgs": 1250}
"""Peak bytes per output pixel of the whole image's arrays in a tiled run, besides the
content target: the image, its gradient, the pictures shown, and Adam's two moments (about
80 measured) or L-BFGS-B's (about 1,160 measured with bounds: SciPy's float64 workspace of
25 values per value, its ten pairs of history among them, and the bounds, which SciPy holds
as a Python list of pairs)."""


HEADROOM = 0.8
"""The share of the available memory the automatic choice of tiles fills: the rest is for
what the estimate, fitted to runs at one size with the assignment's costs, does not see.
A quality-preset run in tiles of 512 pixels (coarse-to-fine, max pooling, Wasserstein
costs) peaked at 3.2 GiB at 1024 px against an estimate of 2.7 GiB (bench/README.md)."""


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
    optimizer = (PIXEL_BYTES[s.optimizer] - PIXEL_BYTES["adam"]) * width * height
    return BASE_BYTES + int(PER_VALUE_BYTES * values) + optimizer


def available_bytes(
    proc: Path = Path("/proc"), cgroups: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """Memory the system can give a new process now: Linux's MemAvailable, or less when a
    memory limit of the process's control group (a container's, cgroup v1 or v2, or of a
    group above it) leaves less: the limit minus the group's usage, its inactive file cache
    not counted (the kernel reclaims it first). Else the physical memory, else None when
    unknown. `proc` and `cgroups` are where /proc and the cgroup mounts are."""
    system = None
    meminfo = proc / "meminfo"
    if meminfo.exists():
        system = next(
            (int(line.split()[1]) * 1024 for line in meminfo.read_text().splitlines()
             if line.startswith("MemAvailable:")),
            None,
        )  # fmt: skip
    if system is None:
        try:
            system = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            return None
    return min([system, *_cgroup_headroom(proc / "self" / "cgroup", cgroups)])


CGROUP_FILES = {  # version: (subfolder of the mounts, limit, usage, inactive cache in memory.stat)
    1: ("memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
    2: ("", "memory.max", "memory.current", "inactive_file"),
}
NO_LIMIT = 2**62
"""Limits at or above this many bytes mean none (cgroup v1 writes 2^63 - 4096 for none)."""


def _cgroup_headroom(membership: Path, cgroups: Path) -> list[int]:
    """The bytes left under each memory limit of the groups (and their ancestors) that the
    cgroup membership file `membership` (/proc/self/cgroup) names, under the `cgroups`
    mount point; empty when there is no such file or no limit."""
    if not membership.exists():
        return []
    headroom = []
    for line in membership.read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        version = 2 if number == "0" and not controllers else 1
        if version == 1 and "memory" not in controllers.split(","):
            continue
        subfolder, limit_name, usage_name, inactive_name = CGROUP_FILES[version]
        root = cgroups / subfolder
        folder = root / path.lstrip("/")
        for group in [folder, *folder.parents]:
            limit = _read_number(group / limit_name)
            usage = _read_number(group / usage_name)
            if limit is not None and limit < NO_LIMIT and usage is not None:
                inactive = _stat_value(group / "memory.stat", inactive_name)
                headroom.append(max(limit - usage + inactive, 0))
            if group == root:
                break
    return headroom


def _read_number(path: Path) -> int | None:
    """The whole number a cgroup file holds; None when it is missing or says "max"."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _stat_value(path: Path, name: str) -> int:
    """Field `name` of a cgroup memory.stat file, 0 when it is missing."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.split()[:1] == [name]), 0)


def fit_memory(settings: Settings, size: tuple[int, int], available: int | None) -> Settings:
    """The settings a run of `size` (width, height) fits `available` bytes with: `settings`
    when its estimated peak fits (or `available` is None); else, when no --tile was given,
    with the largest tile (a multiple of ALIGN, at least MIN_TILE) whose estimate fits
    HEADROOM times `available`. Raises InputError when none does, naming a --size (or a
    --tile) that fits so, and Adam when it would fit where L-BFGS-B does not."""
    if available is None or estimate_peak_bytes(settings, size) <= available:
        return settings
    room = int(HEADROOM * available)
    if settings.tile is None:
        tiles = range(MIN_TILE, max(size) + 1, ALIGN)
        fitting = [t for t in tiles if _fits(settings.replace(tile=t), size, room)]
        if fitting:
            return settings.replace(tile=max(fitting))
    width, height = size
    needed = estimate_peak_bytes(settings, size)
    fits = _largest_fitting_side(settings.replace(tile=settings.tile or MIN_TILE), size, room)
    advice = f"--size {fits} or less fits" if fits else "even a small image does not fit"
    if settings.tile is not None and _fits(settings.replace(tile=MIN_TILE), size, room):
        advice = f"a smaller --tile fits (now {settings.tile})"
    advice += f" (longest side now {max(size)})"
    if settings.optimizer == "lbfgs" and _fits(
        settings.replace(optimizer="adam", tile=MIN_TILE), size, room
    ):
        advice += "; --optimizer adam fits at this size (its state takes less than L-BFGS-B's)"
    raise InputError(
        f"a {width}x{height} run needs about {needed / GIB:.1f} GiB of memory, and "
        f"{available / GIB:.1f} GiB is available; {advice}"
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
