"""A clip painted with the temporal cost, against each frame painted on its own: flicker, time.

Run from the repository root with the trained VGG-16 (tests/real_vgg16.py) and Debian's
opencv-doc clips (apt-get install opencv-doc):

    .venv/bin/python bench/clip.py --weights "$(.venv/bin/python tests/real_vgg16.py)" \
        [--clips Megamind.avi,vtest.avi] [--frames 1:8] [--size 256] [--iterations 60] \
        [--temporal-weights 0,100,1000,10000]

For each clip and each --temporal-weight W it runs neural_art.py (default preset, --network
vgg16, --seed 0; W = 0 paints every frame on its own, the baseline) and prints per run:

- the warping error: mean |S_t - warp(S_(t-1))| over the pixels whose flow between the
  content frames t and t - 1 is consistent (certainty 1, nst.video.certainty) and the 3
  channels, 0..255 levels, over all later frames together, and its ratio to the baseline's
  (target: at most 0.5);
- the later frames' content and style costs against the baseline's (each the mean over the
  later frames; target: within 1.5x);
- the seconds of the first frame, the mean of the later ones, and their ratio (target for
  the later frames, with the temporal cost: at most 0.4).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nst.images import read_rgb, resize  # noqa: E402  (needs ROOT on the path)
from nst.video.certainty import certainty  # noqa: E402
from nst.video.clip_files import open_clip  # noqa: E402
from nst.video.flow import flows_both_ways  # noqa: E402
from nst.video.warp import warp  # noqa: E402

CLIPS = Path("/usr/share/doc/opencv-doc/examples/data")


def paint(clip: Path, weight: float, args: argparse.Namespace, out: Path) -> dict:
    """Run neural_art.py on `clip` with --temporal-weight `weight`; its manifest."""
    command = [sys.executable, str(ROOT / "neural_art.py"), str(clip), "images/starry_night.jpg",
               "--network", "vgg16", "--weights", args.weights, "--size", str(args.size),
               "--iterations", str(args.iterations), "--frames", args.frames, "--seed", "0",
               "--temporal-weight", str(weight), "--output-dir", str(out)]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "manifest.json").read_text())


def warping_error(clip: Path, out: Path, first: int, count: int) -> float:
    """Mean |S_t - warp(S_(t-1))| over consistent pixels and channels, frames 2..count."""
    results = [read_rgb(out / "frames" / f"{n:05d}.png") for n in range(1, count + 1)]
    height, width = results[0].shape[:2]
    frames = open_clip(clip).frames(first - 1, first - 1 + count)
    contents = [resize(frame, width, height) for frame in frames]
    total = weight = 0.0
    for t in range(1, count):
        to_earlier, to_later = flows_both_ways(contents[t], contents[t - 1])
        c = certainty(to_earlier, to_later)
        carried = warp(results[t - 1].astype(np.float32), to_earlier)
        error = np.abs(results[t].astype(np.float32) - carried).mean(axis=2)
        total, weight = total + (error * c).sum(), weight + c.sum()
    return total / weight


def later_mean(manifest: dict, name: str) -> float:
    """The mean of cost `name` over the later frames."""
    return float(np.mean([f["costs"][name] for f in manifest["frames"][1:]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--clips", default="Megamind.avi,vtest.avi")
    parser.add_argument("--frames", default="1:8")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--temporal-weights", default="0,100,1000,10000")
    args = parser.parse_args()
    first, last = (int(n) for n in args.frames.split(":"))
    weights = [float(w) for w in args.temporal_weights.split(",")]
    print(f"frames {args.frames}, --size {args.size}, --iterations {args.iterations}, VGG-16")
    for name in args.clips.split(","):
        clip = CLIPS / name
        base = None
        for weight in weights:
            with tempfile.TemporaryDirectory() as tmp:
                manifest = paint(clip, weight, args, Path(tmp) / "run")
                error = warping_error(clip, Path(tmp) / "run", first, last - first + 1)
            seconds = [f["seconds"] for f in manifest["frames"]]
            row = {
                "error": error,
                "content": later_mean(manifest, "content"),
                "style": later_mean(manifest, "style"),
            }
            base = base or row
            later = float(np.mean(seconds[1:]))
            print(
                f"{name} W={weight:g}: warping error {error:.2f} ({error / base['error']:.2f} "
                f"of W=0), content {row['content'] / base['content']:.2f}x, style "
                f"{row['style'] / base['style']:.2f}x of W=0; first frame {seconds[0]:.1f} s, "
                f"later {later:.1f} s ({later / seconds[0]:.2f})",
                flush=True,
            )


if __name__ == "__main__":
    main()
