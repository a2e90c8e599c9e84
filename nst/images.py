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
    return read_rgb_alpha(path)[0]


def read_rgb_alpha(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """read_rgb's picture and, from the same decoding, the file's alpha channel as uint8
    (height, width) (0 = transparent, 255 = opaque) when it has one (RGBA, LA, or a
    palette or grey image with a transparent colour), else None."""
    with open_image(path) as image:
        return _to_rgb(ImageOps.exif_transpose(image))


@dataclass(frozen=True)
class Inputs:
    """A run's images, each decoded once (uint8 RGB, (H, W, 3)): the content, the style
    images, and the --init image when it is a file (else None); and the content's alpha
    channel, uint8 (H, W), when it has one (else None), which the result files keep."""

    content: np.ndarray
    styles: list[np.ndarray]
    init: np.ndarray | None = None
    content_alpha: np.ndarray | None = None

    @classmethod
    def read(cls, content: Path, styles: Sequence[Path], init: Path | None = None) -> Inputs:
        """The images at these paths; ImageError naming the first that cannot be read."""
        rgb, alpha = read_rgb_alpha(content)
        return cls(
            rgb,
            [read_rgb(path) for path in styles],
            None if init is None else read_rgb(init),
            alpha,
        )


IMAGE_FOLDER = Path("images")
"""Where the assignment keeps its images, beside the notebook (and this project beside
neural_art.py): a bare file name is looked for there too (see `located`)."""


def located(path: Path) -> Path:
    """`path`; or, when it is a bare file name that the current folder lacks and
    IMAGE_FOLDER holds, the file there (so `neural_art.py cat.jpg stone.jpg` finds the
    assignment's images)."""
    if path.parent == Path(".") and not path.exists() and (IMAGE_FOLDER / path).exists():
        return IMAGE_FOLDER / path
    return path


@contextmanager
def open_image(path: str | os.PathLike) -> Iterator[Image.Image]:
    """The image file at `path` opened with Pillow at its first frame, after checking that
    it exists and is at most MAX_PIXELS large; whatever fails, also while the caller
    decodes it, is an ImageError naming the file."""
    path = Path(path)
    if not path.exists():
        elsewhere = f" (nor {IMAGE_FOLDER / path})" if path.parent == Path(".") else ""
        raise ImageError(f"image {path} does not exist{elsewhere}")
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


def _to_rgb(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """`image` as uint8 RGB (transparency composited over white) and its alpha or None."""
    if image.mode in ("I;16", "I;16B", "I;16L"):
        return _grey_to_rgb(SIXTEEN_TO_EIGHT_BITS[np.asarray(image)]), None
    if image.mode == "I":
        samples = np.asarray(image, dtype=np.float64)
        if samples.max(initial=0) > 255:
            samples = samples * 255.0 / 65535.0
        return _grey_to_rgb(np.clip(np.round(samples), 0, 255).astype(np.uint8)), None
    if image.mode == "F":
        grey = np.clip(np.round(np.asarray(image) * 255.0), 0, 255).astype(np.uint8)
        return _grey_to_rgb(grey), None
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        return _over_white(rgba), np.array(rgba.getchannel("A"))
    return np.asarray(image.convert("RGB")), None


def _over_white(rgba: Image.Image) -> np.ndarray:
    """The RGBA image composited over an opaque white background, as uint8 RGB."""
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))


def over_white(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """uint8 RGB (H, W, 3) with uint8 `alpha` (H, W) composited over white as read_rgb
    does (rgb * a / 255 + 255 * (1 - a / 255)); `rgb` itself when alpha is None."""
    if alpha is None:
        return rgb
    return _over_white(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"))


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


def sixteen_bits(pixels: np.ndarray) -> np.ndarray:
    """float pixels on the 0..255 scale as uint16: round(clip(p, 0, 255) * 65535 / 255)."""
    return np.round(np.clip(pixels, 0, 255) * (65535 / 255)).astype(np.uint16)


def result_file_image(
    image: np.ndarray, pixels: np.ndarray | None, depth: int, alpha: np.ndarray | None
) -> np.ndarray:
    """What a result PNG holds: uint8 `image` (H, W, 3) for depth 8, or for depth 16 the
    uint16 sixteen_bits(pixels) (float 0..255, before 8-bit rounding; `image` * 257
    when pixels is None); with the content's uint8 `alpha`, resized to (H, W) with the
    Lanczos filter that resizes the content (`resize`), as a 4th channel (x 257 at 16 bits)."""
    rgb = sixteen_bits(image if pixels is None else pixels) if depth == 16 else image
    if alpha is None:
        return rgb
    height, width = rgb.shape[:2]
    a = resize(alpha, width, height).astype(rgb.dtype) * rgb.dtype.type(257 if depth == 16 else 1)
    return np.dstack([rgb, a])


def png16_bytes(image: np.ndarray) -> bytes:
    """uint16 RGB (H, W, 3) or RGBA (H, W, 4) as a 16-bit PNG file, encoded by TensorFlow's
    libpng (Pillow writes 16-bit PNGs of one channel only). TensorFlow is imported here,
    when a run writes its first 16-bit image, not when this module is."""
    from nst.quiet import tensorflow_quietly

    with tensorflow_quietly():
        import tensorflow as tf

        graph = tf.Graph()  # a graph of its own: runs TF 1.x graphs with eager execution off
        with graph.as_default():
            encoded = tf.io.encode_png(np.ascontiguousarray(image, dtype=np.uint16))
        with tf.compat.v1.Session(graph=graph) as session:
            return session.run(encoded)


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write `image` to `path` atomically: a reader never sees a partial file.

    uint8 images go through imageio, the format following the file's extension;
    uint16 RGB or RGBA images (which imageio's Pillow cannot write) are written
    by png16_bytes, as a 16-bit PNG whatever the extension. The image goes to a
    temporary file in the same folder, which then replaces `path` in one step.
    The file is opened and closed here, not by imageio: when a write fails (a
    full disk), a file imageio opened itself stays open, and closing it later
    fails again outside any handler.
    """
    with atomic_path(path) as tmp, tmp.open("wb") as file:
        if image.dtype == np.uint16:
            file.write(png16_bytes(image))
        else:
            iio.imwrite(file, image, extension=Path(path).suffix)
