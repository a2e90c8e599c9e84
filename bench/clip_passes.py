"""A clip painted in passes on Ray started on this machine: 2 workers against 1, and its
flicker against the clip painted in order and against each frame painted on its own.

Run from the repository root with the trained VGG-16 (tests/real_vgg16.py) and Debian's
opencv-doc clips (apt-get install opencv-doc):

    .venv/bin/python bench/clip_passes.py --weights "$(.venv/bin/python tests/real_vgg16.py)" \
        [--clip Megamind.avi] [--frames 1:6] [--size 192] [--iterations 60] [--passes 3]

It runs neural_art.py (default preset, --network vgg16, --seed 0) four times on the clip:
with --temporal-weight 0 (each frame on its own, the baseline), in order (--passes 1), and
in --passes passes on Ray with --workers 1 and with --workers 2 (on 2 cores: one worker with
2 threads per op, or two with 1 each). For each it prints the seconds from start to exit,
the warping error (bench/clip.py's: 0..255 levels over the consistent pixels of the later
frames) and its ratio to the baseline's; then the ratio of the two Ray runs' seconds (2
workers / 1 worker) and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clip import CLIPS, ROOT, warping_error


def paint(clip: Path, options: list[str], args: argparse.Namespace, out: Path) -> float:
    """Run neural_art.py on `clip` with `options`; its seconds from start to exit."""
    command = [sys.executable, str(ROOT / "neural_art.py"), str(clip), "images/starry_night.jpg",
               "--network", "vgg16", "--weights", args.weights, "--size", str(args.size),
               "--iterations", str(args.iterations), "--frames", args.frames, "--seed", "0",
               *options, "--output-dir", str(out)]  # fmt: skip
    clock = time.monotonic()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--clip", default="Megamind.avi")
    parser.add_argument("--frames", default="1:6")
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    first, last = (int(n) for n in args.frames.split(":"))
    clip = CLIPS / args.clip
    passes = ["--passes", str(args.passes)]
    runs = {
        "each frame on its own": ["--temporal-weight", "0"],
        "in order": [],
        f"{args.passes} passes, 1 Ray worker": [*passes, "--workers", "1"],
        f"{args.passes} passes, 2 Ray workers": [*passes, "--workers", "2"],
    }
    print(f"{args.clip} frames {args.frames}, --size {args.size}, --iterations {args.iterations}, "
          f"VGG-16; load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    seconds, base = {}, None
    for name, options in runs.items():
        with tempfile.TemporaryDirectory() as tmp:
            seconds[name] = paint(clip, options, args, Path(tmp) / "run")
            error = warping_error(clip, Path(tmp) / "run", first, last - first + 1)
        base = base or error
        print(f"{name}: {seconds[name]:.1f} s, warping error {error:.2f} ({error / base:.2f} of "
              f"each frame on its own)", flush=True)  # fmt: skip
    one, two = (seconds[name] for name in list(runs)[2:])
    print(f"2 Ray workers / 1: {two / one:.2f} of the time; load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
