"""A run in tiles against the same run on the whole image, on the trained VGG-16.

Run from the repository root:

    .venv/bin/python bench/tiles.py [--size 768] [--tile 256] [--iterations 60]
                                    [--optimizer lbfgs]

It paints images/cat.jpg in the style of images/starry_night.jpg with the
quality preset's costs (crowsonkb's Wasserstein-2 style cost, max pooling, from
the content) at one size, with --seed 0, twice, each in a fresh subprocess:
on the whole image and in tiles of --tile pixels. It prints each run's final
costs, seconds per iteration and peak resident memory; the tiled picture's
difference from the whole one (mean and largest, in 0..255 levels); and for
each picture how much larger the differences between neighbouring pixels are
across the lines where tile borders can lie (every 16th row and column) than
across the others (1.00: no seam). It writes bench/images/tiles.jpg: the two
pictures side by side (whole left, tiled right) above close-ups, 3x enlarged,
of the same 96-pixel square around a tile corner in each. The network is the
trained VGG-16 of tests/real_vgg16.py (see README, "Gallery").
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.children import run_script  # noqa: E402  (needs ROOT on the path)

PICTURES = ROOT / "bench" / "images"


def child(size: int, tile: int, iterations: int, optimizer: str, picture: str) -> dict:
    """One run; its final costs, s/it, peak memory, and its picture saved to `picture`."""
    from real_vgg16 import kernels

    from nst.settings import Settings
    from nst.transfer import stylize

    settings = Settings.preset_settings(
        "quality",
        content=ROOT / "images" / "cat.jpg",
        styles=(ROOT / "images" / "starry_night.jpg",),
        network="vgg16",
        size=size,
        schedule=None,
        iterations=iterations,
        optimizer=optimizer,
        save_every=iterations,
        seed=0,
        tile=tile or None,
    )
    stamps, last = [], None
    for step in stylize(settings, kernels=kernels()):
        stamps.append(time.perf_counter())
        last = step
    np.save(picture, last.image)
    return {
        "costs": last.costs,
        "iterations": last.i + 1,
        "seconds": (stamps[-1] - stamps[0]) / max(1, len(stamps) - 1),
        "max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def run_child(args: argparse.Namespace, tile: int, picture: Path) -> dict:
    return run_script(__file__, "--child", str(args.size), str(tile), str(args.iterations),
                      args.optimizer, str(picture), what=f"the run with tile {tile}")  # fmt: skip


def edge_ratio(image: np.ndarray) -> float:
    """The larger, over rows and columns, of: the mean difference between neighbours across
    every 16th line (where tile borders can lie) / across the other lines."""
    pixels = image.astype(np.float64)
    ratios = []
    for axis in (0, 1):
        steps = np.abs(np.diff(pixels, axis=axis)).mean(axis=(1 - axis, 2))
        on_grid = np.arange(1, len(steps) + 1) % 16 == 0
        ratios.append(steps[on_grid].mean() / steps[~on_grid].mean())
    return max(ratios)


def sheet(whole: np.ndarray, tiled: np.ndarray, tile: int, path: Path) -> None:
    """The two pictures side by side, above 3x close-ups of a 96-pixel square centred on the
    corner (tile, tile) of the unshifted grid, in each."""
    height, width, _ = whole.shape
    x, y = min(tile, width - 48), min(tile, height - 48)
    crops = [Image.fromarray(p[y - 48 : y + 48, x - 48 : x + 48]).resize((288, 288), 0)
             for p in (whole, tiled)]  # fmt: skip
    gap = 8
    canvas = Image.new("RGB", (2 * width + gap, height + gap + 288), "white")
    canvas.paste(Image.fromarray(whole), (0, 0))
    canvas.paste(Image.fromarray(tiled), (width + gap, 0))
    canvas.paste(crops[0], (0, height + gap))
    canvas.paste(crops[1], (width + gap, height + gap))
    canvas.save(path, quality=85)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=768, help="longest side in pixels")
    parser.add_argument("--tile", type=int, default=256, help="tile side in pixels")
    parser.add_argument("--iterations", type=int, default=60, help="optimizer iterations")
    parser.add_argument("--optimizer", default="lbfgs", help="adam or lbfgs")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        size, tile, iterations, optimizer, picture = args.child
        print(json.dumps(child(int(size), int(tile), int(iterations), optimizer, picture)))
        return
    gib = 2**30
    results, pictures = {}, {}
    for name, tile in (("whole", 0), (f"tiles of {args.tile}", args.tile)):
        path = PICTURES / f"tiles-{name.split()[0]}.npy"
        results[name] = run_child(args, tile, path)
        pictures[name] = np.load(path)
        path.unlink()
    print(f"{args.size} px, {args.optimizer}, {args.iterations} iterations, seed 0, VGG-16")
    for name, r in results.items():
        costs = ", ".join(f"{k} {v:.6g}" for k, v in r["costs"].items())
        print(f"  {name:>14}: {costs}; {r['seconds']:.2f} s/it; peak {r['max_rss'] / gib:.2f} GiB;"
              f" edge ratio {edge_ratio(pictures[name]):.3f}")  # fmt: skip
    whole, tiled = pictures.values()
    (a, b) = (r["costs"]["total"] for r in results.values())
    difference = np.abs(tiled.astype(float) - whole)
    print(f"  tiled / whole total cost: {b / a:.4f}; picture difference: mean "
          f"{difference.mean():.2f}, largest {difference.max():.0f} levels")  # fmt: skip
    sheet(whole, tiled, args.tile, PICTURES / "tiles.jpg")
    print(f"  wrote {PICTURES / 'tiles.jpg'}")


if __name__ == "__main__":
    main()
