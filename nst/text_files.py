"""Reading a text file that the user named, with one sentence for each way it can fail."""

from __future__ import annotations

from pathlib import Path

from nst.errors import InputError


def read_text(path: Path, named: str, error: type[InputError] = InputError, **options) -> str:
    """The text of the UTF-8 file at `path` (`options` go to Path.read_text, e.g. an
    encoding of "utf-8-sig"); else `error`, whose message names the file as `named`
    ("--batch jobs.csv", "notebook art.ipynb") and says why it cannot be read."""
    try:
        return path.read_text(**{"encoding": "utf-8", **options})
    except FileNotFoundError:
        raise error(f"{named} does not exist") from None
    except IsADirectoryError:
        raise error(f"{named} is a directory, not a file") from None
    except UnicodeDecodeError:
        raise error(f"{named} is not UTF-8 text") from None
    except OSError as e:
        raise error(f"{named} cannot be read: {e.strerror}") from None
