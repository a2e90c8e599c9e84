"""Keeping TensorFlow's start-up log lines off the command line's terminal.

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
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
