"""Quality at equal wall time: --preset quality against the assignment's settings and against
crowsonkb's defaults, on the real VGG-16.

Run from the repository root:

    .venv/bin/python bench/compare.py [--sizes 512 1024] [--images DIR]

For each output size (the longest side; images/cat.jpg painted in the style
of images/starry_night.jpg, seed 0):

1. --preset quality runs to its end; its wall time T is the budget.
2. --preset crowsonkb (this project's implementation of crowsonkb's
   style-transfer-pytorch defaults: from 128 px in steps of sqrt(2), 1000
   iterations at the first size and 500 at each later one) runs with every
   count scaled by one factor, chosen so that its predicted time is T. The
   prediction comes from a probe that times a few iterations at each size;
   when the run is more than 10% off T, the factor is corrected by its time
   and it runs again.
3. The assignment's settings (Adam 2.0 from 0.6 noise, its costs and
   layers) run at the same size until T has passed.

Each run is a fresh subprocess; times are from the start of stylize (weights
already read) to its last iterate. Each result, as saved (8-bit), is then
measured with one fixed yardstick, the assignment's network and costs
(average pooling): the content distance J_content at conv4_2, the style
distance J_style (Gram) at the five conv*_1 layers weighted 0.2, and the
Wasserstein-2 style distance at the same layers, equally weighted. All three
are computed here with NumPy from the layers' activations, not by the costs
the runs minimize. The pictures go to --images (default
bench/images/real_vgg16): one sheet per pair (quality against each other
setup) per size, as JPEG.
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

CONTENT, STYLE = ROOT / "images" / "cat.jpg", ROOT / "images" / "starry_night.jpg"
SEED = 0
YARDSTICK_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
PROBE_ITERATIONS = 5
"""Iterations timed at each size by the probe (the first one includes setting the size up)."""


def settings(preset: str, size: int, **changes):
    """The Settings of `preset` at longest side `size` on VGG-16, with `changes`."""
    from nst.settings import MAX_ITERATIONS, Settings

    return Settings.preset_settings(
        preset,
        content=CONTENT,
        styles=(STYLE,),
        network="vgg16",
        size=size,
        seed=SEED,
        save_every=MAX_ITERATIONS,  # no save point after the first
        **changes,
    )


def child(preset: str, size: int, changes: dict, budget: float | None, image_path: str) -> dict:
    """Run `preset` with `changes` until its end or until `budget` seconds have passed;
    save the last picture. Returns the time, the steps run and the time of each step."""
    from real_vgg16 import kernels

    from nst.images import Inputs, write_image
    from nst.transfer import stylize

    s = settings(
        preset, size, **{k: tuple(v) if k == "schedule" else v for k, v in changes.items()}
    )
    inputs = Inputs.read(s.content, s.styles, None)
    weights = kernels()
    start = time.perf_counter()
    times, step = [], None
    generator = stylize(s, kernels=weights, inputs=inputs)
    for step in generator:
        times.append((step.image.shape[:2], time.perf_counter() - start))
        if budget is not None and times[-1][1] >= budget:
            break
    generator.close()
    write_image(image_path, step.image)
    return {"seconds": times[-1][1], "steps": len(times), "times": times}


def run_child(preset: str, size: int, changes: dict, budget: float | None, image: Path) -> dict:
    return run_script(__file__, "--child", preset, str(size), json.dumps(changes),
                      json.dumps(budget), str(image), what=f"{preset} {changes}")  # fmt: skip


def equal_time_run(size: int, budget: float, image: Path) -> tuple[dict, tuple[int, ...]]:
    """--preset crowsonkb at `size` with its schedule's counts n_k scaled by one factor f so
    that it takes `budget` seconds: (the run, the counts run).

    f comes from a probe that times PROBE_ITERATIONS steps at each size k: its setup, t_k
    a step, and the cost evaluation after its last step; the predicted time is the fixed
    part plus f sum_k n_k t_k. When the run takes more than 10% more or less than
    `budget`, f is scaled by (budget - fixed) / (its time - fixed) and it runs again."""
    counts = crowsonkb_schedule(size)
    probe = run_child("crowsonkb", size, {"schedule": [PROBE_ITERATIONS] * len(counts)}, None,
                      image)  # fmt: skip
    ends = np.asarray([t for _, t in probe["times"]]).reshape(len(counts), PROBE_ITERATIONS)
    starts = np.concatenate([[0.0], ends[:-1, -1]])
    per_step = (ends[:, -2] - ends[:, 0]) / (PROBE_ITERATIONS - 2)  # the last also evaluates
    fixed = float(
        np.sum(ends[:, 0] - starts - per_step) + np.sum(ends[:, -1] - ends[:, -2] - per_step)
    )
    factor = (budget - fixed) / float(np.dot(counts, per_step))
    for _ in range(2):  # a second run when the first is more than 10% off
        scaled = tuple(max(1, round(factor * n)) for n in counts)
        run = run_child("crowsonkb", size, {"schedule": scaled}, None, image)
        if abs(run["seconds"] - budget) <= 0.1 * budget:
            break
        factor *= (budget - fixed) / max(run["seconds"] - fixed, 1e-3)
    return run, scaled


def crowsonkb_schedule(size: int) -> list[int]:
    """crowsonkb's iterations per size for longest side `size`: 1000 at the first size, 500 at
    each later one, the sizes being size / sqrt(2)^k down to 128 px."""
    from nst.settings import crowsonkb_levels

    return [1000] + [500] * (crowsonkb_levels(size) - 1)


def yardstick(image: np.ndarray, kernels: dict) -> dict:
    """The content and style distances of `image` (uint8 RGB) under the fixed yardstick."""
    from nst.images import read_rgb, resize
    from nst.level_costs import activations
    from nst.pixels import PIXEL_SPACES

    height, width = image.shape[:2]
    caffe = PIXEL_SPACES["caffe"]
    layers = ["conv4_2", *YARDSTICK_LAYERS]

    def features(rgb: np.ndarray) -> list[np.ndarray]:
        picture = caffe.to_network(resize(rgb, width, height)).astype(np.float32)
        found = activations(kernels, picture, layers, "avg")
        return [np.asarray(a, np.float64).reshape(-1, a.shape[-1]) for a in found]

    G, C, S = features(image), features(read_rgb(CONTENT)), features(read_rgb(STYLE))
    content = np.sum((C[0] - G[0]) ** 2) / (4 * G[0].size)
    gram = sum(0.2 * _gram_distance(s, g) for s, g in zip(S[1:], G[1:], strict=True))
    w2 = sum(0.2 * _w2_distance(s, g) for s, g in zip(S[1:], G[1:], strict=True))
    return {"content": float(content), "style_gram": float(gram), "style_w2": float(w2)}


def _gram_distance(s: np.ndarray, g: np.ndarray) -> float:
    """sum((S^T S - G^T G)^2) / (4 n_C^2 n^2): the assignment's layer style cost for n x n_C
    activations of the same number of positions n."""
    n, channels = g.shape
    return float(np.sum((s.T @ s - g.T @ g) ** 2) / (4 * channels**2 * n**2))


def _w2_distance(s: np.ndarray, g: np.ndarray) -> float:
    """The squared Wasserstein-2 distance between the Gaussians of the rows of s and g, per
    channel: (|mu_s - mu_g|^2 + tr(A) + tr(B) - 2 tr((A^1/2 B A^1/2)^1/2)) / n_C."""

    def root(m: np.ndarray) -> np.ndarray:
        values, vectors = np.linalg.eigh(m)
        return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T

    A, B = np.cov(s, rowvar=False, bias=True), np.cov(g, rowvar=False, bias=True)
    root_A = root(A)
    cross = np.trace(root(root_A @ B @ root_A))
    mean = np.sum((s.mean(axis=0) - g.mean(axis=0)) ** 2)
    return float((mean + np.trace(A) + np.trace(B) - 2 * cross) / s.shape[1])


def _listed(counts) -> str:
    return ",".join(map(str, counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--images", type=Path, default=ROOT / "bench" / "images" / "real_vgg16")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        preset, size, changes, budget, image = args.child
        print(json.dumps(child(preset, int(size), json.loads(changes), json.loads(budget), image)))
        return

    from real_vgg16 import kernels

    from nst.images import read_rgb
    from nst.run.visuals import contact_sheet

    args.images.mkdir(parents=True, exist_ok=True)
    weights = kernels()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; real VGG-16; "
          f"{CONTENT.name} in the style of {STYLE.name}, seed {SEED}")  # fmt: skip
    for size in args.sizes:
        picture = {name: args.images / f"compare_{size}_{name}.png"
                   for name in ("quality", "crowsonkb", "assignment")}  # fmt: skip
        quality = run_child("quality", size, {}, None, picture["quality"])
        budget = quality["seconds"]
        crowsonkb, counts = equal_time_run(size, budget, picture["crowsonkb"])
        assignment = run_child("assignment", size, {"iterations": 10**6}, budget,
                               picture["assignment"])  # fmt: skip
        runs = {
            "quality": (quality, "--preset quality"),
            "crowsonkb": (crowsonkb, f"--preset crowsonkb --schedule {_listed(counts)}"),
            "assignment": (assignment, "the assignment's settings, Adam until the budget"),
        }
        print(f"\n{size} px (longest side), budget {budget:.0f} s")
        print(f"  {'setup':<12} {'time':>7} {'steps':>6} {'content':>10} {'style Gram':>11} "
              f"{'style W2':>10}   how")  # fmt: skip
        for name, (run, how) in runs.items():
            d = yardstick(read_rgb(picture[name]), weights)
            figures = f"{d['content']:>10.4g} {d['style_gram']:>11.4g} {d['style_w2']:>10.4g}"
            print(f"  {name:<12} {run['seconds']:>6.0f}s {run['steps']:>6} {figures}   {how}",
                  flush=True)  # fmt: skip
        for other in ("assignment", "crowsonkb"):
            frames = [(f"{name} ({runs[name][0]['seconds']:.0f} s)", read_rgb(picture[name]))
                      for name in ("quality", other)]  # fmt: skip
            contact_sheet(args.images / f"quality_vs_{other}_{size}.jpg", frames, 2, 640)


if __name__ == "__main__":
    main()
