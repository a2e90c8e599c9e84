"""Where VGG weights come from: the published files, their checksums, and the search order.

Without --weights, the weights of the --network (VGG-19 unless told otherwise)
are looked for in this order; the first file that exists is used:

1. the file named by the environment variable NEURAL_ART_WEIGHTS, whatever the
   network (the file must hold it: a file of the other network is refused when read);
2. pretrained-model/<MatConvNet's file name> beside neural_art.py
   (imagenet-vgg-verydeep-19.mat, or -16.mat for VGG-16);
3. that name in the per-user cache folder, shared by all checkouts:
   $XDG_CACHE_HOME/neural-art (default ~/.cache/neural-art) on Linux,
   ~/Library/Caches/neural-art on macOS, %LOCALAPPDATA%\\neural-art\\Cache on
   Windows;
4. Keras' own download, $KERAS_HOME/models (default ~/.keras/models)
   /vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 (vgg16_... for VGG-16).
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nst.networks import VGG16, VGG19, Network
from nst.project import PROJECT_ROOT, program_command
from nst.weights.formats import WeightsError

ENV_VAR = "NEURAL_ART_WEIGHTS"
PRETRAINED_DIR = PROJECT_ROOT / "pretrained-model"
KERAS_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"


class WeightsNotFoundError(WeightsError):
    """No weights file in any place of the search order."""


@dataclass(frozen=True)
class PublishedFile:
    """A weights file as its publisher serves it, with its checksums (hex digests) and the
    name of the network it holds."""

    description: str
    url: str
    md5: str
    sha256: str | None = None
    network: str = VGG19.name


# Where each checksum is published:
# - MatConvNet's files: the "File checksums" table of MatConvNet's pretrained-models page,
#   https://www.vlfeat.org/matconvnet/pretrained/ (its source: doc/site/docs/pretrained.md
#   in https://github.com/vlfeat/matconvnet, from commit 4ce2871e, 2016-09-30, on), for
#   imagenet-vgg-verydeep-19.mat and imagenet-vgg-verydeep-16.mat. It gives MD5s only;
#   VGG-19's SHA-256 and the beta16 file's MD5 are this project's earlier records, not
#   from that table.
# - Keras' files: the `file_hash` (an MD5) that Keras' application code passes to
#   get_file: keras/src/applications/vgg19.py and vgg16.py in
#   https://github.com/keras-team/keras.
# No checksum of MatConvNet's older beta16 VGG-16 file was found, so that file is not
# listed: it loads, read in a child process like any unpublished file.
PUBLISHED = (
    PublishedFile(
        "MatConvNet VGG-19, current layout",
        VGG19.mat_url,
        md5="106118b7cf60435e6d8e04f6a6dc3657",
        sha256="abdb57167f82a2a1fbab1e1c16ad9373411883f262a1a37ee5db2e6fb0044695",
    ),
    PublishedFile(
        "MatConvNet VGG-19, older beta16 layout",
        "https://www.vlfeat.org/matconvnet/models/beta16/imagenet-vgg-verydeep-19.mat",
        md5="8ee3263992981a1d26e73b3ca028a123",
    ),
    PublishedFile(
        "Keras VGG-19 without the classifier",
        KERAS_APPLICATIONS + "vgg19/" + VGG19.keras_file,
        md5="253f8cb515780f3b799900260a226db6",
    ),
    PublishedFile(
        "MatConvNet VGG-16, current layout",
        VGG16.mat_url,
        md5="f72d927587ca4c97fbd165ec9cb9997f",
        network=VGG16.name,
    ),
    PublishedFile(
        "Keras VGG-16 without the classifier",
        KERAS_APPLICATIONS + "vgg16/" + VGG16.keras_file,
        md5="6d6bbae143d832006294945121d1f1fc",
        network=VGG16.name,
    ),
)


def published_files(network: Network) -> tuple[PublishedFile, ...]:
    """The published files of `network`: what its download may turn out to be."""
    return tuple(p for p in PUBLISHED if p.network == network.name)


def user_cache_dir(
    platform: str = sys.platform, environ: Mapping[str, str] = os.environ, home: Path | None = None
) -> Path:
    """This program's per-user cache folder, by the platform's convention."""
    home = home or Path.home()
    if platform.startswith("win"):
        base = environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(base) / "neural-art" / "Cache"
    if platform == "darwin":
        return home / "Library" / "Caches" / "neural-art"
    xdg = environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else home / ".cache"
    return base / "neural-art"


def keras_cache_file(
    environ: Mapping[str, str] = os.environ, home: Path | None = None, network: Network = VGG19
) -> Path:
    """Where Keras keeps the weights of `network` it downloads."""
    keras_home = environ.get("KERAS_HOME") or str((home or Path.home()) / ".keras")
    return Path(keras_home) / "models" / network.keras_file


def cached_weights_file(environ: Mapping[str, str] = os.environ, network: Network = VGG19) -> Path:
    """The weights file of `network` in the per-user cache: where downloads go."""
    return user_cache_dir(environ=environ) / network.mat_file


def search_order(
    environ: Mapping[str, str] = os.environ,
    pretrained_dir: Path = PRETRAINED_DIR,
    network: Network = VGG19,
) -> list[tuple[str, Path]]:
    """(where, path) of each place looked in for `network`'s weights without --weights,
    in order."""
    places = []
    if environ.get(ENV_VAR):
        places.append((f"${ENV_VAR}", Path(environ[ENV_VAR])))
    places += [
        ("the project's pretrained-model folder", pretrained_dir / network.mat_file),
        ("the per-user cache", cached_weights_file(environ, network)),
        ("Keras' cache", keras_cache_file(environ=environ, network=network)),
    ]
    return places


def find_weights(
    environ: Mapping[str, str] = os.environ,
    pretrained_dir: Path = PRETRAINED_DIR,
    network: Network = VGG19,
    naming: str = "pass --weights PATH",
) -> Path:
    """The first weights file of `network`'s search order.

    Raises WeightsError when $NEURAL_ART_WEIGHTS names no file or a place holds
    only a numbered duplicate (name.mat.1, from a repeated wget), and
    WeightsNotFoundError, saying what to do, when no place holds one: `naming` says how
    the caller names a file (the command line's option, or the Python API's setting).
    """
    if environ.get(ENV_VAR):
        named = Path(environ[ENV_VAR])
        if not named.is_file():
            raise WeightsError(f"${ENV_VAR} names {named}, which is not a file")
        return named
    places = search_order(environ, pretrained_dir, network)
    for _, path in places:
        if path.is_file():
            return path
    for _, path in places:
        duplicates = sorted(path.parent.glob(path.name + ".[0-9]*")) if path.parent.is_dir() else []
        if duplicates:
            raise WeightsError(
                f"found {duplicates[0]} but no {path.name} beside it: a copy left by a "
                f"repeated download? Rename it to {path}, or pass --weights {duplicates[0]}"
            )
    download = ["--download-weights"] + ([] if network == VGG19 else ["--network", network.name])
    raise WeightsNotFoundError(
        f"no {network.title} weights found (looked for "
        f"{', '.join(str(p) for _, p in places)}): run `{program_command(*download)}`, "
        f"or download {network.mat_url}{size_note(network)} to "
        f"{cached_weights_file(environ, network)}, or {naming}"
    )


def size_note(network: Network) -> str:
    """' (510 MiB)': the size of `network`'s MatConvNet file in parentheses, or '' if unknown."""
    return f" ({network.mat_size})" if network.mat_size else ""


def digests(path: Path) -> tuple[str, str]:
    """(MD5, SHA-256) hex digests of a file, read in 1 MiB blocks; remembered while the file
    keeps its size, times and inode (a run asks twice: to trust it, then for the manifest)."""
    status = Path(path).stat()
    identity = (status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino)
    return _digests(Path(path).resolve(), *identity)


@functools.lru_cache(maxsize=4)
def _digests(path: Path, *identity: int) -> tuple[str, str]:
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            md5.update(block)
            sha256.update(block)
    return md5.hexdigest(), sha256.hexdigest()


def published_match(
    md5: str, sha256: str, candidates: Sequence[PublishedFile] | None = None
) -> PublishedFile | None:
    """The file among `candidates` (default: all published, of any network) with these
    checksums, if any."""
    for published in PUBLISHED if candidates is None else candidates:
        if published.md5 == md5 and published.sha256 in (None, sha256):
            return published
    return None
