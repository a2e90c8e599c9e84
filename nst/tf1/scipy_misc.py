"""SciPy's removed image functions (scipy.misc, SciPy 1.1), for TF 1.x notebooks.

The course's notebook and its nst_utils.py call `scipy.misc.imread` and
`imsave`; other notebooks of that time `imresize` and `toimage`. SciPy removed
them (1.2 and 1.3). These functions do what SciPy 1.1's did, with Pillow
(images are opened through nst.images.open_image, so a missing, damaged or huge
file is an ImageError naming it). nst.tf1.environment puts them into
`scipy.misc` for the length of a notebook run.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from nst.images import open_image, resize

RESAMPLING = {
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "cubic": Image.Resampling.BICUBIC,
}


def imread(name: str | os.PathLike, flatten: bool = False, mode: str | None = None) -> np.ndarray:
    """The image file's pixels as an array, in the file's own mode (see fromimage)."""
    with open_image(name) as image:
        return fromimage(image, flatten=flatten, mode=mode)


def fromimage(image: Image.Image, flatten: bool = False, mode: str | None = None) -> np.ndarray:
    """A Pillow image as an array: converted to `mode` if given; a palette image becomes RGB
    (RGBA when it has a transparent colour); `flatten` gives float32 grey levels (mode F);
    a 1-bit image becomes 8-bit grey."""
    if mode is not None and mode != image.mode:
        image = image.convert(mode)
    elif mode is None and image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if flatten:
        image = image.convert("F")
    elif image.mode == "1":
        image = image.convert("L")
    return np.array(image)


def bytescale(
    data: np.ndarray,
    cmin: float | None = None,
    cmax: float | None = None,
    high: int = 255,
    low: int = 0,
) -> np.ndarray:
    """uint8 `data` unchanged; any other data mapped linearly from [cmin, cmax] (default: its
    minimum and maximum) to [low, high], clipped, and rounded half up."""
    data = np.asarray(data)
    if data.dtype == np.uint8:
        return data
    cmin = data.min() if cmin is None else cmin
    cmax = data.max() if cmax is None else cmax
    scale = float(high - low) / ((cmax - cmin) or 1)
    scaled = (data - cmin) * scale + low
    return (scaled.clip(low, high) + 0.5).astype(np.uint8)


def toimage(
    arr: np.ndarray,
    high: int = 255,
    low: int = 0,
    cmin: float | None = None,
    cmax: float | None = None,
    mode: str | None = None,
    channel_axis: int | None = None,
) -> Image.Image:
    """A Pillow image of a 2-D (grey) or 3-D (RGB or RGBA) array, its values bytescaled
    (uint8 arrays are taken as they are; mode 'F' keeps 2-D values as float32)."""
    data = np.asarray(arr)
    if np.iscomplexobj(data):
        raise ValueError("cannot convert a complex array to an image")
    if data.ndim == 2:
        if mode == "F":
            return Image.fromarray(data.astype(np.float32), "F")
        return Image.fromarray(bytescale(data, cmin, cmax, high, low), "L")
    if data.ndim != 3:
        raise ValueError("an image array must be 2-D, or 3-D with 3 or 4 channels")
    if channel_axis is None:  # the first axis of 3, else the first of 4
        sizes = [n for n in (3, 4) if n in data.shape]
        if not sizes:
            raise ValueError("a 3-D image array needs an axis of 3 or 4 channels")
        channel_axis = data.shape.index(sizes[0])
    if data.shape[channel_axis] not in (3, 4):
        raise ValueError("the channel axis must have 3 or 4 channels")
    pixels = np.moveaxis(bytescale(data, cmin, cmax, high, low), channel_axis, 2)
    return Image.fromarray(np.ascontiguousarray(pixels), "RGB" if pixels.shape[2] == 3 else "RGBA")


def imsave(name: str | os.PathLike, arr: np.ndarray, format: str | None = None) -> None:
    """Write an array as an image file (see toimage); the format follows the name's ending."""
    toimage(arr, channel_axis=2).save(name, format)


def imresize(
    arr: np.ndarray, size: int | float | tuple, interp: str = "bilinear", mode: str | None = None
) -> np.ndarray:
    """The array as an image resized: an int `size` is a percentage, a float a fraction,
    a tuple (height, width); interp is nearest, lanczos, bilinear, bicubic or cubic."""
    image = toimage(arr, mode=mode)
    if isinstance(size, int | np.integer):
        width, height = (np.array(image.size) * (size / 100.0)).astype(int)
    elif isinstance(size, float | np.floating):
        width, height = (np.array(image.size) * size).astype(int)
    else:
        height, width = size[:2]
    return resize(fromimage(image), int(width), int(height), RESAMPLING[interp])
