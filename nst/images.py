"""Reading any common image file as 8-bit RGB, resizing it, and writing images safely.

Replaces `scipy.misc.imread`, `imresize` and `imsave`, which SciPy removed.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from nst.errors import InputError
from nst.files import atomic_path

MAX_PIXELS = 100_000_000
"""Largest image (width x height) read; a bigger one is refused before it is decoded."""


SIXTEEN_TO_EIGHT_BITS = ((np.arange(65536, dtype=np.uint32) + 128) // 257).astype(np.uint8)
"""A 16-bit sample v as 8 bits, round(v * 255 / 65535) (v / 257 is never halfway): a table,
so that a large 16-bit image is converted in one pass."""


class ImageError(InputError):
    """An image file that is missing, unreadable or not an image."""


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """The first frame of an image file as uint8 RGB of shape (height, width, 3).

    EXIF orientation is applied; grayscale, palette and CMYK become RGB;
    transparent pixels are composited over white; 16-bit samples are scaled
    to 8 bits (v * 255 / 65535).
    """
    with open_image(path) as image:
        return _to_rgb(ImageOps.exif_transpose(image))


@dataclass(frozen=True)
class Inputs:
    """A run's images, each decoded once (uint8 RGB, (H, W, 3)): the content, the style
    images, and the --init image when it is a file (else None)."""

    content: np.ndarray
    styles: list[np.ndarray]
    init: np.ndarray | None = None

    @classmethod
    def read(cls, content: Path, styles: Sequence[Path], init: Path | None = None) -> Inputs:
        """The images at these paths; ImageError naming the first that cannot be read."""
        return cls(
            read_rgb(content),
            [read_rgb(path) for path in styles],
            None if init is None else read_rgb(init),
        )


@contextmanager
def open_image(path: str | os.PathLike) -> Iterator[Image.Image]:
    """The image file at `path` opened with Pillow at its first frame, after checking that
    it exists and is at most MAX_PIXELS large; whatever fails, also while the caller
    decodes it, is an ImageError naming the file."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"image {path} does not exist")
    if path.is_dir():
        raise ImageError(f"image {path} is a directory, not an image file")
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own limit (about 89 million pixels) and refuses twice
            # that; MAX_PIXELS is the limit here, checked before any pixel is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ImageError(
                        f"image {path} is {width}x{height} pixels, too large: more than the "
                        f"{MAX_PIXELS:,} this program reads"
                    )
                image.seek(0)
                yield image
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"image {path} is not an image file of a known format") from None
    except Image.DecompressionBombError:
        raise ImageError(f"image {path} declares a size too large to read") from None
    except PermissionError:
        raise ImageError(f"image {path} cannot be read: permission denied") from None
    except Exception as e:  # whatever Pillow raises on a damaged file (OSError, TypeError...)
        raise ImageError(f"image {path} is damaged or truncated ({e})") from None


def _to_rgb(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L"):
        return _grey_to_rgb(SIXTEEN_TO_EIGHT_BITS[np.asarray(image)])
    if image.mode == "I":
        samples = np.asarray(image, dtype=np.float64)
        if samples.max(initial=0) > 255:
            samples = samples * 255.0 / 65535.0
        return _grey_to_rgb(np.clip(np.round(samples), 0, 255).astype(np.uint8))
    if image.mode == "F":
        return _grey_to_rgb(np.clip(np.round(np.asarray(image) * 255.0), 0, 255).astype(np.uint8))
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


def resize(
    image: np.ndarray,
    width: int,
    height: int,
    resample: Image.Resampling = Image.Resampling.LANCZOS,
) -> np.ndarray:
    """`image` resized to width x height with Pillow's `resample` filter; `image` itself
    when it has that size already.

    uint8 images (grey (h, w), RGB (h, w, 3) or RGBA (h, w, 4)) are resized as the Pillow
    image of that mode and stay uint8. Any other array, (h, w) or (h, w, channels), is
    resized one channel at a time as float32 (Pillow's mode F) and comes out float32.
    """
    if image.shape[:2] == (height, width):
        return image
    if image.dtype == np.uint8:
        return np.array(Image.fromarray(image).resize((width, height), resample))
    planes = np.atleast_3d(image.astype(np.float32, copy=False))
    resized = np.stack(
        [
            np.array(Image.fromarray(np.ascontiguousarray(plane)).resize((width, height), resample))
            for plane in np.moveaxis(planes, 2, 0)
        ],
        axis=2,
    )
    return resized if image.ndim == 3 else resized[:, :, 0]


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write uint8 `image` to `path` atomically: a reader never sees a partial file.

    The format follows the file's extension. The image goes to a temporary file
    in the same folder, which then replaces `path` in one step. The file is
    opened and closed here, not by imageio: when a write fails (a full disk),
    a file imageio opened itself stays open, and closing it later fails again
    outside any handler.
    """
    with atomic_path(path) as tmp, tmp.open("wb") as file:
        iio.imwrite(file, image, extension=Path(path).suffix)
