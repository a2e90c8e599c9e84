"""Reading a weights file that may be damaged, without letting it crash the program.

scipy's .mat reader and h5py are C code that trust the file they read: some
damaged files make them crash the whole process (a segmentation fault, which
no `except` catches; SciPy's documentation says `loadmat` is not meant for
untrusted input). So `read_vgg19`

* reads a file whose checksum is a published one (nst.weights.sources.PUBLISHED)
  in this process: its bytes are known to be good;
* reads any other file in a child process, `python -m nst.weights.guard PATH`,
  which parses it with `nst.weights.formats.parse_vgg19` and sends back either the
  kernels or the error message. If the child crashes, runs out of memory or
  hangs, the file is reported as damaged, in one sentence, like any other
  defect (a `ReaderCrashError`).

The child writes to its standard output either `OK` and a newline followed by
the kernels and biases as little-endian float32 bytes, layer after layer in
CONV_LAYERS order (their shapes are VGG-19's, so no framing is needed), or
`ERROR` and a newline followed by the message in UTF-8. Its standard error,
where the libraries complain about damaged files, is discarded.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess  # the child is this module, run by this Python with a list argv, no shell
import sys
from pathlib import Path

import numpy as np

from nst.cli.program import PROJECT_ROOT
from nst.weights.formats import (
    CONV_LAYERS,
    WEIGHTS_URL,
    Kernels,
    WeightsError,
    file_format,
    parse_vgg19,
)
from nst.weights.sources import digests, published_match

CHILD_COMMAND = (sys.executable, "-m", "nst.weights.guard")
"""The child's command line, before the file's path."""
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


def read_vgg19(path: str | os.PathLike) -> Kernels:
    """The sixteen conv layers' (kernel, bias) of the VGG-19 file at `path` (see
    nst.weights.formats.parse_vgg19), read so that no file can crash this process."""
    path = Path(path)
    file_format(path)  # a missing, unreadable or directory path is reported here
    if published_match(*digests(path)):
        return parse_vgg19(path, published=True)
    return read_in_child(path)


def read_in_child(path: Path) -> Kernels:
    """parse_vgg19(path), run in a child process; its crash raises ReaderCrashError."""
    timeout = CHILD_SECONDS + path.stat().st_size / CHILD_BYTES_PER_SECOND
    pythonpath = (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", ""))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, pythonpath))}
    try:
        child = subprocess.run(
            [*CHILD_COMMAND, str(path)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise _crash(path, f"did not finish within {timeout:.0f} s", None) from None
    except OSError as e:  # no Python to start (an embedded interpreter), no processes left
        raise WeightsError(
            f"weights file {path} cannot be read: starting {CHILD_COMMAND[0]} to read it "
            f"failed ({e.strerror or e})"
        ) from None
    if child.stdout.startswith(ERROR):
        raise WeightsError(child.stdout[len(ERROR) :].decode("utf-8", "replace"))
    if child.returncode == 0 and child.stdout.startswith(OK):
        return _kernels_from_bytes(path, memoryview(child.stdout)[len(OK) :])
    log = child.stderr.decode("utf-8", "replace")[-4000:]
    raise _crash(path, _how_it_ended(child.returncode), child.returncode, log)


def _how_it_ended(returncode: int) -> str:
    """What became of the child, in words: 'crashed (SIGSEGV)', 'failed (exit status 1)'."""
    if returncode >= 0:
        return f"failed (exit status {returncode})"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return "was killed (SIGKILL: out of memory?)" if name == "SIGKILL" else f"crashed ({name})"


def _crash(path: Path, what: str, returncode: int | None, log: str = "") -> ReaderCrashError:
    reader = "HDF5" if file_format(path) == "h5" else "MATLAB .mat"
    return ReaderCrashError(
        f"weights file {path} ({path.stat().st_size:,} bytes) is damaged: the {reader} "
        f"reader {what} on it; download {WEIGHTS_URL} again",
        returncode,
        log,
    )


def _kernels_from_bytes(path: Path, data: memoryview) -> Kernels:
    """Split the child's float32 bytes into VGG-19's kernels and biases."""
    shapes = [s for _, n_in, n_out in CONV_LAYERS for s in ((3, 3, n_in, n_out), (n_out,))]
    expected = 4 * sum(math.prod(s) for s in shapes)
    if len(data) != expected:
        raise _crash(path, f"sent {len(data):,} of {expected:,} bytes", 0)
    arrays, offset = [], 0
    for shape in shapes:
        count = math.prod(shape)
        flat = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
        arrays.append(flat.astype(np.float32).reshape(shape))
        offset += 4 * count
    return {name: (arrays[2 * i], arrays[2 * i + 1]) for i, (name, _, _) in enumerate(CONV_LAYERS)}


def _child(path: str) -> int:
    """The child's work: parse the file, write the outcome to stdout (see the module's doc)."""
    try:
        import resource

        limit = CHILD_MEMORY_BYTES + 4 * os.path.getsize(path)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):  # no such limit on this system
        pass
    out = sys.stdout.buffer
    try:
        kernels = parse_vgg19(path)
    except WeightsError as e:
        out.write(ERROR + str(e).encode("utf-8"))
        return 0
    out.write(OK)
    for name, _, _ in CONV_LAYERS:
        for array in kernels[name]:
            out.write(np.ascontiguousarray(array, dtype="<f4").tobytes())
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
