"""The assignment's image helpers, NumPy only: an image file read at the assignment's size,
the network's input made from it (CONFIG.MEANS subtracted), the noisy initial image, and
the result saved. The course's nst_utils.py re-exports them; the program's own pixel
conversion (nst.pixels) uses them without loading TensorFlow."""

from __future__ import annotations

import os

import numpy as np

from nst.assignment_config import CONFIG
from nst.images import read_rgb, resize, write_image


def load_image(
    path: str | os.PathLike,
    width: int = CONFIG.IMAGE_WIDTH,
    height: int = CONFIG.IMAGE_HEIGHT,
) -> np.ndarray:
    """An image file as uint8 RGB of shape (height, width, 3), resized to that size.

    Replaces the assignment's `scipy.misc.imread`: any common format, with
    grayscale, palette, transparent and 16-bit images converted to RGB.
    """
    return resize(read_rgb(path), width, height)


def reshape_and_normalize_image(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB image -> (1, H, W, 3) float64 with CONFIG.MEANS subtracted."""
    image = np.reshape(image, (1,) + image.shape)
    return image - CONFIG.MEANS


def generate_noise_image(
    content_image: np.ndarray, noise_ratio: float = CONFIG.NOISE_RATIO, amplitude: float = 20
) -> np.ndarray:
    """noise_ratio * uniform(-amplitude, amplitude) noise + (1 - noise_ratio) * content_image.

    `content_image` is normalized, shape (1, H, W, 3); the noise is float32
    from NumPy's global generator (seed it with np.random.seed).
    """
    noise_image = np.random.uniform(-amplitude, amplitude, content_image.shape).astype("float32")
    return noise_image * noise_ratio + content_image * (1 - noise_ratio)


def save_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Save a normalized (1, H, W, 3) image: add CONFIG.MEANS, clip to 0..255, uint8.

    The file appears complete or not at all (written to a temporary name first).
    """
    image = np.clip(image + CONFIG.MEANS, 0, 255)[0].astype("uint8")
    write_image(path, image)
