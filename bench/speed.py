"""How fast one Adam iteration is, against the machine's FLOP floor and a PyTorch peer.

Run from the repository root:

    .venv/bin/python bench/speed.py [--sizes 400x300,1024] [--iterations N] [--no-peer]
                                    [--no-options] [--clock-ghz GHZ] [--emulate-avx2]

It first prints this machine's float32 hardware peak (bench/cpu_peak.py: cores x
FMA units x lanes x 2 x clock, each part with its source) and the measured
float32 4096^2 matrix products of NumPy, TensorFlow and, when installed,
PyTorch, each as a share of that peak. For each size (WIDTHxHEIGHT, or one
number for the longest side with the content's aspect ratio) it prints, all
measured in this run: seconds per Adam iteration of `stylize` with the
assignment's settings, the FLOP one iteration needs (from the layer shapes), the
FLOP floor (FLOP / hardware peak) and the ratio to it, peak resident memory,
start-up time, and, when PyTorch is installed, the same loss in PyTorch eager as
a peer. A rate above the hardware peak is reported as a wrong peak estimate,
never as a share above 100%. See bench/README.md for what each figure means.

Ours runs with the CPU kernels the program chooses (nst/cpu_kernels.py). With
--emulate-avx2, an AVX-512 machine stands in for an AVX2-only one: every
library is capped at AVX2 (ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY,
MKL_ENABLE_INSTRUCTIONS, OPENBLAS_CORETYPE), ours gets the kernels chosen for an
AVX2 CPU, and the hardware peak counts 8 float32 lanes. The cores, caches and
clock stay this machine's, so it shows the kernels' and libraries' choices,
not another CPU's speed.

Every measurement runs in a fresh subprocess of this script (`--child ...`),
so each peak memory figure is that run's own and the libraries do not share
thread pools. The VGG-19 kernels are `tests/matconvnet_files.random_kernels`:
random values of the real shapes (timing does not depend on the values), so no
weights file is needed.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench import cpu_peak  # noqa: E402  (needs ROOT on the path)
from bench.children import run_script  # noqa: E402
from nst.cpu_kernels import AVX2_ONEDNN  # noqa: E402  (no TensorFlow)

CONTENT = ROOT / "images" / "cat.jpg"
STYLE = ROOT / "images" / "stone.jpg"
WARMUP = 2  # untimed iterations before the timed ones
MATMUL_N = 4096  # the measured square float32 matrix products
MATMUL_REPEATS = 5
REFERENCE_GFLOP = 174  # the figure for one iteration at 400x300
TARGET_FLOOR_RATIO = 1.2  # seconds per iteration / FLOP floor
TARGET_PEER_RATIO = 0.9  # ours / PyTorch peer
TARGET_MEMORY_GIB = 2.0  # at 400x300


# ---------------------------------------------------------------- measurements (children)


def max_rss_bytes() -> int:
    """This process's peak resident memory so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child_ours(size: str, iterations: int, options: dict | None = None) -> dict:
    """Time `stylize` with the assignment's settings at `size`: one Adam step per yield.

    options: Settings fields to change (the compute options compared in `compare_options`).
    """
    from nst.cpu_kernels import choose_cpu_kernels

    chosen = choose_cpu_kernels()  # as the program does, before TensorFlow loads
    t0 = time.perf_counter()
    import nst.transfer  # noqa: F401  (timed: TensorFlow and the package)

    import_seconds = time.perf_counter() - t0
    rss_after_import = max_rss_bytes()
    from matconvnet_files import random_kernels

    from nst.settings import MAX_ITERATIONS, Settings
    from nst.transfer import stylize

    if "x" in size:
        width, height = (int(v) for v in size.split("x"))
        dims = {"width": width, "height": height}
    else:
        dims = {"size": int(size)}
    # Steps 0 and the last evaluate the costs (an extra forward pass); 1..N+1 do not:
    # step 0 and 1 warm up, steps 2..N+1 are timed, the last is timed on its own.
    settings = Settings(
        content=CONTENT,
        styles=(STYLE,),
        iterations=WARMUP + iterations + 1,
        save_every=MAX_ITERATIONS,  # no save point after the first
        seed=0,
        **dims,
        **(options or {}),
    )
    kernels = random_kernels(0)
    stamps, steps = [], []
    start = time.perf_counter()
    for step in stylize(settings, kernels=kernels):
        stamps.append(time.perf_counter())
        steps.append(step)
    seconds = [b - a for a, b in zip([start] + stamps, stamps, strict=False)]
    timed = seconds[WARMUP : WARMUP + iterations]
    assert all(s.costs is None for s in steps[WARMUP : WARMUP + iterations])
    assert steps[0].costs is not None and steps[-1].costs is not None
    height, width = steps[0].image.shape[:2]
    return {
        "width": width,
        "height": height,
        "content_layer": settings.content_layer,
        "style_layers": [name for name, _ in settings.style_layers],
        "seconds": timed,
        "median": statistics.median(timed),
        "first_step": seconds[0],
        "with_costs": seconds[-1],
        "import_seconds": import_seconds,
        "rss_after_import": rss_after_import,
        "max_rss": max_rss_bytes(),
        "kernels": chosen,
        "J_initial": steps[0].J_before,  # J of the initial image: checks the peer's loss
        "J_last": steps[-1].costs["total"],
    }


def timed_median(product) -> tuple[float, list[float]]:
    """Median seconds of `product()` over MATMUL_REPEATS calls after WARMUP, and all timed."""
    seconds = []
    for i in range(WARMUP + MATMUL_REPEATS):
        t0 = time.perf_counter()
        product()
        if i >= WARMUP:
            seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds), seconds


def numpy_product() -> tuple[object, str]:
    """A MATMUL_N^2 float32 product in NumPy (its BLAS) and a label naming the BLAS."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((MATMUL_N, MATMUL_N), dtype=np.float32) for _ in range(2))
    out = np.empty_like(a)
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        label = f"NumPy {np.__version__} ({blas['name']} {blas.get('version', '')})"
    except (TypeError, KeyError):  # older NumPy: no mode="dicts"
        label = f"NumPy {np.__version__}"
    return (lambda: np.matmul(a, b, out=out)), label


def tensorflow_product() -> tuple[object, str]:
    """A MATMUL_N^2 float32 tf.linalg.matmul in a tf.function, and a label saying if oneDNN is on.

    oneDNN is TensorFlow's default on x86 Linux; TF_ENABLE_ONEDNN_OPTS=0 switches it off.
    """
    from nst.quiet import tensorflow_quietly

    with tensorflow_quietly():
        import tensorflow as tf

        rng = tf.random.Generator.from_seed(0)
        a = tf.Variable(rng.normal((MATMUL_N, MATMUL_N)))
        b = tf.Variable(rng.normal((MATMUL_N, MATMUL_N)))

        @tf.function
        def product():
            return tf.reduce_sum(tf.linalg.matmul(a, b))  # the sum is n^2 adds: negligible

        product().numpy()  # traced here, where TensorFlow's start-up lines are hidden
    try:
        from tensorflow.python.util import _pywrap_util_port

        built = _pywrap_util_port.IsMklEnabled()
    except (ImportError, AttributeError):
        built = None
    off = os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "0" or built is False
    onednn = "oneDNN off" if off else "oneDNN on" if built else "oneDNN unknown"
    return (lambda: product().numpy()), f"TensorFlow {tf.__version__} ({onednn})"


def torch_product() -> tuple[object, str]:
    """A MATMUL_N^2 float32 torch.matmul on every core, and a label."""
    import torch

    torch.set_num_threads(os.cpu_count())
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(MATMUL_N, MATMUL_N, generator=generator) for _ in range(2))
    out = torch.empty_like(a)
    return (lambda: torch.matmul(a, b, out=out)), f"PyTorch {torch.__version__}"


PRODUCTS = {"numpy": numpy_product, "tensorflow": tensorflow_product, "torch": torch_product}


def child_matmul(library: str) -> dict:
    """float32 FLOP/s of a MATMUL_N x MATMUL_N product in `library` (median after warm-up)."""
    product, label = PRODUCTS[library]()
    median, seconds = timed_median(product)
    return {"library": label, "n": MATMUL_N, "seconds": seconds, "flops": 2 * MATMUL_N**3 / median}


def child_peer(width: int, height: int, iterations: int) -> dict:
    """The same loss and Adam in PyTorch eager (bench/peer.py): median seconds per iteration
    after warm-up."""
    import torch
    from matconvnet_files import random_kernels

    from bench.peer import Peer, adam

    torch.set_num_threads(os.cpu_count())
    peer = Peer(random_kernels(0), CONTENT, STYLE, width, height)
    stamps, costs = [time.perf_counter()], []

    def on_cost(J: float) -> None:
        stamps.append(time.perf_counter())
        costs.append(J)

    adam(peer, on_cost, WARMUP + iterations + 1)  # a step's end is the next step's cost
    seconds = [b - a for a, b in zip(stamps[1:], stamps[2:], strict=False)]
    timed = seconds[WARMUP:]
    return {
        "seconds": timed,
        "median": statistics.median(timed),
        "J_initial": costs[0],
        "max_rss": max_rss_bytes(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }


# ---------------------------------------------------------------- FLOP count


def flop_count(width: int, height: int, content_layer: str, style_layers: list[str]) -> dict:
    """FLOP of one iteration from the layer shapes (a multiply-add is 2 FLOP).

    conv: forward through the deepest layer the costs use, 2 H W Cin Cout 9 per
    conv, and the same again for the gradient with respect to each conv's input
    (the first conv's too: the pixels are optimized; no kernel gradients).
    gram: 2 C^2 H W per style layer for G = A A^T, and the same again for its
    gradient dJ/dA = (4 / norm) (G - G_S) A. Pooling, ReLU and the costs' sums
    are left out (O(H W C) each, well under 1%).
    """
    from nst.layer_shapes import conv_shapes, deepest_layer  # no TensorFlow

    deepest = deepest_layer([content_layer, *style_layers])
    conv = gram = 0
    for name, h, w, c_in, c_out in conv_shapes(width, height, deepest):
        conv += 2 * h * w * c_in * c_out * 9
        if name in style_layers:
            gram += 2 * c_out * c_out * h * w
    return {
        "conv_forward": conv,
        "conv_backward": conv,
        "gram": 2 * gram,
        "total": 2 * conv + 2 * gram,
        "deepest": deepest,
    }


# ---------------------------------------------------------------- the report (parent)


EMULATED_AVX2 = {  # every library's own switch down to AVX2
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN, in TensorFlow and in PyTorch
    "ATEN_CPU_CAPABILITY": "avx2",  # PyTorch's own kernels
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",  # PyTorch's BLAS
    "OPENBLAS_CORETYPE": "Haswell",  # NumPy's BLAS
}
emulated: dict[str, str] = {}
"""EMULATED_AVX2 plus AVX2_ONEDNN with --emulate-avx2, else empty: every child's extra
environment."""


def run_child(*args: str, env: dict | None = None) -> dict:
    return run_script(__file__, "--child", *args, what=" ".join(args),
                      env={**emulated, **(env or {})})  # fmt: skip


def kernel_text(chosen: dict[str, str]) -> str:
    """What nst.cpu_kernels set, or TensorFlow's own choice."""
    if emulated:
        return "as for AVX2 (emulated)"
    return " ".join(f"{k}={v}" for k, v in chosen.items()) or "TensorFlow's own"


def memory(nbytes: int) -> str:
    mib = nbytes / 2**20
    return f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def default_iterations(size: str) -> int:
    """10 timed iterations at the assignment's size, 5 at larger ones."""
    if "x" in size:
        width, height = (int(v) for v in size.split("x"))
        pixels = width * height
    else:
        pixels = int(size) ** 2
    return 10 if pixels <= 200_000 else 5


def share_of_peak(flops: float, hardware_flops: float) -> str:
    """flops as a share of the hardware peak, or a loud mark where it is above it."""
    if flops > hardware_flops:
        return "ABOVE the hardware peak: the peak estimate is WRONG"
    return f"{flops / hardware_flops:.0%} of the hardware peak"


def floor_rows(flop: dict, s: float, hardware: cpu_peak.Peak, best: dict) -> list[tuple]:
    """Rows of the hardware peak, the best measured product, achieved and the FLOP floor.

    s: seconds per iteration; best: the fastest `child_matmul` result.
    """
    G, hw = 1e9, hardware.flops
    achieved = flop["total"] / s
    floor = flop["total"] / hw
    valid = achieved <= hw
    return [
        ("hardware peak", f"{hw / G:.1f} GFLOP/s", "float32: cores x FMA x lanes x 2 x clock"),
        ("best matmul", f"{best['flops'] / G:.1f} GFLOP/s", f"{best['library']}"),
        ("achieved", f"{achieved / G:.1f} GFLOP/s", share_of_peak(achieved, hw)),
        ("  of the best matmul", f"{achieved / best['flops']:.0%}", f"{best['n']}^2 float32"),
        ("FLOP floor", f"{floor:.3f} s", "FLOP / hardware peak"),
        (
            "s/it / floor",
            f"{s / floor:.2f}x" if valid else "not valid",
            f"target <= {TARGET_FLOOR_RATIO}x" if valid else "achieved > the hardware peak",
        ),
    ]


def floor_target(s: float, floor_seconds: float) -> str:
    """The FLOP-floor target's line: met, NOT met, or not judged when the peak is too low."""
    ratio = s / floor_seconds
    head = f"    s/it within {TARGET_FLOOR_RATIO}x of the FLOP floor:"
    if ratio < 1:
        return f"{head} NOT JUDGED: the iteration beat the hardware peak, which is too low"
    return f"{head} {ratio:.2f}x, {verdict(ratio <= TARGET_FLOOR_RATIO)}"


def peer_rows(ours: dict, peer: dict | None) -> list[tuple]:
    """Rows of the PyTorch peer against ours, or one saying it did not run."""
    if not peer:
        return [("PyTorch peer", "not run", "--no-peer, or torch not installed")]
    s = ours["median"]
    return [
        ("PyTorch peer", f"{peer['median']:.3f} s", f"torch {peer['torch']} eager"),
        ("  peer's peak memory", memory(peer["max_rss"]), ""),
        ("ours / peer", f"{s / peer['median']:.3f}x", f"target <= {TARGET_PEER_RATIO}x"),
        ("J at the start: ours, peer", f"{ours['J_initial']:.6g}", f"{peer['J_initial']:.6g}"),
    ]


def report(
    size: str, iterations: int, hardware: cpu_peak.Peak, best: dict, peer_wanted: bool
) -> list[str]:
    """The figures of one size: time, FLOP, floor (from the hardware peak), memory, peer."""
    ours = run_child("ours", size, str(iterations))
    width, height = ours["width"], ours["height"]
    flop = flop_count(width, height, ours["content_layer"], ours["style_layers"])
    peer = run_child("peer", f"{width}x{height}", str(iterations)) if peer_wanted else None

    s, G = ours["median"], 1e9
    startup = ours["first_step"] - s
    fastest, slowest = min(ours["seconds"]), max(ours["seconds"])
    rss_import = memory(ours["rss_after_import"])
    rows = [
        ("seconds per Adam iteration", f"{s:.3f} s", f"median of {iterations} after {WARMUP}"),
        ("  fastest-slowest timed", f"{fastest:.3f}-{slowest:.3f} s", ""),
        ("  an iteration with costs", f"{ours['with_costs']:.3f} s", "+ the cost forward pass"),
        ("FLOP per iteration", f"{flop['total'] / G:.1f} GFLOP", "convs + Gram matrices"),
        ("  conv forward", f"{flop['conv_forward'] / G:.1f} GFLOP", f"conv1_1..{flop['deepest']}"),
        ("  conv input gradient", f"{flop['conv_backward'] / G:.1f} GFLOP", "same as forward"),
        ("  Gram forward + gradient", f"{flop['gram'] / G:.1f} GFLOP", "included above"),
        *floor_rows(flop, s, hardware, best),
        ("peak memory", memory(ours["max_rss"]), f"{rss_import} after import"),
        ("start-up", f"{startup:.2f} s", f"first step {ours['first_step']:.2f} s - median"),
        ("import nst.transfer", f"{ours['import_seconds']:.2f} s", "not in start-up"),
        ("kernels chosen", kernel_text(ours["kernels"]), "nst/cpu_kernels.py"),
        *peer_rows(ours, peer),
    ]
    lines = [f"{width}x{height}"] + [f"  {a:<28} {b:>16}  {c}" for a, b, c in rows]
    if (width, height) == (400, 300):
        lines.append(
            f"  (the issue's reference is ~{REFERENCE_GFLOP} GFLOP: the convs alone are "
            f"{(flop['conv_forward'] + flop['conv_backward']) / G:.1f})"
        )
    lines += ["  targets:", floor_target(s, flop["total"] / hardware.flops)]
    if peer:
        ratio = s / peer["median"]
        lines.append(
            f"    <= {TARGET_PEER_RATIO}x the PyTorch peer: {ratio:.3f}x, "
            f"{verdict(ratio <= TARGET_PEER_RATIO)}"
        )
    if (width, height) == (400, 300):
        gib = ours["max_rss"] / 2**30
        lines.append(
            f"    peak memory <= {TARGET_MEMORY_GIB} GiB: {gib:.2f} GiB, "
            f"{verdict(gib <= TARGET_MEMORY_GIB)}"
        )
    return lines


def measure_products(hardware: cpu_peak.Peak) -> tuple[dict, list[str]]:
    """Each installed library's float32 MATMUL_N^2 product, each in its own subprocess;
    returns the fastest and the lines to print (with a loud warning above the peak)."""
    libraries = ["numpy", "tensorflow"]
    if importlib.util.find_spec("torch") is not None:
        libraries.append("torch")
    results = [run_child("matmul", library) for library in libraries]
    n = MATMUL_N
    lines = [f"float32 matrix products ({n}x{n}, median of {MATMUL_REPEATS} after {WARMUP}):"]
    for result in results:
        share = share_of_peak(result["flops"], hardware.flops)
        lines.append(f"  {result['library']:<44} {result['flops'] / 1e9:>7.1f} GFLOP/s  {share}")
    if "torch" not in libraries:
        lines.append("  PyTorch: not installed")
    best = max(results, key=lambda r: r["flops"])
    if best["flops"] > hardware.flops:
        per_ghz = hardware.flops / hardware.ghz
        lines += [
            "!!! A measured product is faster than the hardware peak: the peak estimate is WRONG.",
            f"!!! With {hardware.units.count} FMA units the clock would be at least "
            f"{best['flops'] / per_ghz:.2f} GHz, not {hardware.ghz:.2f} GHz "
            f"{hardware.clock_source}.",
            "!!! Give the real clock with --clock-ghz (bench/clock_probe.c measures it); "
            "ratios to the floor are not judged.",
        ]
    return best, lines


OPTIONS = [  # (label, Settings fields, environment) compared with the default
    ("--threads 1", {"threads": 1}, {}),
    ("--xla", {"xla": True}, {}),
    ("--precision bfloat16", {"precision": "bfloat16"}, {}),
    ("oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)", {}, {"TF_ENABLE_ONEDNN_OPTS": "0"}),
]


def compare_options(size: str, iterations: int) -> list[str]:
    """s/it, start-up and the last J of each compute option against the default, each measured
    in its own subprocess in this run."""
    default = run_child("ours", size, str(iterations))
    lines = [f"compute options at {size} (each against the default measured just before it)"]
    lines.append(f"  {'option':<38} {'s/it':>8} {'/ default':>10} {'start-up':>9} {'J after':>10}")
    for label, options, env in [("default", {}, {})] + OPTIONS:
        ours = (
            default
            if label == "default"
            else run_child("ours", size, str(iterations), json.dumps(options), env=env)
        )
        change = ours["J_last"] / default["J_last"] - 1
        lines.append(
            f"  {label:<38} {ours['median']:>7.3f}s {ours['median'] / default['median']:>9.2f}x "
            f"{ours['first_step'] - ours['median']:>8.1f}s {change:>+10.2%}"
        )
    lines.append(
        f"  (J after: the total cost after the {WARMUP + iterations + 1} steps, relative to the "
        "default's)"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="400x300,1024", help="WxH or longest side, by commas")
    parser.add_argument("--iterations", type=int, help="timed iterations (default 10, 5 > 0.2 MP)")
    parser.add_argument("--no-peer", action="store_true", help="skip the PyTorch peer")
    parser.add_argument(
        "--no-options", action="store_true", help="skip the comparison of the compute options"
    )
    parser.add_argument(
        "--clock-ghz",
        type=float,
        help="the clock in GHz for the hardware peak, where the system does not show the boost "
        "clock (bench/clock_probe.c measures it)",
    )
    parser.add_argument(
        "--emulate-avx2",
        action="store_true",
        help="cap every library at AVX2 to stand in for an AVX2-only CPU (see the docstring)",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "ours":
            result = child_ours(rest[0], int(rest[1]), json.loads(rest[2]) if rest[2:] else None)
        elif kind == "peer":
            width, height = (int(v) for v in rest[0].split("x"))
            result = child_peer(width, height, int(rest[1]))
        else:
            result = child_matmul(rest[0])
        print(json.dumps(result))
        return

    peer_wanted = not args.no_peer and importlib.util.find_spec("torch") is not None
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.2f} at the start", flush=True)
    if load >= 0.5:
        print("  (the machine is busy: the times below may be slower than on an idle one)")
    if not args.no_peer and not peer_wanted:
        print("PyTorch is not installed: the peer is skipped (pip install torch==2.13.0)")
    hardware = cpu_peak.read_peak(args.clock_ghz)
    if args.emulate_avx2:
        emulated.update({**EMULATED_AVX2, **AVX2_ONEDNN})
        hardware = dataclasses.replace(hardware, lanes=8, lanes_source="AVX2, --emulate-avx2")
        print("Emulating an AVX2-only CPU: " + " ".join(f"{k}={v}" for k, v in emulated.items()))
    print("\n".join(hardware.lines()), flush=True)
    best, lines = measure_products(hardware)
    print("\n".join(lines), flush=True)
    for size in args.sizes.split(","):
        iterations = args.iterations or default_iterations(size)
        print("\n".join(report(size, iterations, hardware, best, peer_wanted)), flush=True)
    if not args.no_options:
        size = args.sizes.split(",")[0]
        print("\n".join(compare_options(size, args.iterations or default_iterations(size))))


if __name__ == "__main__":
    main()
