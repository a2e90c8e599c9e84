"""Dense optical flow between two frames, with OpenCV: DIS by default, Farneback as the option.

The flow from frame a to frame b is a float32 array (H, W, 2) over the pixels of a. At pixel
p = (x, y) of a (x to the right, y downwards, in pixels) it holds w(p) = (dx, dy): the point
seen at p in a is seen at p + w(p) in b, so that a(p) ~ b(p + w(p)). nst.video.warp.warp(b, w)
brings b into a's pixels along it.
"""

from __future__ import annotations

import cv2
import numpy as np

from nst.job import FLOW_METHODS

DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
"""OpenCV's DIS preset: MEDIUM, the most accurate of its three (ULTRAFAST, FAST, MEDIUM). On
real clips it leaves 0.73 to 0.94 times FAST's warping error, in about 4 times its time: 0.2 s
for both flows of a 720x528 pair, small beside the painting of a frame (bench/README.md)."""

FARNEBACK = {
    "pyr_scale": 0.5,
    "levels": 5,
    "winsize": 15,
    "iterations": 3,
    "poly_n": 7,
    "poly_sigma": 1.5,
    "flags": 0,
}
"""cv2.calcOpticalFlowFarneback's parameters: 5 levels of halving (motions of tens of pixels),
15-pixel windows, 3 iterations a level, 7-pixel polynomial neighbourhoods (sigma 1.5, the value
OpenCV's documentation gives for 7)."""


def optical_flow(a: np.ndarray, b: np.ndarray, method: str = "dis") -> np.ndarray:
    """The flow from frame a to frame b (see the module's docstring), float32 (H, W, 2).

    a, b: uint8 RGB frames of the same shape (H, W, 3), compared in grey
    (cv2.COLOR_RGB2GRAY); method: one of FLOW_METHODS.
    """
    return _flow(*_greys(a, b), method)


def flows_both_ways(
    a: np.ndarray, b: np.ndarray, method: str = "dis"
) -> tuple[np.ndarray, np.ndarray]:
    """(the flow from a to b, the flow from b to a): each frame's pixels carried to the other,
    as nst.video.certainty.certainty needs them (each frame made grey once)."""
    grey_a, grey_b = _greys(a, b)
    return _flow(grey_a, grey_b, method), _flow(grey_b, grey_a, method)


def _greys(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB frames a and b of one shape, in grey; ValueError for other arrays."""
    if a.shape != b.shape or a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(
            f"optical_flow takes two uint8 RGB frames of one shape, not {a.dtype} {a.shape} "
            f"and {b.dtype} {b.shape}"
        )
    return cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)


def _flow(grey_a: np.ndarray, grey_b: np.ndarray, method: str) -> np.ndarray:
    """The flow from grey frame a to grey frame b by `method`, float32 (H, W, 2)."""
    if method == "dis":
        flow = cv2.DISOpticalFlow_create(DIS_PRESET).calc(grey_a, grey_b, None)
    elif method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(grey_a, grey_b, None, **FARNEBACK)
    else:
        raise ValueError(f"optical flow method {method!r} is not one of {', '.join(FLOW_METHODS)}")
    return flow.astype(np.float32, copy=False)
