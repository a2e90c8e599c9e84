"""Iterate averaging: the picture shown is a moving average of the optimizer's iterates.

Adam's iterates jitter around the minimum by about a step; their exponential
moving average does not, and is sharper at the same cost (crowsonkb's
style-transfer-pytorch averages with decay 0.99).
"""

from __future__ import annotations

import numpy as np


class IterateAverage:
    """The bias-corrected exponential moving average of the iterates x_1 .. x_t.

    total_t = d total_(t-1) + (1 - d) x_t and weight_t = d weight_(t-1) + (1 - d),
    from total_0 = 0 and weight_0 = 0; the average is total_t / weight_t (so the
    first average is x_1, and early iterates do not pull it towards 0).
    """

    def __init__(self, decay: float, state: tuple[np.ndarray, ...] = ()):
        if not 0 < decay < 1:
            raise ValueError(f"the decay of an average must be between 0 and 1, not {decay}")
        self.decay = decay
        self.total, self.weight = (state[0], float(state[1])) if state else (None, 0.0)

    def add(self, x: np.ndarray) -> None:
        """Take iterate x into the average."""
        d = self.decay
        self.total = (1 - d) * x if self.total is None else d * self.total + (1 - d) * x
        self.weight = d * self.weight + (1 - d)

    def value(self) -> np.ndarray:
        """The average so far, in x's dtype (after at least one add)."""
        return mean_of(self.state())

    def state(self) -> tuple[np.ndarray, ...]:
        """(total, weight) as arrays, what IterateAverage(decay, state) continues from."""
        return (self.total, np.float64(self.weight)) if self.total is not None else ()


def mean_of(state: tuple[np.ndarray, ...]) -> np.ndarray:
    """The average that IterateAverage.state() `state` = (total, weight) holds: total / weight,
    in total's dtype."""
    total, weight = state
    return (total / weight).astype(total.dtype)
