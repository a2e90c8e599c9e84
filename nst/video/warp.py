"""An image carried along an optical flow (cv2.remap), and a later frame's initial image.

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


def initial_image(
    previous: np.ndarray, flow: np.ndarray, certainty: np.ndarray, fill: np.ndarray
) -> np.ndarray:
    """Where a later frame's painting starts: c * warp(previous, flow) + (1 - c) * fill.

    previous: the previous stylized frame (H, W, 3); flow: from the current frame to the
    previous one; certainty c (H, W) of that flow (nst.video.certainty.certainty; 1 where
    the previous frame shows the same point, 0 where it does not); fill: the current content
    frame in the same pixel space (H, W, 3). Where c is 0 the previous result holds nothing
    of the point (it was hidden, or outside the frame) and its warped value is a smear of
    other points; the content frame holds the point itself, so the painting starts there
    from the right shapes and colours (as a still image does with --init content) while
    the rest starts from the strokes already painted. float32 (H, W, 3).
    """
    c = certainty.astype(np.float32, copy=False)[..., None]
    warped = warp(previous.astype(np.float32, copy=False), flow)
    return c * warped + (1 - c) * fill.astype(np.float32, copy=False)
