"""Colour preservation: the result's luminance with the content's colours.

Gatys et al. (2016, "Preserving Color in Neural Artistic Style Transfer")
transfer style on the luminance channel only. Here the result's luma Y is
combined with the content's chroma Cb, Cr (ITU-R BT.601, full range, as in JPEG).
"""

from __future__ import annotations

import numpy as np

# Rows give Y, Cb, Cr from R, G, B (0..255); Cb and Cr are centred on 0 here.
_RGB_TO_YCBCR = np.array(
    [
        [0.299, 0.587, 0.114],
        [-0.168736, -0.331264, 0.5],
        [0.5, -0.418688, -0.081312],
    ]
)
_YCBCR_TO_RGB = np.linalg.inv(_RGB_TO_YCBCR)


def preserve_colors(content: np.ndarray, result: np.ndarray) -> np.ndarray:
    """uint8 RGB with Y from `result` and Cb, Cr from `content` (both (H, W, 3), same size)."""
    return np.round(recolored(content, result)).astype(np.uint8)


def recolored(content: np.ndarray, result: np.ndarray) -> np.ndarray:
    """float64 RGB in 0..255, not rounded: Y from `result` and Cb, Cr from `content`
    (both (H, W, 3) on the 0..255 scale, any dtype, same size), clipped to 0..255."""
    if content.shape != result.shape:
        raise ValueError(f"content {content.shape} and result {result.shape} differ in size")
    luma = result.astype(np.float64) @ _RGB_TO_YCBCR[0]
    ycbcr = content.astype(np.float64) @ _RGB_TO_YCBCR.T
    ycbcr[..., 0] = luma
    rgb = ycbcr @ _YCBCR_TO_RGB.T
    return np.clip(rgb, 0, 255)
