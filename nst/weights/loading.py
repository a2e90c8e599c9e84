"""Loading a network's weights for a run: the file to use (given, found, or downloaded),
read and checked, with its SHA-256; and the weights jobs, --check-weights and
--download-weights."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from nst.errors import InputError
from nst.job import WeightsJob
from nst.networks import NETWORKS, Network
from nst.stopping import stoppable
from nst.weights.check import describe_weights
from nst.weights.download import DownloadBar, download
from nst.weights.formats import WeightsError
from nst.weights.guard import read_weights
from nst.weights.sources import (
    ENV_VAR,
    WeightsNotFoundError,
    cached_weights_file,
    digests,
    find_weights,
    published_files,
    size_note,
)


@dataclass(frozen=True)
class Weights:
    """A network's weights as read from a file: the file, its SHA-256 (hex), and the conv
    layers' (kernel, bias) arrays by layer name (nst.weights.guard.read_weights)."""

    path: Path
    sha256: str
    kernels: dict


def load_weights(path: Path | None, url: str | None, network: Network) -> Weights:
    """The weights of `network` from `path`, else from the first file found, else from a
    fresh download (from `url`, by default MatConvNet's); says which file it reads."""
    file = _weights(path, url, network)
    print(f"Loading {network.title} from {file}", flush=True)
    kernels = _read_weights(file, network, searched=path is None)
    return Weights(file, digests(file)[1], kernels)


def _weights(path: Path | None, url: str | None, network: Network) -> Path:
    """The weights file of `network` to use: `path`, else the first found, else a fresh
    download (from `url`, by default MatConvNet's)."""
    if path is None:
        try:
            return find_weights(network=network)
        except WeightsNotFoundError:
            return fetch_weights(
                url or network.mat_url, cached_weights_file(network=network), network
            )
    if not path.exists():
        raise InputError(
            f"no {network.title} weights at {path}: download {network.mat_url}"
            f"{size_note(network)} to that path, or pass --weights PATH"
        )
    return path


def _read_weights(path: Path, network: Network, searched: bool) -> dict:
    """The kernels of `network` read from `path`; when the search order found the file
    (`searched`) through $NEURAL_ART_WEIGHTS, a refusal says that the variable named it."""
    try:
        return read_weights(path, network)
    except WeightsError as e:
        if searched and os.environ.get(ENV_VAR) and Path(os.environ[ENV_VAR]) == path:
            raise WeightsError(f"{e} (the file ${ENV_VAR} names)") from None
        raise


def fetch_weights(url: str, destination: Path, network: Network) -> Path:
    """Download `network`'s weights from `url` to `destination`, showing progress on stderr;
    only a published file of `network` is kept."""
    print(
        f"Downloading {network.title} weights{size_note(network)} from {url} to {destination}",
        flush=True,
    )
    with DownloadBar() as bar:
        published = download(url, destination, published_files(network), progress=bar)
    print(f"Saved {destination}: the published {published.description} (MD5 {published.md5})")
    return destination


def check_weights(path: Path | None, network: Network) -> int:
    """Print what --check-weights reports; 0 when the file is usable as `network`'s weights,
    else 2."""
    lines, usable = describe_weights(path or find_weights(network=network), network)
    print("\n".join(lines))
    return 0 if usable else 2


def run_weights_job(job: WeightsJob) -> int:
    """--download-weights: fetch settings.network's weights to settings.weights or the per-user
    cache (0, or 130 when interrupted); --check-weights: report on the file it would use
    (0 when usable, else 2)."""
    s = job.settings
    network = NETWORKS[s.network]
    if not job.download:
        return check_weights(s.weights, network)
    destination = s.weights or cached_weights_file(network=network)
    url = job.weights_url or network.mat_url

    def fetch(stop) -> int:
        fetch_weights(url, destination, network)
        return 0

    return stoppable(fetch)
