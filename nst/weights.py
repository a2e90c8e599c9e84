"""Reading and checking VGG-19 weights from MatConvNet's `imagenet-vgg-verydeep-19.mat`.

The file is read with scipy and every layer is looked up by its `name` field,
and every field by name, so both published layouts (the current one and the
older "beta16" one, whose fields are stored in another order) load the same.
Whatever is wrong with a file is reported as a `WeightsError` whose message
names the file and the problem.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.io

from nst.errors import InputError

WEIGHTS_URL = "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat"
WEIGHTS_FILENAME = "imagenet-vgg-verydeep-19.mat"

# (name, input channels, output channels) of VGG-19's sixteen 3x3 conv layers.
CONV_LAYERS: tuple[tuple[str, int, int], ...] = (
    ("conv1_1", 3, 64),
    ("conv1_2", 64, 64),
    ("conv2_1", 64, 128),
    ("conv2_2", 128, 128),
    ("conv3_1", 128, 256),
    ("conv3_2", 256, 256),
    ("conv3_3", 256, 256),
    ("conv3_4", 256, 256),
    ("conv4_1", 256, 512),
    ("conv4_2", 512, 512),
    ("conv4_3", 512, 512),
    ("conv4_4", 512, 512),
    ("conv5_1", 512, 512),
    ("conv5_2", 512, 512),
    ("conv5_3", 512, 512),
    ("conv5_4", 512, 512),
)
CONV_NAMES = tuple(name for name, _, _ in CONV_LAYERS)
VGG16_CONV_NAMES = tuple(n for n in CONV_NAMES if n not in ("conv3_4", "conv4_4", "conv5_4"))

Kernels = dict[str, tuple[np.ndarray, np.ndarray]]
"""Layer name -> (W of shape (3, 3, in, out), b of shape (out,)), both float32."""


class WeightsError(InputError):
    """A weights file that is missing, unreadable or not VGG-19."""


def read_vgg19_mat(path: str | os.PathLike) -> Kernels:
    """Read and check the conv kernels and biases of a MatConvNet VGG-19 file."""
    path = Path(path)
    records = _named_records(_load_layers(path))
    _check_names(path, records)
    kernels = {}
    for name, n_in, n_out in CONV_LAYERS:
        kernels[name] = _conv_weights(path, name, records[name], n_in, n_out)
    return kernels


def _load_layers(path: Path) -> np.ndarray:
    if not path.exists():
        raise WeightsError(f"weights file {path} does not exist")
    if path.is_dir():
        raise WeightsError(f"weights file {path} is a directory, not a file")
    try:
        with path.open("rb") as f:
            head = f.read(128)
    except OSError as e:
        raise WeightsError(f"weights file {path} cannot be read: {e.strerror}") from None
    size = path.stat().st_size
    problem = _sniff(head)
    if problem:
        raise WeightsError(f"weights file {path} {problem}; download {WEIGHTS_URL} again")
    try:
        contents = scipy.io.loadmat(str(path))  # all of it, so a cut anywhere shows
    except NotImplementedError:
        raise WeightsError(
            f"weights file {path} is a MATLAB v7.3 (HDF5) file; the published "
            f"MatConvNet file is MATLAB v5: download {WEIGHTS_URL}"
        ) from None
    except Exception as e:  # any parse failure of a damaged file, whatever scipy raises
        raise WeightsError(
            f"weights file {path} ({size:,} bytes) is incomplete or damaged: reading it "
            f"failed with {type(e).__name__} ({e}); download {WEIGHTS_URL} again"
        ) from None
    if "layers" not in contents:
        raise WeightsError(
            f"weights file {path} is a MATLAB file without a 'layers' variable, "
            "so it is not a MatConvNet network"
        )
    return contents["layers"]


def _sniff(head: bytes) -> str | None:
    """What is wrong with a file whose first bytes are `head`, or None if it may be a .mat."""
    if not head:
        return "is empty"
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        return "is an HTML page (probably an error page saved by the download), not a .mat file"
    if head.startswith(b"\x89HDF"):
        return "is an HDF5 file, not a MatConvNet .mat file"
    if head.startswith(b"\x93NUMPY") or head.startswith(b"\x80"):
        return "is a NumPy or pickle file, not a MatConvNet .mat file"
    if not head.startswith(b"MATLAB"):
        return "is not a MATLAB .mat file (it lacks the 'MATLAB' header)"
    return None


def _named_records(layers: np.ndarray) -> dict[str, np.void]:
    """Layer name -> struct record, for each element of `layers` that is a struct with a name."""
    records = {}
    for item in np.asarray(layers).ravel():
        array = np.asarray(item).ravel()
        if array.size and "name" in (array.dtype.names or ()):
            records[_text(array[0]["name"])] = array[0]
    return records


def _check_names(path: Path, records: dict[str, np.void]) -> None:
    convs = [
        name
        for name, record in records.items()
        if name in CONV_NAMES and "type" in record.dtype.names and _text(record["type"]) == "conv"
    ]
    if tuple(sorted(convs)) == tuple(sorted(VGG16_CONV_NAMES)):
        raise WeightsError(
            f"weights file {path} holds VGG-16 (13 conv layers), not VGG-19: "
            f"download {WEIGHTS_FILENAME} from {WEIGHTS_URL}"
        )
    missing = [n for n in CONV_NAMES if n not in convs]
    if missing:
        raise WeightsError(
            f"weights file {path} is not VGG-19: it has no conv layer named {', '.join(missing)}"
        )


def _conv_weights(path: Path, name: str, record, n_in: int, n_out: int):
    where = f"weights file {path}, layer {name}"
    fields = record.dtype.names
    if "weights" not in fields:
        raise WeightsError(f"{where} has no 'weights' field")
    cells = np.asarray(record["weights"]).ravel()
    if cells.dtype == object and cells.size == 1 and isinstance(cells[0], np.ndarray):
        cells = cells[0].ravel()
    if cells.size != 2:
        raise WeightsError(f"{where}: expected a kernel and a bias, found {cells.size} arrays")
    kernel, bias = (np.asarray(c) for c in cells)
    if kernel.shape != (3, 3, n_in, n_out):
        raise WeightsError(
            f"{where}: kernel has shape {kernel.shape}, VGG-19 has (3, 3, {n_in}, {n_out})"
        )
    if bias.size != n_out or max(bias.shape) != n_out:
        raise WeightsError(f"{where}: bias has shape {bias.shape}, VGG-19 has ({n_out},)")
    if not (np.issubdtype(kernel.dtype, np.floating) and np.issubdtype(bias.dtype, np.floating)):
        raise WeightsError(f"{where}: weights are {kernel.dtype}, not floating point")
    kernel = kernel.astype(np.float32)
    bias = bias.reshape(n_out).astype(np.float32)
    for label, array in (("kernel", kernel), ("bias", bias)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        if bad:
            raise WeightsError(f"{where}: {label} has {bad} NaN or infinite values")
    return kernel, bias


def _text(value) -> str:
    """A MATLAB char array read by scipy, as a Python string ('' when empty)."""
    array = np.asarray(value).ravel()
    while array.size == 1 and array.dtype == object:
        array = np.asarray(array[0]).ravel()
    return str(array[0]) if array.size else ""
