"""Where a later frame of a clip starts, and what holds it to the earlier results (Ruder,
Dosovitskiy and Brox 2016, with long-term terms).

For frame t and each earlier frame t - j (j in LONG_TERM), the optical flow both ways between
the two content frames gives the certainty c_j (nst.video.certainty) and carries the result of
t - j into t's pixels (nst.video.warp). Frame t starts from the previous result carried
along the flow, everywhere: where the previous frame did not show the point, the warp
repeats the strokes beside it, which the optimization repaints (starting from the content
frame there instead left the later frames' style cost 3.65x the baseline's, against 0.58x,
on Megamind.avi at 256 px: bench/README.md "Clips"). Its temporal targets are the carried
results with their long-term weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from nst.video.certainty import certainty, long_term_weights
from nst.video.flow import flows_both_ways
from nst.video.temporal_targets import TemporalTargets
from nst.video.warp import warp

LONG_TERM = (1, 2, 4)
"""How many frames back a frame's temporal targets reach: to the previous frame, and to the
frames 2 and 4 back where the nearer ones are uncertain (Ruder et al.'s long-term set)."""


@dataclass(frozen=True)
class FrameStart:
    """A later frame's initial image (network input, (1, H, W, 3) float32) and its temporal
    targets; `certain`: the share of its pixels that the previous frame shows (c_1 = 1)."""

    image: np.ndarray
    temporal: TemporalTargets
    certain: float


def frame_start(
    content: np.ndarray,
    earlier: Mapping[int, tuple[np.ndarray, np.ndarray]],
    to_network: Callable[[np.ndarray], np.ndarray],
    weight: float,
    method: str = "dis",
) -> FrameStart:
    """Frame t's start, from `content` (frame t, uint8 RGB at the output size) and `earlier`:
    {j: (content frame t - j, its result)}, both uint8 RGB at the output size, for the j of
    LONG_TERM that the clip has (1 at least). `to_network` turns uint8 RGB into network input
    (1, H, W, 3); `weight` is the temporal cost's weight in J; `method` the optical flow's."""
    if 1 not in earlier:
        raise ValueError("frame_start needs the previous frame (j = 1)")
    certainties, warped = {}, {}
    for j in sorted(earlier):
        content_j, result_j = earlier[j]
        flow, flow_back = flows_both_ways(content, content_j, method)  # t -> t - j, and back
        certainties[j] = certainty(flow, flow_back)
        warped[j] = warp(to_network(result_j)[0].astype(np.float32), flow)[None]
    weights = long_term_weights(certainties)
    order = sorted(earlier)
    temporal = TemporalTargets(
        weight, tuple(warped[j] for j in order), tuple(weights[j] for j in order)
    )
    return FrameStart(warped[1], temporal, float(certainties[1].mean()))
