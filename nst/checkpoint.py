"""The state a run continues from: what checkpoint.npz holds (NumPy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Checkpoint:
    """What a run needs to continue after step i: the image (network input), Adam's state,
    and with iterate averaging the average's state (nst.averaging.IterateAverage.state)."""

    i: int
    image: np.ndarray
    state: tuple[np.ndarray, ...] = ()
    average: tuple[np.ndarray, ...] = ()
