"""What a clip's run paints, as plain data: the runner (nst.run.clip_job) makes it once its
checks have answered, and the painting in order or in passes reads it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nst.settings import Settings
from nst.video.clip_files import Clip


@dataclass(frozen=True)
class ClipPlan:
    """What a clip's run paints: its settings, the clip, the frames (first and last, from
    1), the style images and the output size (width, height)."""

    settings: Settings
    clip: Clip
    span: tuple[int, int]
    styles: list[np.ndarray]
    size: tuple[int, int]
