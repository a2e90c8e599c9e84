"""Fetching a weights file: resumable, with progress, used only when its checksum is published.

The bytes go to `<destination>.part`. An interrupted download leaves that file
behind, and the next attempt asks the server for the rest (an HTTP Range
request). The finished file is moved to `destination` only when its MD5 (and
SHA-256, where one is published) match a published file; otherwise it is
deleted. So a file at the final path is always complete and genuine, whichever
host or mirror served it: the checksum, not the transport, is what makes it
trustworthy.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from nst.errors import InputError
from nst.networks import NETWORKS
from nst.progress import Bar
from nst.weights.sources import (
    ENV_VAR,
    PRETRAINED_DIR,
    PublishedFile,
    digests,
    published_match,
)

TIMEOUT_SECONDS = 30.0
"""Longest wait for the connection, and for each block of data once connected."""

Progress = Callable[[int, int | None], None]
"""progress(bytes done, total bytes or None when the server does not say): called first with
the bytes an earlier attempt left (0 for a fresh start), then after each block."""


class DownloadError(InputError):
    """A download that failed; the message names the URL and what to do."""


def download(
    url: str,
    destination: Path,
    accepted: Sequence[PublishedFile] | None = None,
    progress: Progress | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> PublishedFile:
    """Fetch `url` to `destination` and return the published file it turned out to be.

    `accepted` are the files it may be (default: every published file, of any network).
    """
    partial = destination.with_name(destination.name + ".part")
    made = [p for p in (destination.parent, *destination.parent.parents) if not p.exists()]
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create {destination.parent}: {e.strerror}") from None
    try:
        return _fetch(url, destination, partial, accepted, progress, timeout)
    except DownloadError:
        for folder in made:  # the folders made for it, if they stayed empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _fetch(url, destination: Path, partial: Path, accepted, progress, timeout) -> PublishedFile:
    """download's work, once the destination's folder exists."""
    start = partial.stat().st_size if partial.exists() else 0
    headers = {"User-Agent": "neural-art", "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        response = urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        )
    except urllib.error.HTTPError as e:
        if e.code == 416 and start:  # nothing left to send: the .part is whole
            return _verify(url, partial, destination, accepted)
        raise DownloadError(
            _failed(url, destination, f"the server answered HTTP {e.code} {e.reason}")
        ) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(
            _failed(url, destination, f"cannot reach the server ({reason})")
        ) from None
    with response:
        if start and response.status != 206:  # the server ignored the Range: start over
            start = 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length and length.isdigit() else None
        done = _receive(url, response, partial, start, total, progress)
    if total is not None and done < total:
        raise DownloadError(_interrupted(url, done, total))
    return _verify(url, partial, destination, accepted)


def _receive(url, response, partial: Path, start: int, total, progress) -> int:
    """Append the response body to `partial`; returns the bytes it then holds."""
    done = start
    if progress is not None:
        progress(start, total)
    try:
        with partial.open("ab" if start else "wb") as f:
            while block := response.read(1 << 20):
                f.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
    except (http.client.HTTPException, OSError):
        raise DownloadError(_interrupted(url, done, total)) from None
    return done


def _interrupted(url: str, done: int, total: int | None) -> str:
    of_total = f" of {total:,}" if total is not None else ""
    return (
        f"the download of {url} broke off at {done:,}{of_total} bytes; "
        "run the same command again to resume it"
    )


def _verify(url: str, partial: Path, destination: Path, accepted) -> PublishedFile:
    md5, sha256 = digests(partial)
    match = published_match(md5, sha256, accepted)
    if match is None:
        partial.unlink()
        raise DownloadError(
            f"the file from {url} (MD5 {md5}) is not a published {_networks(accepted)} file, "
            "so it was deleted; if this was a mirror, try the official URL"
        )
    os.replace(partial, destination)
    return match


def _networks(accepted: Sequence[PublishedFile] | None) -> str:
    """'VGG-19', 'VGG-16' or 'VGG-19 or VGG-16': the networks of the `accepted` files ('VGG'
    when any published file is)."""
    if accepted is None:
        return "VGG"
    held = {published.network for published in accepted}
    return " or ".join(network.title for name, network in NETWORKS.items() if name in held)


def _failed(url: str, destination: Path, why: str) -> str:
    return (
        f"cannot download {url}: {why}. Download it by hand (with a browser or "
        f"`curl -fLO {url}`) and move it to {destination} or into {PRETRAINED_DIR}, "
        f"or name it with ${ENV_VAR} or --weights PATH"
    )


class DownloadBar(Bar):
    """A `Progress` for download(): the bytes done and total (K, M, G: powers of 1024), the
    speed (tqdm's kB/s, MB/s: powers of 1000) and the time left (minutes:seconds). A live bar
    on `stream` (default stderr) when that is a terminal, else a line there at most every
    10 s. Use it in a `with` block, which ends the live bar's line."""

    def __init__(
        self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        stream = stream or sys.stderr
        self.started = False
        super().__init__(
            None,
            file=stream,
            plain=stream,
            quiet_seconds=10.0,
            clock=clock,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            mininterval=0.2,
        )

    def __call__(self, done: int, total: int | None) -> None:
        self.total = total
        if self.started:
            self.update(done)
            return
        # The first report is where the download starts: an earlier attempt's bytes count
        # in the bar but not in the speed (tqdm's speed is of the bytes after `initial`).
        self.started = True
        self.initial = self.n = done
        self.refresh()
