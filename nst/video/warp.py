"""An image carried along an optical flow (cv2.remap).

With the flow w from frame t to an earlier frame s (nst.video.flow's convention: over the
pixels of t, p + w(p) is where p's point is in s), warp(image_s, w) is image_s seen in frame t's
pixels: the previous stylized frame brought to the current one.
"""

from __future__ import annotations

import cv2
import numpy as np


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """out(p) = image(p + flow(p)) for every pixel p of the flow's (H, W), of image's dtype.

    image: (H, W) or (H, W, C) with C at most 4, of the flow's H and W; flow: float32
    (H, W, 2), (dx, dy) in pixels. Between pixels, bilinear interpolation (OpenCV's, at
    1/32 of a pixel: an integer flow moves pixels exactly); a point outside the image takes
    the nearest border pixel's value (BORDER_REPLICATE: no dark frame creeps in, and
    nst.video.certainty gives such pixels certainty 0 anyway).
    """
    height, width = flow.shape[:2]
    if image.shape[:2] != (height, width):
        raise ValueError(f"warp: an image of {image.shape[:2]} along a flow of {(height, width)}")
    columns = np.arange(width, dtype=np.float32)[None, :] + flow[..., 0]
    rows = np.arange(height, dtype=np.float32)[:, None] + flow[..., 1]
    return cv2.remap(image, columns, rows, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
