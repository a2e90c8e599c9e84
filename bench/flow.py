"""Optical flow on real clips: DIS against Farneback (nst/video/flow.py), time and accuracy.

Run from the repository root (Debian's opencv-doc package holds the clips:
apt-get install opencv-doc):

    .venv/bin/python bench/flow.py [--pairs 60] [--clips Megamind.avi,vtest.avi,tree.avi]

For each clip of opencv-doc's examples data and each method of nst.video.flow.FLOW_METHODS, over
--pairs pairs of consecutive frames (t - 1, t) spread evenly over the clip (the frames t are
evenly spaced from 1 to the last), it computes both flows (t to t - 1,
which warps frame t - 1 into frame t, and t - 1 to t), their certainty c
(nst.video.certainty), and frame t - 1 warped into frame t (nst.video.warp). It prints per
clip and method:

- seconds per frame pair: the two flows' wall time (what each later frame of a clip costs);
- the warping error: mean |I_t - warp(I_(t-1))| over the pixels with c = 1 and the 3 channels,
  in 0..255 levels (how well the flow carries a frame to the next one where it is trusted),
  and the same over all pixels (which a method cannot lower by trusting fewer of them);
- the share of pixels with c = 1 (where the temporal cost holds the painting to the last).

The errors and the share are over all the pairs' pixels together; the time is the mean.

The row "no flow" is the same error with frame t - 1 as it is (all pixels certain): what the
flow improves on.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nst.video.certainty import certainty  # noqa: E402  (needs ROOT on the path)
from nst.video.clip_files import open_clip  # noqa: E402
from nst.video.flow import FLOW_METHODS, flows_both_ways  # noqa: E402
from nst.video.warp import warp  # noqa: E402

CLIPS = Path("/usr/share/doc/opencv-doc/examples/data")


def measure(earlier: np.ndarray, later: np.ndarray, method: str | None) -> np.ndarray:
    """[seconds for both flows, sum of c |I_t - warp(I_(t-1))|, sum of c, sum of the error,
    pixels] of one frame pair, the error the mean of the 3 channels' (method None: no flow,
    frame t - 1 as it is, all pixels certain)."""
    seconds, warped, c = 0.0, earlier, np.ones(later.shape[:2], np.float32)
    if method is not None:
        start = time.perf_counter()
        to_earlier, to_later = flows_both_ways(later, earlier, method)
        seconds = time.perf_counter() - start
        warped, c = warp(earlier, to_earlier), certainty(to_earlier, to_later)
    error = np.abs(later.astype(np.float32) - warped.astype(np.float32)).mean(axis=2)
    return np.array([seconds, (error * c).sum(), c.sum(), error.sum(), error.size], np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=60, help="frame pairs per clip")
    parser.add_argument("--clips", default="Megamind.avi,vtest.avi,tree.avi",
                        help="clips of opencv-doc's examples data, by name")  # fmt: skip
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores")
    print("| clip | size | pairs | method | s per pair | error, certain | error, all | certain |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    methods = (None, *FLOW_METHODS)
    for name in args.clips.split(","):
        path = CLIPS / name
        if not path.exists():
            sys.exit(f"{path} is missing: apt-get install opencv-doc")
        clip = open_clip(path)
        later_frames = set(np.linspace(1, clip.frame_count - 1, args.pairs).round().astype(int))
        results = {method: [] for method in methods}
        earlier = None
        for t, frame in enumerate(clip.frames()):
            if t in later_frames:
                for method in methods:
                    results[method].append(measure(earlier, frame, method))
            earlier = frame
        for method in methods:
            seconds, weighted, certain, total, pixels = np.sum(results[method], axis=0)
            each = f"{seconds / len(later_frames):.3f}" if method else "-"
            print(f"| {name} | {clip.width}x{clip.height} | {len(later_frames)} "
                  f"| {method or 'no flow'} | {each} | {weighted / certain:.2f} "
                  f"| {total / pixels:.2f} | {certain / pixels:.1%} |")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
