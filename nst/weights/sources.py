"""Where VGG-19 weights come from: the published files, their checksums, and the search order.

Without --weights, the weights are looked for in this order; the first file
that exists is used:

1. the file named by the environment variable NEURAL_ART_WEIGHTS;
2. pretrained-model/imagenet-vgg-verydeep-19.mat beside neural_art.py;
3. imagenet-vgg-verydeep-19.mat in the per-user cache folder, shared by all
   checkouts: $XDG_CACHE_HOME/neural-art (default ~/.cache/neural-art) on
   Linux, ~/Library/Caches/neural-art on macOS, %LOCALAPPDATA%\\neural-art\\Cache
   on Windows;
4. Keras' own download, $KERAS_HOME/models (default ~/.keras/models)
   /vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nst.cli.program import PROJECT_ROOT, program_command
from nst.weights.formats import KERAS_FILENAME, WEIGHTS_FILENAME, WEIGHTS_URL, WeightsError

ENV_VAR = "NEURAL_ART_WEIGHTS"
PRETRAINED_DIR = PROJECT_ROOT / "pretrained-model"


class WeightsNotFoundError(WeightsError):
    """No weights file in any place of the search order."""


@dataclass(frozen=True)
class PublishedFile:
    """A weights file as its publisher serves it, with its checksums (hex digests)."""

    description: str
    url: str
    md5: str
    sha256: str | None = None


PUBLISHED = (
    PublishedFile(
        "MatConvNet VGG-19, current layout",
        WEIGHTS_URL,
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
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/" + KERAS_FILENAME,
        md5="253f8cb515780f3b799900260a226db6",
    ),
)


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


def keras_cache_file(environ: Mapping[str, str] = os.environ, home: Path | None = None) -> Path:
    """Where Keras keeps the VGG-19 weights it downloads."""
    keras_home = environ.get("KERAS_HOME") or str((home or Path.home()) / ".keras")
    return Path(keras_home) / "models" / KERAS_FILENAME


def cached_weights_file(environ: Mapping[str, str] = os.environ) -> Path:
    """The weights file in the per-user cache: where downloads go."""
    return user_cache_dir(environ=environ) / WEIGHTS_FILENAME


def search_order(
    environ: Mapping[str, str] = os.environ, pretrained_dir: Path = PRETRAINED_DIR
) -> list[tuple[str, Path]]:
    """(where, path) of each place looked in without --weights, in order."""
    places = []
    if environ.get(ENV_VAR):
        places.append((f"${ENV_VAR}", Path(environ[ENV_VAR])))
    places += [
        ("the project's pretrained-model folder", pretrained_dir / WEIGHTS_FILENAME),
        ("the per-user cache", cached_weights_file(environ)),
        ("Keras' cache", keras_cache_file(environ=environ)),
    ]
    return places


def find_weights(
    environ: Mapping[str, str] = os.environ, pretrained_dir: Path = PRETRAINED_DIR
) -> Path:
    """The first weights file of the search order.

    Raises WeightsError when $NEURAL_ART_WEIGHTS names no file or a place holds
    only a numbered duplicate (name.mat.1, from a repeated wget), and
    WeightsNotFoundError, saying what to do, when no place holds one.
    """
    if environ.get(ENV_VAR):
        named = Path(environ[ENV_VAR])
        if not named.is_file():
            raise WeightsError(f"${ENV_VAR} names {named}, which is not a file")
        return named
    places = search_order(environ, pretrained_dir)
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
    raise WeightsNotFoundError(
        f"no VGG-19 weights found (looked for {', '.join(str(p) for _, p in places)}): "
        f"run `{program_command('--download-weights')}`, or download {WEIGHTS_URL} "
        f"(510 MiB) to {cached_weights_file(environ)}, or pass --weights PATH"
    )


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
    """The file among `candidates` (default: all published) with these checksums, if any."""
    for published in PUBLISHED if candidates is None else candidates:
        if published.md5 == md5 and published.sha256 in (None, sha256):
            return published
    return None
