"""A frame's temporal targets, as plain data: what the cost graph (nst.optimize.cost_graph) and
the tiled costs (nst.tiled_costs.TiledCosts) add to J for a frame of a clip."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TemporalTargets:
    """What a frame of a clip is held to besides its content and style (Ruder, Dosovitskiy
    and Brox 2016): the earlier results `warped[j]` carried along the optical flow into this
    frame (network input, (1, H, W, 3) float32), each where its certainty `weights[j]`
    ((H, W) float32, long-term weights c_j^long of nst.video.certainty) is 1, with `weight`
    in J: J += weight * sum_j J_temporal(x, warped[j], weights[j]) (nst.costs.temporal_cost)."""

    weight: float
    warped: tuple[np.ndarray, ...]
    weights: tuple[np.ndarray, ...]
