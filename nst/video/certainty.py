"""Where an optical flow can be trusted: Ruder, Dosovitskiy and Brox 2016's per-pixel certainty.

From "Artistic style transfer for videos" (arXiv:1604.08610), section 3.2. Frames t (current)
and s (earlier); w = (u, v): the flow from t to s over t's pixels, which warps s into t
(nst.video.warp); the flow from s to t over s's pixels, brought to t's pixels along w, is w~:
w~(p) = flow_s_to_t(p + w(p)). Where both flows are right, w~ = -w.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from nst.video.warp import warp

ROUND_TRIP = (0.01, 0.5)
"""(a, b) of the round-trip test |w + w~|^2 > a (|w|^2 + |w~|^2) + b (pixels squared)."""

MOTION_BOUNDARY = (0.01, 0.002)
"""(a, b) of the motion-boundary test |grad u|^2 + |grad v|^2 > a |w|^2 + b."""


def certainty(flow: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
    """c (H, W) float32, 1 where warp(frame s, flow) can be trusted at a pixel of t, else 0.

    flow: w, from frame t to frame s (H, W, 2); flow_back: from s to t (H, W, 2). c is 0
    where any of these holds, 1 elsewhere:
    - disocclusion: the round trip t -> s -> t misses its start,
      |w + w~|^2 > 0.01 (|w|^2 + |w~|^2) + 0.5;
    - motion boundary: |grad u|^2 + |grad v|^2 > 0.01 |w|^2 + 0.002, the gradients by
      central differences ((f(x+1) - f(x-1)) / 2; one-sided at the image's edges), so that a
      step in the flow marks the pixel on each side of it;
    - the point is outside frame s: p + w(p) outside [0, W-1] x [0, H-1] (the paper does not
      say; frame s holds nothing of such a point).
    """
    height, width = flow.shape[:2]
    back = warp(flow_back, flow)
    a, b = ROUND_TRIP
    squared = _squared_length(flow)
    disoccluded = _squared_length(flow + back) > a * (squared + _squared_length(back)) + b
    du_dy, du_dx = np.gradient(flow[..., 0])
    dv_dy, dv_dx = np.gradient(flow[..., 1])
    a, b = MOTION_BOUNDARY
    boundary = du_dx**2 + du_dy**2 + dv_dx**2 + dv_dy**2 > a * squared + b
    x = np.arange(width)[None, :] + flow[..., 0]
    y = np.arange(height)[:, None] + flow[..., 1]
    outside = (x < 0) | (x > width - 1) | (y < 0) | (y > height - 1)
    return (~(disoccluded | boundary | outside)).astype(np.float32)


def long_term_weights(certainties: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
    """c_j^long = max(c_j - sum_{k in J, k < j} c_k, 0) for each j in J.

    certainties: {j: c_j}, c_j the certainty (H, W) of the flow from the current frame to
    the frame j back, for each j in J (e.g. 1, 2 and 4). A pixel counts for the frame j back
    only where no nearer frame of J is certain, so each pixel is pulled towards one earlier
    result at most (with c in {0, 1}).
    """
    weights, nearer = {}, None
    for j in sorted(certainties):
        c = np.asarray(certainties[j], np.float32)
        weights[j] = c if nearer is None else np.maximum(c - nearer, 0)
        nearer = c if nearer is None else nearer + c
    return weights


def _squared_length(flow: np.ndarray) -> np.ndarray:
    """|w|^2 = dx^2 + dy^2 at each pixel of a flow (H, W, 2)."""
    return flow[..., 0] ** 2 + flow[..., 1] ** 2
