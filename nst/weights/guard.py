"""Reading a weights file that may be damaged, without letting it crash the program.

scipy's .mat reader and h5py are C code that trust the file they read: some
damaged files make them crash the whole process (a segmentation fault, which
no `except` catches; SciPy's documentation says `loadmat` is not meant for
untrusted input). So `read_weights`

* reads a file whose checksum is a published one (nst.weights.sources.PUBLISHED)
  in this process: its bytes are known to be good;
* reads any other file in a child process, `python -m nst.weights.guard PATH
  NETWORK [either]`, which parses it with `nst.weights.formats.parse_weights`
  and sends back either the kernels or the error message. If the child
  crashes, runs out of memory or hangs, the file is reported as damaged, in one
  sentence, like any other defect (a `ReaderCrashError`).

The child writes to its standard output either `OK` and a newline followed by
the kernels and biases as little-endian float32 bytes, layer after layer in the
network's order (their shapes are the network's, and the networks' byte counts
differ, so no framing is needed), or `ERROR` and a newline followed by the
message in UTF-8. Its standard error, where the libraries complain about
damaged files, is discarded.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess  # the child is this module, run by this Python with a list argv, no shell
import sys
from pathlib import Path

import numpy as np

from nst.networks import NETWORKS, VGG19, Network, network_of
from nst.project import PROJECT_ROOT
from nst.weights.formats import Kernels, WeightsError, file_format, parse_weights
from nst.weights.sources import digests, published_match

CHILD_COMMAND = (sys.executable, "-m", "nst.weights.guard")
"""The child's command line, before the file's path and the network's name."""
OK, ERROR = b"OK\n", b"ERROR\n"
CHILD_MEMORY_BYTES = 4 << 30
"""The child's address-space limit (POSIX), besides 4 bytes per byte of the file: far
above what the real 510 MiB file needs, far below what a damaged file can claim."""
CHILD_SECONDS = 60.0
CHILD_BYTES_PER_SECOND = 5e6
"""The child's time limit: CHILD_SECONDS plus the file's size at this slow reading speed."""


class ReaderCrashError(WeightsError):
    """The child reading a weights file crashed, failed or hung on it.

    returncode: the child's exit status (negative: killed by that signal; None: it was
    stopped after the time limit). log: the end of what it wrote to stderr.
    """

    def __init__(self, message: str, returncode: int | None, log: str = ""):
        super().__init__(message)
        self.returncode, self.log = returncode, log


def read_weights(
    path: str | os.PathLike, network: Network = VGG19, either: bool = False
) -> Kernels:
    """The conv layers' (kernel, bias) of `network` from the weights file at `path` (see
    nst.weights.formats.parse_weights, also for `either`), read so that no file can crash
    this process."""
    path = Path(path)
    file_format(path)  # a missing, unreadable or directory path is reported here
    if published_match(*digests(path)):
        return parse_weights(path, network, published=True, either=either)
    return read_in_child(path, network, either)


def read_in_child(path: Path, network: Network = VGG19, either: bool = False) -> Kernels:
    """parse_weights(path, network, either=either), run in a child process; its crash raises
    ReaderCrashError."""
    timeout = CHILD_SECONDS + path.stat().st_size / CHILD_BYTES_PER_SECOND
    pythonpath = (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", ""))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, pythonpath))}
    argv = [*CHILD_COMMAND, str(path), network.name, *(["either"] if either else [])]
    try:
        child = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise _crash(path, network, f"did not finish within {timeout:.0f} s", None) from None
    except OSError as e:  # no Python to start (an embedded interpreter), no processes left
        raise WeightsError(
            f"weights file {path} cannot be read: starting {CHILD_COMMAND[0]} to read it "
            f"failed ({e.strerror or e})"
        ) from None
    if child.stdout.startswith(ERROR):
        raise WeightsError(child.stdout[len(ERROR) :].decode("utf-8", "replace"))
    if child.returncode == 0 and child.stdout.startswith(OK):
        others = [net for net in NETWORKS.values() if net != network] if either else []
        return _kernels_from_bytes(path, memoryview(child.stdout)[len(OK) :], [network, *others])
    log = child.stderr.decode("utf-8", "replace")[-4000:]
    raise _crash(path, network, _how_it_ended(child.returncode), child.returncode, log)


def _how_it_ended(returncode: int) -> str:
    """What became of the child, in words: 'crashed (SIGSEGV)', 'failed (exit status 1)'."""
    if returncode >= 0:
        return f"failed (exit status {returncode})"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return "was killed (SIGKILL: out of memory?)" if name == "SIGKILL" else f"crashed ({name})"


def _crash(
    path: Path, network: Network, what: str, returncode: int | None, log: str = ""
) -> ReaderCrashError:
    reader = "HDF5" if file_format(path) == "h5" else "MATLAB .mat"
    return ReaderCrashError(
        f"weights file {path} ({path.stat().st_size:,} bytes) is damaged: the {reader} "
        f"reader {what} on it; download {network.mat_url} again",
        returncode,
        log,
    )


def _shapes(network: Network) -> list[tuple[int, ...]]:
    """The shapes of `network`'s kernels and biases, in the order the child sends them."""
    return [s for _, n_in, n_out in network.conv_layers for s in ((3, 3, n_in, n_out), (n_out,))]


def _kernels_from_bytes(path: Path, data: memoryview, candidates: list[Network]) -> Kernels:
    """Split the child's float32 bytes into the kernels and biases of the network among
    `candidates` whose size they have (the first candidate names the expected size)."""
    sizes = {net: 4 * sum(math.prod(s) for s in _shapes(net)) for net in candidates}
    network = next((net for net, size in sizes.items() if size == len(data)), None)
    if network is None:
        expected = sizes[candidates[0]]
        raise _crash(path, candidates[0], f"sent {len(data):,} of {expected:,} bytes", 0)
    arrays, offset = [], 0
    for shape in _shapes(network):
        count = math.prod(shape)
        flat = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
        arrays.append(flat.astype(np.float32).reshape(shape))
        offset += 4 * count
    return {name: (arrays[2 * i], arrays[2 * i + 1]) for i, name in enumerate(network.conv_names)}


def _child(path: str, network: str = VGG19.name, either: str = "") -> int:
    """The child's work: parse the file as the network named `network` (with `either` given,
    as whichever it holds), write the outcome to stdout (see the module's doc)."""
    try:
        import resource

        limit = CHILD_MEMORY_BYTES + 4 * os.path.getsize(path)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):  # no such limit on this system
        pass
    out = sys.stdout.buffer
    try:
        kernels = parse_weights(path, NETWORKS[network], either=either == "either")
    except WeightsError as e:
        out.write(ERROR + str(e).encode("utf-8"))
        return 0
    out.write(OK)
    for name in network_of(kernels).conv_names:
        for array in kernels[name]:
            out.write(np.ascontiguousarray(array, dtype="<f4").tobytes())
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child(*sys.argv[1:4]))
