"""The README's gallery: content, style and result of a few runs of the command line.

Run from the repository root:

    .venv/bin/python bench/gallery.py [--only NAME]

Each picture is made by `neural_art.py` itself, run as a user would run it (in
a subprocess, timed from start to exit), with the real ImageNet VGG-16 conv
base of tests/real_vgg16.py (`--network vgg16`): the published VGG-19 file
cannot be downloaded on the machine that made them. The run's
side_by_side.png (or, for the quality preset, its result alone) becomes
images/gallery/<name>.jpg, and the script prints, for
each picture, the Markdown the README shows: the picture, the command and its
time. The runs go to a temporary folder; nothing else is kept.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

GALLERY = ROOT / "images" / "gallery"
WIDTH = 960
"""Width in pixels of a gallery picture (content | style | result)."""
QUALITY = 85
"""JPEG quality of a gallery picture."""

SIDE_BY_SIDE, RESULT = "side_by_side.png", "generated_image.jpg"
"""What a gallery picture shows: the run's content | style | result, or the result alone."""

PICTURES = [  # (name, content, style, options beyond --network and --weights, what it shows)
    ("cat-stone", "images/cat.jpg", "images/stone.jpg", [], SIDE_BY_SIDE),
    (
        "cat-starry-night",
        "images/cat.jpg",
        "images/starry_night.jpg",
        ["--optimizer", "lbfgs", "--iterations", "100"],
        SIDE_BY_SIDE,
    ),
    (
        "mountains-starry-night",
        "images/mountains.jpg",
        "images/starry_night.jpg",
        ["--optimizer", "lbfgs", "--iterations", "100"],
        SIDE_BY_SIDE,
    ),
    (
        "cat-starry-night-quality",
        "images/cat.jpg",
        "images/starry_night.jpg",
        ["--preset", "quality"],
        RESULT,
    ),
]


def paint(
    name: str, content: str, style: str, options: list[str], shows: str, weights: Path
) -> str:
    """Run the command line for one picture, keep the picture it `shows` (SIDE_BY_SIDE or
    RESULT) as a JPEG, and return the README's Markdown for it."""
    shown = ["neural_art.py", content, style, "--network", "vgg16", *options]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / name
        command = [sys.executable, *shown, "--weights", str(weights), "--output-dir", str(out)]
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        with Image.open(out / shows) as picture:
            height = round(picture.height * WIDTH / picture.width)
            small = picture.convert("RGB").resize((WIDTH, height), Image.Resampling.LANCZOS)
    GALLERY.mkdir(parents=True, exist_ok=True)
    small.save(GALLERY / f"{name}.jpg", quality=QUALITY, optimize=True)
    return (
        f"![{name}](images/gallery/{name}.jpg)\n\n"
        f"`{shlex.join(shown)} --weights VGG16_FILE` ({seconds:.0f} s from start to exit)\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="make only the picture of this name")
    args = parser.parse_args()
    from real_vgg16 import h5_file

    weights = h5_file()
    print(f"{platform.processor() or platform.machine()}, weights {weights}\n")
    for name, *picture in PICTURES:
        if args.only in (None, name):
            print(paint(name, *picture, weights), flush=True)


if __name__ == "__main__":
    main()
