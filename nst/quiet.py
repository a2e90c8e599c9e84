"""Keeping native libraries' log lines (TensorFlow's start-up, Ray's retries) off the
command line's terminal.

Importing TensorFlow and opening its first session print lines such as
"Could not find cuda drivers on your machine" and "failed call to cuInit"
straight to the process's stderr, before any logging setting applies. They are
hidden here unless the environment has NST_TF_LOGS=1 (useful when a GPU is
not being used and you want to know why).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def tensorflow_logs_wanted() -> bool:
    """True when the user asked for TensorFlow's own log lines (NST_TF_LOGS=1)."""
    return os.environ.get("NST_TF_LOGS") == "1"


@contextmanager
def tensorflow_quietly() -> Iterator[None]:
    """Send whatever native code writes to stderr (file descriptor 2) to /dev/null meanwhile.

    Python's own tracebacks still show: an exception leaves the block before
    Python prints it.
    """
    if tensorflow_logs_wanted():
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        with native_stderr_to(devnull):
            yield
    finally:
        os.close(devnull)


@contextmanager
def native_stderr_to(target: int) -> Iterator[None]:
    """What native code writes to stderr (file descriptor 2) goes to the open file
    descriptor `target` while the block runs; then stderr is put back."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(target, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
