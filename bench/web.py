"""The live view's cost to the run: seconds per iteration with 3 pages connected against
none, in one run, alternating.

    .venv/bin/python bench/web.py                       # about 3 minutes at 400x300, idle
    .venv/bin/python bench/web.py --size 200x150 --phases 6 --phase-iterations 10

One run paints with the live view (nst/web) in this process, as --web does; the pages are
plain HTTP clients in a child process (as a browser would be): each reads the event stream
and fetches /image.png at every image event. The run's iterations alternate between phases
with no page and phases with 3, switched by a watcher of the run at the phase's first
iteration; the first iterations (the graph's building) are left out. The stand-in weights
(tests/matconvnet_files.py): the time does not depend on the values. Prints each phase's
median seconds per iteration (wall time, and the run process's CPU time, which another
process's load disturbs less), the medians of each kind of phase and their ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
PAGES = 3
WARM_UP = 3
"""Iterations left out at the start (the first builds the graph)."""


def pages(port: int) -> None:
    """The child: on a line "on" from stdin, PAGES pages connect; on "off" they go; at the
    end of stdin, it ends."""
    connections: list[http.client.HTTPConnection] = []

    def page(connection: http.client.HTTPConnection) -> None:
        with contextlib.suppress(OSError, http.client.HTTPException):
            connection.request("GET", "/events")
            stream = connection.getresponse()
            while line := stream.readline():
                if line.startswith(b"event: image"):
                    image = http.client.HTTPConnection("127.0.0.1", port)
                    image.request("GET", "/image.png")
                    image.getresponse().read()
                    image.close()

    for command in sys.stdin:
        if command.strip() == "on":
            for _ in range(PAGES):
                connection = http.client.HTTPConnection("127.0.0.1", port)
                connections.append(connection)
                threading.Thread(target=page, args=(connection,), daemon=True).start()
        else:
            for connection in connections:
                with contextlib.suppress(OSError, AttributeError):  # sock: None once closed
                    connection.sock.shutdown(socket.SHUT_RDWR)
                connection.close()
            connections.clear()
        print("ok", flush=True)


class Phases:
    """A watcher of the run: times each iteration, and switches the pages on for every second
    phase of `length` iterations after WARM_UP."""

    def __init__(self, child: subprocess.Popen, length: int) -> None:
        self.child, self.length = child, length
        self.times: list[float] = []
        self.cpu: list[float] = []  # the process's CPU seconds (TensorFlow's and the server's)
        self.on: list[bool] = []  # whether pages were connected during each iteration
        self.connected = False

    def start(self, run) -> None:
        self.times.append(time.perf_counter())
        self.cpu.append(time.process_time())

    def step(self, iterate) -> None:
        self.times.append(time.perf_counter())
        self.cpu.append(time.process_time())
        self.on.append(self.connected)
        after = iterate.done - WARM_UP
        if after >= 0 and after % self.length == 0:
            self.connected = (after // self.length) % 2 == 1
            self.child.stdin.write("on\n" if self.connected else "off\n")
            self.child.stdin.flush()
            self.child.stdout.readline()  # the pages have been told (they connect at once)
            self.times[-1] = time.perf_counter()  # the switch is not the run's time
            self.cpu[-1] = time.process_time()

    def end(self, end) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="400x300", help="WxH (default: 400x300)")
    parser.add_argument("--phases", type=int, default=6, help="phases, half with pages")
    parser.add_argument("--phase-iterations", type=int, default=15)
    parser.add_argument("--pages-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pages_child is not None:
        pages(args.pages_child)
        return

    from matconvnet_files import random_kernels, write_vgg_mat

    from nst.cli.main import parse_command
    from nst.run.image_job import run
    from nst.web.server import LiveServer
    from nst.web.state import LiveState

    width, height = args.size.split("x")
    iterations = WARM_UP + args.phases * args.phase_iterations
    with tempfile.TemporaryDirectory() as folder:
        weights = write_vgg_mat(Path(folder) / "vgg19.mat", random_kernels(0))
        job = parse_command([str(ROOT / "images/cat.jpg"), str(ROOT / "images/stone.jpg"),
                             "--weights", str(weights),
                             "--width", width, "--height", height, "--iterations",
                             str(iterations), "--save-every", "1000000", "--seed", "1",
                             "--output-dir", str(Path(folder) / "run")])  # fmt: skip
        state = LiveState()
        with LiveServer("127.0.0.1", 0, state, lambda: None) as server:
            server.start()
            child = subprocess.Popen(
                [sys.executable, __file__, "--pages-child", str(server.port)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            phases = Phases(child, args.phase_iterations)
            run(job, watchers=[state, phases])
            child.stdin.close()
            child.wait()
    wall = [b - a for a, b in zip(phases.times, phases.times[1:], strict=False)]
    cpu = [b - a for a, b in zip(phases.cpu, phases.cpu[1:], strict=False)]
    timed = list(zip(wall, cpu, phases.on, strict=True))[WARM_UP:]
    print(f"\n{args.size}, {iterations} iterations, phases of {args.phase_iterations} "
          "(median seconds per iteration: wall, and the process's CPU):")  # fmt: skip
    for k in range(args.phases):
        part = timed[k * args.phase_iterations : (k + 1) * args.phase_iterations]
        label = f"{PAGES} pages" if part[0][2] else "no page"
        print(f"  phase {k + 1} ({label}): {statistics.median(w for w, _, _ in part):.3f} s, "
              f"CPU {statistics.median(c for _, c, _ in part):.3f} s")  # fmt: skip
    for name, column in (("wall", 0), ("CPU", 1)):
        none = statistics.median(t[column] for t in timed if not t[2])
        with_pages = statistics.median(t[column] for t in timed if t[2])
        print(f"{name}: no page {none:.3f} s/it, {PAGES} pages {with_pages:.3f} s/it, "
              f"ratio {with_pages / none:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
