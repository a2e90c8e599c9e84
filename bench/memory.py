"""Peak memory against the estimate that refuses runs too large for the machine.

Run from the repository root:

    .venv/bin/python bench/memory.py [--sizes 200,400,800,1024,2048] [--iterations 3]
                                     [--tile PX] [--optimizer lbfgs]

For each longest side (the content's aspect ratio, 4:3 for images/cat.jpg) it
runs `stylize` with the assignment's settings for a few Adam iterations, with
the costs evaluated at every step, in a fresh subprocess, and prints the
subprocess's peak resident memory, `nst.memory.estimate_peak_bytes` for the
same run, and their ratio (the estimate should be at or a little above 1x),
plus the seconds per iteration and the start-up. The last default size, 2048,
shows that such a run completes on a 24 GiB machine. The VGG-19 kernels are
stand-ins with the real shapes (tests/matconvnet_files.random_kernels). With
--tile PX the runs are painted in tiles of PX pixels (nst.tiled_costs), and the
estimate is the tiled one. With --optimizer lbfgs, L-BFGS-B keeps the pixels
within 0..255 (--clip, as the quality preset), which costs it the most memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.children import run_script  # noqa: E402  (needs ROOT on the path)


def child(size: int, iterations: int, tile: int, optimizer: str) -> dict:
    """One run at longest side `size`: its peak memory, the estimate, s/it and start-up."""
    from matconvnet_files import random_kernels

    from nst.memory import available_bytes, estimate_peak_bytes
    from nst.settings import Settings
    from nst.transfer import stylize

    settings = Settings(
        content=ROOT / "images" / "cat.jpg",
        styles=(ROOT / "images" / "stone.jpg",),
        size=size,
        iterations=iterations,
        save_every=1,
        seed=0,
        tile=tile or None,
        optimizer=optimizer,
        clip=optimizer == "lbfgs",  # L-BFGS-B with bounds, as the quality preset runs it
    )
    available = available_bytes()
    start = time.perf_counter()
    stamps, steps = [], []
    for step in stylize(settings, kernels=random_kernels(0)):
        stamps.append(time.perf_counter())
        steps.append(step)
    height, width = steps[-1].image.shape[:2]
    seconds = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return {
        "width": width,
        "height": height,
        "max_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "estimate": estimate_peak_bytes(settings, (width, height)),
        "available": available,
        "seconds": statistics.median(seconds) if seconds else None,
        "startup": stamps[0] - start,
        "J_last": steps[-1].costs["total"],
    }


def run_child(size: int, iterations: int, tile: int, optimizer: str) -> dict:
    return run_script(__file__, "--child", str(size), str(iterations), str(tile), optimizer,
                      what=f"the run at {size}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,400,800,1024,2048", help="longest sides")
    parser.add_argument("--iterations", type=int, default=3, help="Adam iterations per run")
    parser.add_argument("--tile", type=int, default=0, help="tile side in pixels (0: none)")
    parser.add_argument("--optimizer", default="adam", help="adam or lbfgs")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        size, iterations, tile, optimizer = args.child
        print(json.dumps(child(int(size), int(iterations), int(tile), optimizer)))
        return
    gib = 2**30
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start")
    print(f"  {'size':>10} {'peak':>10} {'estimate':>10} {'est./peak':>10} {'s/it*':>8} "
          f"{'start-up':>9}  finished")  # fmt: skip
    for size in (int(s) for s in args.sizes.split(",")):
        r = run_child(size, args.iterations, args.tile, args.optimizer)
        seconds = f"{r['seconds']:.2f}s" if r["seconds"] is not None else "-"
        print(
            f"  {r['width']:>5}x{r['height']:<4} {r['max_rss'] / gib:>8.2f}G "
            f"{r['estimate'] / gib:>8.2f}G {r['estimate'] / r['max_rss']:>9.2f}x "
            f"{seconds:>8} {r['startup']:>8.1f}s  yes, J = {r['J_last']:.1f}",
            flush=True,
        )
    print("  (* with the costs evaluated after every step, so slower than bench/speed.py's s/it)")
    print(f"memory available at the start of the last run: {r['available'] / gib:.1f} GiB")


if __name__ == "__main__":
    main()
