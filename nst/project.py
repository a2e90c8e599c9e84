"""The project's folder (that of neural_art.py, nst/, images/ and pretrained-model/), and the
command that runs this program again, for the hints it prints."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The folder of neural_art.py, nst/ and pretrained-model/."""
SCRIPT = PROJECT_ROOT / "neural_art.py"


def program_command(*args: str | os.PathLike) -> str:
    """The Python running now, neural_art.py and `args`, quoted for a shell: the hint works
    as printed (a bare `python` may be another Python, without this program's packages).
    The script is named relative to the working folder when it lies inside it."""
    try:
        script = SCRIPT.relative_to(Path.cwd().resolve())
    except ValueError:
        script = SCRIPT
    return shlex.join([sys.executable or "python3", str(script), *map(str, args)])
