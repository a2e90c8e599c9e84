"""Writing files so that a reader never sees a partial one."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


class WriteError(OSError):
    """A file that could not be written; the message names it and says why in words
    (a full disk, a folder that no longer exists...)."""


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once, at import, while the program has no other threads


PARTIAL_SUFFIX = ".part"


def remove_partial_files(folder: Path) -> None:
    """Delete what atomic_path left in `folder` when its process was killed mid-write: the
    hidden ".NAME.*.part" files (call it only while no other process writes there)."""
    for leftover in folder.glob(f".*{PARTIAL_SUFFIX}"):
        with suppress(OSError):
            leftover.unlink()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside `path` to write to; on success it replaces `path` in one step.

    The new file gets the usual permissions (0666 less the umask) and is flushed
    to disk before the rename. On any exception the temporary file is deleted
    and `path` is left as it was; an OSError (the disk is full, the folder is
    gone...) comes out as a WriteError naming `path`.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent)
    except OSError as e:
        raise _write_error(path, e) from e
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        with open(tmp, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with suppress(OSError):
            Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, WriteError):
            raise _write_error(path, e) from e
        raise


def _write_error(path: Path, error: OSError) -> WriteError:
    """`error`, met while writing `path`, as one sentence naming the file."""
    if not path.parent.is_dir():
        reason = f"the folder {path.parent} no longer exists"
    elif error.errno == errno.ENOSPC:
        reason = "the disk is full (no space left on device)"
    else:
        reason = error.strerror or str(error)
    return WriteError(f"cannot write {path}: {reason}")
