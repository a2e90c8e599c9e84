"""How an RGB picture becomes the network's input, and back.

The assignment feeds VGG-19 pixels on a 0..255 scale minus ImageNet's mean
colour ("caffe"); the TF 2 edition feeds pixels scaled to [0, 1] as they are
("unit"). Amounts given in pixel units (noise amplitudes) are on the 0..255
scale and are converted with `scale`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nst.assignment_config import CONFIG
from nst.assignment_images import reshape_and_normalize_image


@dataclass(frozen=True)
class PixelSpace:
    """network value = scale * pixel - means, for 0..255 pixels."""

    name: str
    scale: float
    means: np.ndarray

    def to_network(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) -> (1, H, W, 3) network input (float64)."""
        if self.name == "caffe":
            return reshape_and_normalize_image(rgb)  # the assignment's own conversion
        return rgb[None].astype(np.float64) * self.scale - self.means

    def to_pixels(self, image: np.ndarray) -> np.ndarray:
        """(1, H, W, 3) network input -> float64 (H, W, 3) pixels, clip((x + means) / scale,
        0, 255): the picture before any rounding to 8 bits."""
        pixels = np.array(image, dtype=np.float64)  # a copy, changed in place (one buffer)
        pixels += self.means
        pixels /= self.scale
        return np.clip(pixels, 0, 255, out=pixels)[0]

    def to_rgb(self, image: np.ndarray) -> np.ndarray:
        """(1, H, W, 3) network input -> uint8 (H, W, 3): back to 0..255, clipped, truncated."""
        return self.to_pixels(image).astype(np.uint8)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The network values of pixel 0 and pixel 255, per channel, shape (1, 1, 1, 3)."""
        return 0 * self.scale - self.means, 255 * self.scale - self.means


PIXEL_SPACES = {
    "caffe": PixelSpace("caffe", 1.0, CONFIG.MEANS),
    "unit": PixelSpace("unit", 1 / 255, np.zeros((1, 1, 1, 3))),
}
