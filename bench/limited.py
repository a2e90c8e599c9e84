"""A run larger than memory allows, painted in tiles: the command line under a memory limit.

Run from the repository root, as root on Linux with the cgroup v1 or v2 memory
controller (it makes control groups of its own and removes them after):

    .venv/bin/python bench/limited.py [--limit-gib 3] [--size 1024]

The run is `neural_art.py images/cat.jpg images/starry_night.jpg --preset
quality --network vgg16 --weights <the trained VGG-16 of tests/real_vgg16.py>
--size N --seed 0`. It runs it three ways:

1. the whole image in a new control group whose memory limit is --limit-gib:
   bench/tiles.py's run (the same costs, at --size, one iteration) through the
   Python API, which does not ask nst.memory whether it fits;
2. the command line with no --tile in another such group: the program reads
   the group's limit (nst.memory.available_bytes), says the whole image does
   not fit, and paints it in the tiles it picks;
3. for reference, the command line on the whole image (--tile 16384) outside
   any group, with the machine's memory.

For each it prints how it ended, its seconds and the process's peak resident
memory (its ru_maxrss); for the command lines, their header and final costs, and
each last picture's edge ratio (bench/tiles.py: 1.00, no seam). It writes
bench/images/limited.jpg: the whole (left) and the tiled picture (right) above
close-ups of a point where tiles meet (bench/tiles.py's sheet).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
CGROUPS = Path("/sys/fs/cgroup")
GIB = 2**30


class MemoryGroup:
    """A new control group limited to `limit` bytes (v2 when the unified hierarchy has the
    memory controller, else v1), removed on exit; `name` tells it from the others."""

    def __init__(self, limit: int, name: str):
        controllers = CGROUPS / "cgroup.controllers"
        unified = controllers.exists() and "memory" in controllers.read_text().split()
        base, limit_file = (CGROUPS, "memory.max") if unified else (CGROUPS / "memory", None)
        self.path = base / f"nst-limited-{os.getpid()}-{name}"
        self.path.mkdir()
        if unified:
            (self.path / limit_file).write_text(str(limit))
        else:  # the swap limit too where there is one, as v2's memory.max without swap
            for file in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
                if (self.path / file).exists():
                    (self.path / file).write_text(str(limit))

    def __enter__(self) -> MemoryGroup:
        return self

    def __exit__(self, *exc) -> None:
        self.path.rmdir()

    def join(self) -> None:
        """Put the calling process into the group (run in a child before it executes)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))


def run(command: list[str], group: MemoryGroup | None = None) -> tuple[int, float, str, int]:
    """(return code, seconds, output, peak resident bytes) of `command`, in `group` if any.
    The peak is the child's own ru_maxrss (os.wait4), not the group's usage, which counts
    the page cache of every file read or written."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=group.join if group else None,
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    return child.returncode, time.perf_counter() - start, text, usage.ru_maxrss * 1024


def ended(code: int, seconds: float, peak: int) -> str:
    if code == -9:
        how = "killed (SIGKILL: the kernel's out-of-memory killer)"
    else:
        how = "completed" if code == 0 else f"failed (exit {code})"
    return f"{how} after {seconds:.0f} s, peak {peak / GIB:.2f} GiB"


def final_picture(folder: Path) -> np.ndarray:
    """The run's last picture, uint8 RGB, from its checkpoint (generated_image.jpg's JPEG
    blocks, 8 pixels wide, would count as edges on the 16-pixel grid)."""
    from nst.pixels import PIXEL_SPACES

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    with np.load(folder / "checkpoint.npz") as checkpoint:
        return PIXEL_SPACES[manifest["settings"]["pixels"]].to_rgb(checkpoint["image"])


def main() -> None:
    from real_vgg16 import h5_file

    from bench.tiles import edge_ratio, inner_corner, sheet

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit-gib", type=float, default=3.0, help="the groups' memory limit")
    parser.add_argument("--size", type=int, default=1024, help="longest side in pixels")
    args = parser.parse_args()
    weights = h5_file()
    limit = int(args.limit_gib * GIB)
    print(f"memory limit {args.limit_gib} GiB, {args.size} px, 2 cores, "
          f"load average {os.getloadavg()[0]:.2f} at the start")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        whole = [sys.executable, str(ROOT / "bench" / "tiles.py"), "--child", "cat.jpg",
                 str(args.size), "0", "1", "lbfgs", str(Path(tmp) / "whole.npy")]  # fmt: skip
        with MemoryGroup(limit, "whole") as group:
            code, seconds, _, peak = run(whole, group)
        print(f"  1. whole image, Python API, in the group: {ended(code, seconds, peak)}")
        program = [sys.executable, "neural_art.py", "images/cat.jpg", "images/starry_night.jpg",
                   "--preset", "quality", "--network", "vgg16", "--weights", str(weights),
                   "--size", str(args.size), "--seed", "0"]  # fmt: skip
        pictures, tiles = [], []
        for title, more, limited in (
            ("2. neural_art.py, no --tile, in the group", [], True),
            ("3. neural_art.py --tile 16384 (whole), no group", ["--tile", "16384"], False),
        ):
            folder = Path(tmp) / title[0]
            command = [*program, "--output-dir", str(folder), *more]
            if limited:
                with MemoryGroup(limit, "program") as group:
                    code, seconds, text, peak = run(command, group)
            else:
                code, seconds, text, peak = run(command)
            print(f"  {title}: {ended(code, seconds, peak)}")
            for line in text.splitlines():
                if line.startswith(("The whole", "Painting", "Final costs", "neural_art.py:")):
                    print(f"     | {line}")
            if code != 0:
                return
            pictures.append(final_picture(folder))
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            tiles.append(manifest["settings"]["tile"])
            print(f"     edge ratio {edge_ratio(pictures[-1]):.3f}")
    tiled, whole_picture = pictures
    difference = np.abs(tiled.astype(float) - whole_picture)
    print(f"  tiled against whole: mean difference {difference.mean():.2f} levels, "
          f"largest {difference.max():.0f}")  # fmt: skip
    target = ROOT / "bench" / "images" / "limited.jpg"
    height, width, _ = tiled.shape
    sheet(whole_picture, tiled, inner_corner(tiles[0], width, height), target)
    print(f"  wrote {target}")


if __name__ == "__main__":
    main()
