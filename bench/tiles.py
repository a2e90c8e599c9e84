"""A run in tiles against the same run on the whole image, on the trained VGG-16.

Run from the repository root:

    .venv/bin/python bench/tiles.py [--size 768] [--tile 256] [--iterations 60]
                                    [--optimizer lbfgs] [--content cat.jpg]

It paints images/cat.jpg (or --content, from images/) in the style of
images/starry_night.jpg with the quality preset's costs (crowsonkb's
Wasserstein-2 style cost, max pooling, from the content) at one size, with
--seed 0, twice, each in a fresh subprocess whose CPU kernels are chosen as the
program chooses them (nst.cpu_kernels): on the whole image and in tiles of
--tile pixels. It prints each run's final costs, the seconds of its first
iteration (from the call of stylize: the targets, the graph and the first
step) and of the later ones (their median), its evaluations of the cost and
gradient in the first iteration and per later one (L-BFGS-B's line search
takes several in its first), its peak resident memory; the two ratios of
issue 25's targets: the tiled run's first iteration over its later ones, and
its later iterations over the whole run's (the same size, so per pixel), in
seconds and in the process's CPU seconds (steadier on a machine shared with
other work, where the seconds grow with the load); the
tiled picture's difference from the whole one (mean and largest, in 0..255
levels); and for each picture how much larger the differences between
neighbouring pixels are across the lines where tile borders can lie (every
16th row and column) than across the others (1.00: no seam). It writes
bench/images/tiles.jpg: the two pictures side by side (whole left, tiled
right) above close-ups, 3x enlarged, of the same 96-pixel square around a
point where the cores' borders meet (in the middle of their ranges) in each.
The network is the trained VGG-16 of tests/real_vgg16.py (see README,
"Gallery").
"""

from __future__ import annotations

import argparse
import json
import os
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


def child(content: str, size: int, tile: int, iterations: int, optimizer: str,
          picture: str) -> dict:  # fmt: skip
    """One run; its final costs, seconds and evaluations of the first and later iterations,
    peak memory, and its picture saved to `picture`."""
    from nst.cpu_kernels import choose_cpu_kernels

    chosen = choose_cpu_kernels()  # as the program does, before TensorFlow loads
    from real_vgg16 import kernels

    import nst.lbfgsb
    from nst.settings import Settings
    from nst.transfer import stylize

    evaluations = [0]
    minimize = nst.lbfgsb.minimize  # SciPy's, which L-BFGS-B runs through

    def counted_minimize(fun, *args, **options):
        def counted(z):
            evaluations[0] += 1
            return fun(z)

        return minimize(counted, *args, **options)

    nst.lbfgsb.minimize = counted_minimize
    settings = Settings.preset_settings(
        "quality",
        content=ROOT / "images" / content,
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
    weights = kernels()
    stamps, counts, last = [(time.perf_counter(), time.process_time())], [], None
    for step in stylize(settings, kernels=weights):
        stamps.append((time.perf_counter(), time.process_time()))
        counts.append(evaluations[0] if optimizer == "lbfgs" else step.i + 1)
        last = step
    np.save(picture, last.image)
    seconds, cpu = np.diff(stamps, axis=0).T
    per_iteration = np.diff([0, *counts])
    return {
        "costs": last.costs,
        "iterations": last.i + 1,
        "first": seconds[0],
        "later": float(np.median(seconds[1:])),
        "first_cpu": cpu[0],
        "later_cpu": float(np.median(cpu[1:])),
        "first_evaluations": int(per_iteration[0]),
        "later_evaluations": float(np.mean(per_iteration[1:])),
        "max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "kernels": chosen,
    }


def run_child(args: argparse.Namespace, tile: int, picture: Path) -> dict:
    return run_script(__file__, "--child", args.content, str(args.size), str(tile),
                      str(args.iterations), args.optimizer, str(picture),
                      what=f"the run with tile {tile}")  # fmt: skip


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


def sheet(whole: np.ndarray, tiled: np.ndarray, corner: tuple[int, int], path: Path) -> None:
    """The two pictures side by side, above 3x close-ups of a 96-pixel square centred on
    `corner` (x, y), in each."""
    height, width, _ = whole.shape
    x, y = (min(max(c, 48), side - 48) for c, side in zip(corner, (width, height), strict=True))
    crops = [Image.fromarray(p[y - 48 : y + 48, x - 48 : x + 48]).resize((288, 288), 0)
             for p in (whole, tiled)]  # fmt: skip
    gap = 8
    canvas = Image.new("RGB", (2 * width + gap, height + gap + 288), "white")
    canvas.paste(Image.fromarray(whole), (0, 0))
    canvas.paste(Image.fromarray(tiled), (width + gap, 0))
    canvas.paste(crops[0], (0, height + gap))
    canvas.paste(crops[1], (width + gap, height + gap))
    canvas.save(path, quality=85)


def inner_corner(tile: int, width: int, height: int) -> tuple[int, int]:
    """Where four cores meet (or two, for a single row or column), in the middle of their
    borders' ranges (nst.tile_grid.Tiling.tiles without draws)."""
    from nst.tile_grid import Tiling

    tiles = Tiling(tile, (width, height)).tiles(width, height)
    xs = sorted({t.columns.start for t in tiles})
    ys = sorted({t.rows.start for t in tiles})
    return xs[min(1, len(xs) - 1)], ys[min(1, len(ys) - 1)]


def per_evaluation(result: dict, first: str, later: str) -> float:
    """The first iteration's time per evaluation of the cost and gradient over a later
    iteration's (L-BFGS-B's first iteration evaluates them about three times, whole or
    tiled: the start, then its line search)."""
    return (result[first] / result["first_evaluations"]) / (
        result[later] / result["later_evaluations"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=768, help="longest side in pixels")
    parser.add_argument("--tile", type=int, default=256, help="tile side in pixels")
    parser.add_argument("--iterations", type=int, default=60, help="optimizer iterations")
    parser.add_argument("--optimizer", default="lbfgs", help="adam or lbfgs")
    parser.add_argument("--content", default="cat.jpg", help="the content, in images/")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        content, size, tile, iterations, optimizer, picture = args.child
        print(json.dumps(child(content, int(size), int(tile), int(iterations), optimizer, picture)))
        return
    gib = 2**30
    print(f"load average {os.getloadavg()[0]:.2f} at the start")
    results, pictures = {}, {}
    for name, tile in (("whole", 0), (f"tiles of {args.tile}", args.tile)):
        path = PICTURES / f"tiles-{name.split()[0]}.npy"
        results[name] = run_child(args, tile, path)
        pictures[name] = np.load(path)
        path.unlink()
    whole, tiled = pictures.values()
    height, width, _ = whole.shape
    print(f"{args.content} {width}x{height}, {args.optimizer}, {args.iterations} iterations, "
          f"seed 0, VGG-16, kernels {results['whole']['kernels'] or 'TensorFlow default'}, "
          f"load average {os.getloadavg()[0]:.2f} at the end")  # fmt: skip
    for name, r in results.items():
        costs = ", ".join(f"{k} {v:.6g}" for k, v in r["costs"].items())
        print(f"  {name:>14}: {costs}; peak {r['max_rss'] / gib:.2f} GiB; "
              f"edge ratio {edge_ratio(pictures[name]):.3f}")  # fmt: skip
        print(f"  {'':>14}  first iteration {r['first']:.1f} s ({r['first_cpu']:.1f} CPU s, "
              f"{r['first_evaluations']} evaluations), later {r['later']:.2f} s/it "
              f"({r['later_cpu']:.2f} CPU s, {r['later_evaluations']:.2f} "
              "evaluations/it)")  # fmt: skip
    r, w = results[f"tiles of {args.tile}"], results["whole"]
    ratios = (("seconds", "first", "later"), ("CPU seconds", "first_cpu", "later_cpu"))
    for kind, first, later in ratios:
        print(f"  in {kind}: tiled first iteration / later {r[first] / r[later]:.2f} (whole: "
              f"{w[first] / w[later]:.2f}), per evaluation {per_evaluation(r, first, later):.2f} "
              f"(whole: {per_evaluation(w, first, later):.2f}); tiled later / whole later, per "
              f"pixel {r[later] / w[later]:.2f}")  # fmt: skip
    (a, b) = (r["costs"]["total"] for r in results.values())
    difference = np.abs(tiled.astype(float) - whole)
    print(f"  tiled / whole total cost: {b / a:.4f}; picture difference: mean "
          f"{difference.mean():.2f}, largest {difference.max():.0f} levels")  # fmt: skip
    sheet(whole, tiled, inner_corner(args.tile, width, height), PICTURES / "tiles.jpg")
    print(f"  wrote {PICTURES / 'tiles.jpg'}")


if __name__ == "__main__":
    main()
