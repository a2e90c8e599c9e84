"""Which CONTENT is a clip: a folder of frames, a video file, or a GIF of several frames.

Only the standard library and Pillow (through nst.images) are imported here, so that the
command line tells a clip from an image before the video libraries load.
"""

from __future__ import annotations

import os
from pathlib import Path

from nst.errors import InputError
from nst.images import open_image

VIDEO_SUFFIXES = frozenset(
    (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".wmv", ".flv")
)
"""File name endings of video files (a .gif is a clip when it has more than one frame)."""

FRAME_SUFFIXES = frozenset((".png", ".jpg", ".jpeg"))
"""File name endings of the frames in a folder of frames."""


def is_clip(path: str | os.PathLike) -> bool:
    """Whether CONTENT `path` names a clip rather than one image: a folder, a file whose name
    ends in one of VIDEO_SUFFIXES, or a GIF of more than one frame."""
    path = Path(path)
    if path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES:
        return True
    if path.suffix.lower() != ".gif" or not path.is_file():
        return False
    try:
        with open_image(path) as image:
            return getattr(image, "n_frames", 1) > 1
    except InputError:
        return False  # read as an image, whose reader then says what is wrong
