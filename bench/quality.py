"""Time to quality: how soon each schedule reaches the cost of the assignment's 200 Adam steps.

Run from the repository root:

    .venv/bin/python bench/quality.py [--images DIR] [--network real-vgg16] [--peer]

The reference is the assignment's run: Adam, learning rate 2.0, 200 iterations
at 400x300 on images/cat.jpg and images/stone.jpg, seed 0. Its wall time
(start-up included) and its final total cost J* are measured first; Adam's own
time to J* is that time. Each other schedule then runs until its total cost at
the output size is at most J* (or until its iteration limit), and the script
prints the wall time it took, also as a share of the reference's time. Costs
of coarse levels are not compared: they are costs of a smaller image.

With --peer (PyTorch installed), the PyTorch eager peer of bench/peer.py, the
same cost on the same network from the same initial image, runs its modes to
J* too, Adam and torch.optim.LBFGS with a strong-Wolfe line search, timed the
same way (from before the targets are computed), and the script prints our
fastest schedule's time over the peer's fastest.

Then the same reference run in bfloat16 shows how much reduced precision
changes the result: the pixel differences to the float32 result.

The pictures go to --images (default bench/images): each schedule's image at
the moment it reached J*, all of them next to the reference in
time_to_quality.png, and the bfloat16 comparison. Each run is a fresh
subprocess of this script. By default (--network stand-in) the VGG-19 kernels
are stand-ins with the real shapes (tests/matconvnet_files.random_kernels),
so the costs are those of that network, not of the real VGG-19; with
--network real-vgg16 the network is VGG-16 with the trained ImageNet conv base
of tests/real_vgg16.py, and the pictures go to bench/images/real_vgg16/ (the
two sheets as JPEG).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.children import run_script  # noqa: E402  (needs ROOT on the path)

REFERENCE = {"iterations": 200}
TARGET_SHARE = 0.2  # of the reference's wall time
LBFGS = {"optimizer": "lbfgs", "iterations": 100}
SCHEDULES = [  # (label, Settings fields) beyond the assignment's
    ("L-BFGS", LBFGS),
    (
        "Adam, coarse-to-fine 1 level x 100",
        {"coarse_levels": 1, "coarse_iterations": 100, "iterations": 400},
    ),  # fmt: skip
    ("L-BFGS, coarse-to-fine 1 level x 20", {**LBFGS, "coarse_levels": 1, "coarse_iterations": 20}),
    (
        "L-BFGS, coarse-to-fine 2 levels x 20",
        {**LBFGS, "coarse_levels": 2, "coarse_iterations": 20},
    ),
    ("L-BFGS, bfloat16 (J as computed in bfloat16)", {**LBFGS, "precision": "bfloat16"}),
]


NETWORKS = {  # --network: the Settings fields it sets, and where its kernels come from
    "stand-in": ({}, "matconvnet_files.random_kernels(0)"),
    "real-vgg16": ({"network": "vgg16"}, "real_vgg16.kernels()"),
}


def child(options: dict, target: float | None, image_path: str, network: str) -> dict:
    """Run stylize with the assignment's settings changed by `options`; stop once the total cost
    at the output size is <= target. Returns the times and costs; saves the last image."""
    from nst.images import write_image
    from nst.settings import MAX_ITERATIONS, Settings
    from nst.transfer import stylize

    settings = Settings(
        content=ROOT / "images" / "cat.jpg",
        styles=(ROOT / "images" / "stone.jpg",),
        seed=0,
        save_every=MAX_ITERATIONS,  # no save point after the first
        **NETWORKS[network][0],
        **options,
    )
    kernels = _kernels(network)
    full_size = (settings.height, settings.width, 3)
    start = time.perf_counter()
    reached = None
    step = None
    trace = []
    generator = stylize(settings, kernels=kernels)
    for step in generator:
        now = time.perf_counter() - start
        at_full_size = step.image.shape == full_size
        trace.append((step.i, round(now, 2), step.J_before, at_full_size))
        # J_before is the cost of the image before step i; for the first step at the full size
        # that is the upsampled coarse result, also a full-size image.
        if target is not None and at_full_size and step.J_before <= target:
            reached = {"seconds": now, "i": step.i, "J": step.J_before}
            break
    generator.close()
    seconds = time.perf_counter() - start
    write_image(image_path, step.image)
    last = step.costs["total"] if step.costs else None
    return {"seconds": seconds, "reached": reached, "J_last": last, "trace": trace[::10]}


PEER_MODES = [("PyTorch peer: Adam", "adam"), ("PyTorch peer: L-BFGS, strong Wolfe", "lbfgs")]
PEER_LIMIT = 1000  # Adam steps or L-BFGS cost evaluations


def child_peer(mode: str, target: float, network: str) -> dict:
    """Seconds until the peer's cost is <= target in `mode` (bench/peer.py), from before its
    targets are computed, or None when PEER_LIMIT is reached first."""
    import torch

    from bench.peer import Peer, Reached, adam, lbfgs

    torch.set_num_threads(os.cpu_count())
    kernels = _kernels(network)
    start = time.perf_counter()
    peer = Peer(kernels, ROOT / "images" / "cat.jpg", ROOT / "images" / "stone.jpg", 400, 300)
    costs = []

    def on_cost(cost: float) -> None:
        costs.append(cost)
        if cost <= target:
            raise Reached

    {"adam": adam, "lbfgs": lbfgs}[mode](peer, on_cost, PEER_LIMIT)
    seconds = time.perf_counter() - start
    reached = costs[-1] <= target
    return {"seconds": seconds if reached else None, "evaluations": len(costs), "J": costs[-1]}


def _kernels(network: str) -> dict:
    """The kernels of --network `network`."""
    if network == "real-vgg16":
        from real_vgg16 import kernels

        return kernels()
    from matconvnet_files import random_kernels

    return random_kernels(0)


def run_child(options: dict, target: float | None, image_path: Path, network: str) -> dict:
    return _run("--child", json.dumps(options), json.dumps(target), str(image_path), network)


def _run(*args: str) -> dict:
    """This script with `args` in a fresh subprocess: the JSON it prints last."""
    return run_script(__file__, *args)


def peer_lines(target: float, budget: float, ours: tuple[str, float] | None, network: str):
    """The peer's modes to J*, and our fastest schedule against the peer's fastest."""
    lines, fastest = [], None
    for label, mode in PEER_MODES:
        result = _run("--child-peer", mode, json.dumps(target), network)
        if result["seconds"] is None:
            lines.append(f"  {label:<46} {'not reached':>10} (J {result['J']:.1f} after "
                         f"{result['evaluations']} evaluations)")  # fmt: skip
            continue
        share = result["seconds"] / budget
        lines.append(f"  {label:<46} {result['seconds']:>9.1f}s {share:>10.0%} "
                     f"{result['evaluations']:>13}")  # fmt: skip
        if fastest is None or result["seconds"] < fastest[1]:
            fastest = (label, result["seconds"])
    if fastest and ours:
        seconds = ours[1] * budget
        lines.append(f"ours ({ours[0]}, {seconds:.1f} s) / the peer's fastest ({fastest[0]}, "
                     f"{fastest[1]:.1f} s): {seconds / fastest[1]:.2f}x")  # fmt: skip
    return lines


def pixel_difference(a: np.ndarray, b: np.ndarray) -> dict:
    """Mean and largest absolute difference (0..255 levels), share of pixels off by more than
    8 levels in any channel, and PSNR in dB."""
    d = np.abs(a.astype(float) - b.astype(float))
    mse = float(np.mean(d**2))
    return {
        "mean": float(d.mean()),
        "max": float(d.max()),
        "over_8": float(np.mean(d.max(axis=-1) > 8)),
        "psnr": 10 * np.log10(255**2 / mse) if mse else float("inf"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, help="where the pictures go")
    parser.add_argument("--network", choices=tuple(NETWORKS), default="stand-in")
    parser.add_argument("--peer", action="store_true", help="also time the PyTorch peer")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--child-peer", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_peer:
        mode, target, network = args.child_peer
        print(json.dumps(child_peer(mode, json.loads(target), network)))
        return
    if args.child:
        options, target, image_path, network = args.child
        print(json.dumps(child(json.loads(options), json.loads(target), image_path, network)))
        return
    folder, sheet = {"stand-in": ("images", ".png"), "real-vgg16": ("images/real_vgg16", ".jpg")}[
        args.network
    ]  # the real network's sheets are JPEG photographs, kept small in the repository
    args.images = args.images or ROOT / "bench" / folder
    network = args.network

    from nst.images import read_rgb
    from nst.run.visuals import contact_sheet

    args.images.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start, "
          f"network {network}: {NETWORKS[network][1]}")  # fmt: skip
    reference_image = args.images / "adam_200.png"
    reference = run_child(REFERENCE, None, reference_image, network)
    target, budget = reference["J_last"], reference["seconds"]
    print(f"reference: Adam, 200 iterations: {budget:.1f} s, J* = {target:.1f}", flush=True)
    print(f"  {'schedule':<46} {'time to J*':>10} {'/ Adam-200':>11} {'at iteration':>13}")
    best = None
    pictures = [("Adam, 200 iterations (reference)", read_rgb(reference_image))]
    for label, options in SCHEDULES:
        name = label.split(" (")[0].lower().replace(",", "").replace(" ", "_").replace("-", "_")
        result = run_child(options, target, args.images / f"{name}.png", network)
        reached = result["reached"]
        if reached is None:
            print(f"  {label:<46} {'not reached':>10}", flush=True)
            continue
        share = reached["seconds"] / budget
        print(f"  {label:<46} {reached['seconds']:>9.1f}s {share:>10.0%} {reached['i']:>13}",
              flush=True)  # fmt: skip
        pictures.append(
            (f"{label.split(' (')[0]}: {share:.0%}", read_rgb(args.images / f"{name}.png"))
        )
        if best is None or share < best[1]:
            best = (label, share)
    if best is not None:
        label, share = best
        verdict = "met" if share <= TARGET_SHARE else "NOT met"
        print(f"fastest: {label}, {share:.0%} of Adam-200's time (target <= {TARGET_SHARE:.0%}: "
              f"{verdict})")  # fmt: skip
    contact_sheet(args.images / f"time_to_quality{sheet}", pictures, columns=3, max_tile=400)
    if args.peer:
        print("\n".join(peer_lines(target, budget, best, network)), flush=True)

    bfloat16_image = args.images / "adam_200_bfloat16.png"
    bfloat16 = run_child({**REFERENCE, "precision": "bfloat16"}, None, bfloat16_image, network)
    difference = pixel_difference(read_rgb(reference_image), read_rgb(bfloat16_image))
    print(
        f"bfloat16, Adam 200 iterations: {bfloat16['seconds']:.1f} s "
        f"({bfloat16['seconds'] / budget:.2f}x float32's), J = {bfloat16['J_last']:.1f} "
        f"({bfloat16['J_last'] / target - 1:+.2%}, as computed in bfloat16)\n"
        f"  against float32: mean |difference| {difference['mean']:.2f} levels, largest "
        f"{difference['max']:.0f}, {difference['over_8']:.1%} of pixels off by more than 8, "
        f"PSNR {difference['psnr']:.1f} dB"
    )
    float32, reduced = read_rgb(reference_image), read_rgb(bfloat16_image)
    amplified = np.clip(np.abs(float32.astype(int) - reduced.astype(int)) * 8, 0, 255)
    pictures = [("float32", float32), ("bfloat16", reduced),
                ("|difference| x 8", amplified.astype(np.uint8))]  # fmt: skip
    contact_sheet(args.images / f"float32_vs_bfloat16{sheet}", pictures, max_tile=400)


if __name__ == "__main__":
    main()
