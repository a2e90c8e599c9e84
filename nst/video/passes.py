"""Where a frame starts in a later pass of the multi-pass method, and what holds it to its
neighbours (Ruder, Dosovitskiy and Brox 2016, section 3.4, with the frames of a pass
painted in two groups whose frames can be painted at once).

Pass 1 paints every frame on its own. Each later pass goes one way through the clip,
forwards in passes 2, 4, ... and backwards in passes 3, 5, ...; frame t starts from its
result of the pass before, blended with the result of the frame it comes from in this
pass's direction (t - 1 forwards, t + 1 backwards) carried along the optical flow:

    x'(t) = x(t) + DELTA * c * (warp(x(t -+ 1)) - x(t))

where the flow is certain (c = 1, nst.video.certainty) and x(t) elsewhere; its temporal
targets are both neighbours' results, each where its flow is certain. The paper repaints
the frames one after another, each from the neighbour repainted just before. Here a pass
repaints the odd frames first, from their neighbours of the pass before, then the even
ones, from the odd ones just repainted (red-black ordering): the frames of each half
depend on the other half only, so they can be painted at once, and agreement still
spreads in one pass. (Every frame from the pass before at once made neighbours swap
their differences rather than settle: on Megamind.avi, 3 and 6 such passes left 0.67 and
0.81 of the flicker of frames painted on their own, bench/README.md.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from nst.video.certainty import certainty
from nst.video.flow import flows_both_ways
from nst.video.frame_start import FrameStart
from nst.video.temporal_targets import TemporalTargets
from nst.video.warp import warp

DELTA = 0.5
"""How much of the neighbour's carried result a frame starts from where the flow is
certain (the paper's delta)."""


def pass_direction(number: int) -> int:
    """The offset of the neighbour that frame t starts from in pass `number` (from 2): -1
    (the frame before) in the forward passes 2, 4, ..., +1 (the frame after) in the
    backward passes 3, 5, ..."""
    if number < 2:
        raise ValueError(f"pass {number} has no direction: pass 1 paints each frame on its own")
    return -1 if number % 2 == 0 else 1


def pass_start(
    content: np.ndarray,
    result: np.ndarray,
    neighbours: Mapping[int, tuple[np.ndarray, np.ndarray]],
    direction: int,
    to_network: Callable[[np.ndarray], np.ndarray],
    weight: float,
    method: str = "dis",
) -> FrameStart:
    """Frame t's start in a later pass: `content` (frame t) and `result` (its result of the
    pass before), `neighbours`: {offset: (content frame t + offset, its result of the pass
    before)} for the offsets -1 and +1 that the clip has (one at least), all uint8 RGB at
    the output size; `direction` the offset this pass comes from (pass_direction).
    `to_network` turns uint8 RGB into network input (1, H, W, 3); `weight` is the temporal
    cost's weight in J; `method` the optical flow's. `certain` is the share of t's pixels
    that the neighbour it starts from shows (the other neighbour's at the clip's end that
    has none in this direction)."""
    if not neighbours:
        raise ValueError("pass_start needs a neighbouring frame")
    image = to_network(result).astype(np.float32)
    certainties, warped = {}, {}
    for offset in sorted(neighbours):
        content_n, result_n = neighbours[offset]
        flow, flow_back = flows_both_ways(content, content_n, method)  # t -> t + offset, back
        certainties[offset] = certainty(flow, flow_back)
        warped[offset] = warp(to_network(result_n)[0].astype(np.float32), flow)[None]
    if direction in neighbours:
        c = certainties[direction][None, :, :, None]
        image = image + np.float32(DELTA) * c * (warped[direction] - image)
    order = sorted(neighbours)
    temporal = TemporalTargets(
        weight, tuple(warped[o] for o in order), tuple(certainties[o] for o in order)
    )
    shown = direction if direction in neighbours else order[0]
    return FrameStart(image, temporal, float(certainties[shown].mean()))
