"""The README's gallery: content, style and result of a few runs of the command line.

Run from the repository root:

    .venv/bin/python bench/gallery.py [--only NAME]

Each picture is made by `neural_art.py` itself, run as a user would run it (in
a subprocess, timed from start to exit), with the real ImageNet VGG-16 conv
base of tests/real_vgg16.py (`--network vgg16`): the published VGG-19 file
cannot be downloaded on the machine that made them. The run's
side_by_side.png (or, for the quality preset, its result alone) becomes
images/gallery/<name>.jpg; the clip's side_by_side.mp4 (the input beside the result)
becomes images/gallery/<name>.gif, an animated GIF at the clip's frame rate. The clip
is one of Debian's opencv-doc (apt-get install opencv-doc; images/README.md says which
and why). The script prints, for each picture, the Markdown the README shows: the
picture, the command, its time and the load average (of the last minute) before and
after the run. The runs go to a temporary folder; nothing else is kept.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

GALLERY = ROOT / "images" / "gallery"
WIDTH = 960
"""Width in pixels of a gallery picture (content | style | result)."""
QUALITY = 85
"""JPEG quality of a gallery picture."""

SIDE_BY_SIDE, RESULT, CLIP = "side_by_side.png", "generated_image.jpg", "side_by_side.mp4"
"""What a gallery picture shows: the run's content | style | result, the result alone, or
a clip's input | result (as an animated GIF)."""
GIF_WIDTH = 512
"""Width in pixels of the clip's GIF (input | result: each half 256 pixels wide)."""
OPENCV_DATA = "/usr/share/doc/opencv-doc/examples/data"

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
    (
        "tree-starry-night",
        f"{OPENCV_DATA}/tree.avi",
        "images/starry_night.jpg",
        ["--frames", "45:68", "--size", "256", "--optimizer", "lbfgs", "--iterations", "60"],
        CLIP,
    ),
]


def paint(
    name: str, content: str, style: str, options: list[str], shows: str, weights: Path
) -> str:
    """Run the command line for one picture, keep the picture it `shows` (SIDE_BY_SIDE or
    RESULT as a JPEG, CLIP as a GIF), and return the README's Markdown for it."""
    shown = ["neural_art.py", content, style, "--network", "vgg16", *options]
    GALLERY.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / name
        command = [sys.executable, *shown, "--weights", str(weights), "--output-dir", str(out)]
        load_before, started = os.getloadavg()[0], time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        seconds, load_after = time.perf_counter() - started, os.getloadavg()[0]
        if shows == CLIP:
            kept = GALLERY / f"{name}.gif"
            save_gif(out / shows, kept)
        else:
            kept = GALLERY / f"{name}.jpg"
            with Image.open(out / shows) as picture:
                height = round(picture.height * WIDTH / picture.width)
                small = picture.convert("RGB").resize((WIDTH, height), Image.Resampling.LANCZOS)
            small.save(kept, quality=QUALITY, optimize=True)
    return (
        f"![{name}](images/gallery/{kept.name})\n\n"
        f"`{shlex.join(shown)} --weights VGG16_FILE` ({seconds:.0f} s from start to exit, "
        f"load average {load_before:.1f} before and {load_after:.1f} after)\n"
    )


def save_gif(clip: Path, gif: Path) -> None:
    """Every frame of the video file `clip`, scaled (Lanczos) to GIF_WIDTH pixels wide, as
    an animated GIF looping at the clip's frame rate. One palette of 256 colours, taken
    from all the frames together, serves every frame (a palette per frame would make the
    colours flicker), without dithering (dithered noise changes from frame to frame); each
    frame's palette is then cut to the colours it uses (optimize: 1.5 MB in place of 2.0 MB
    for the gallery's clip, the same pixels). A GIF counts time in hundredths of a second:
    15 fps becomes 7 hundredths a frame (14.3 fps)."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate
        frames = [frame.to_image() for frame in container.decode(stream)]
    height = round(frames[0].height * GIF_WIDTH / frames[0].width)
    frames = [f.resize((GIF_WIDTH, height), Image.Resampling.LANCZOS) for f in frames]
    together = Image.new("RGB", (GIF_WIDTH, height * len(frames)))
    for k, frame in enumerate(frames):
        together.paste(frame, (0, k * height))
    palette = together.quantize(256, method=Image.Quantize.MEDIANCUT)
    dither = Image.Dither.NONE
    shown = [frame.quantize(palette=palette, dither=dither) for frame in frames]
    milliseconds = 10 * round(100 / rate)
    shown[0].save(gif, save_all=True, append_images=shown[1:], duration=milliseconds, loop=0,
                  optimize=True)  # fmt: skip


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
