"""Parsing and checking VGG-19 and VGG-16 weights: MatConvNet's .mat and Keras' .h5.

`parse_weights(path, network)` tells the two formats apart by their first bytes
and returns the network's conv layers' kernels in the assignment's convention:
RGB input (with the RGB means subtracted), each kernel (3, 3, in, out) as
MatConvNet stores it, each bias (out,). Which network a file holds is told by
its layers too: a file of the other network is refused (or, with `either`, read
as what it is).

* MatConvNet (`imagenet-vgg-verydeep-19.mat`, `imagenet-vgg-verydeep-16.mat`) is
  read with scipy; each layer is found by its `name` field and each field by
  name, so both published layouts (the current one and the older "beta16" one,
  with another field order) load.
* Keras (`vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`, and VGG-16's
  `vgg16_...`) is read with h5py; group blockN_convM is convN_M, and in each group
  the kernel and the bias are found by their shapes, since their dataset names
  changed between Keras versions. Keras' networks take BGR input with the same
  per-colour means, so conv1_1's input channels are reversed to make them take
  RGB. Each Keras file comes from the same Caffe model as MatConvNet's file of
  that network, so the kernels are otherwise used as stored.

Whatever is wrong with a file is reported as a `WeightsError` whose message
names the file and the problem. Weights are read as data only: nothing is
unpickled, and a NumPy, pickle or ZIP (.npz) file is refused by its first bytes.
scipy and h5py are C code that some damaged files crash, so the program reads
weights with `nst.weights.guard.read_weights`, which runs this parser in a child
process for any file that is not a published one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from nst.errors import InputError
from nst.networks import ALL_CONV_NAMES, VGG19, Network, network_holding
from nst.weights.mat_structure import check_mat_structure

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

Kernels = dict[str, tuple[np.ndarray, np.ndarray]]
"""Layer name -> (W of shape (3, 3, in, out), b of shape (out,)), both float32."""


class WeightsError(InputError):
    """A weights file that is missing, unreadable or not the network asked for."""


def keras_name(name: str) -> str:
    """Keras' name of a conv layer: convN_M -> blockN_convM."""
    block, conv = name[len("conv") :].split("_")
    return f"block{block}_conv{conv}"


def file_format(path: str | os.PathLike) -> str | None:
    """'h5' or 'mat' by the file's first bytes (HDF5 or MATLAB signature), else None."""
    head = _read_head(Path(path))
    if head.startswith(HDF5_SIGNATURE):
        return "h5"
    return "mat" if head.startswith(b"MATLAB") else None


def parse_weights(
    path: str | os.PathLike,
    network: Network = VGG19,
    published: bool = False,
    either: bool = False,
) -> Kernels:
    """Read and check the conv kernels and biases of `network` from a MatConvNet .mat or
    Keras .h5 file, in this process (see nst.weights.guard for files that may be damaged).

    `published`: the file's checksum is a published one, so its .mat structure needs no
    walk. `either`: a complete file of another network is read as that network instead
    of refused (`network` then only names the file to download in messages).
    """
    if file_format(path) == "h5":
        return _read_keras(Path(path), network, either)
    return _read_matconvnet(Path(path), network, published, either)


def _read_matconvnet(path: Path, network: Network, published: bool, either: bool) -> Kernels:
    """parse_weights of a MatConvNet file."""
    records = _named_records(_load_layers(path, network, published))
    convs = {
        name
        for name, record in records.items()
        if name in ALL_CONV_NAMES
        and "type" in record.dtype.names
        and _text(record["type"]) == "conv"
    }
    held = _held_network(path, convs, network, either, "conv layer named")
    return {
        name: _checked(path, held, name, _mat_arrays(path, name, records[name]))
        for name in held.conv_names
    }


def _read_keras(path: Path, network: Network, either: bool) -> Kernels:
    """parse_weights of a Keras HDF5 file (conv1_1's BGR input channels turned to RGB)."""
    try:
        with h5py.File(path, "r") as f:
            present = {
                name for name in ALL_CONV_NAMES if isinstance(f.get(keras_name(name)), h5py.Group)
            }
            held = _held_network(path, present, network, either, "layer group named", keras_name)
            kernels = {
                name: _checked(path, held, name, _h5_arrays(f[keras_name(name)]))
                for name in held.conv_names
            }
    except WeightsError:
        raise
    except Exception as e:  # any failure of h5py on a damaged file: OSError, KeyError, ...
        raise WeightsError(
            f"weights file {path} is an HDF5 file that is incomplete or damaged "
            f"({type(e).__name__}: {e}); download it again"
        ) from None
    W, b = kernels["conv1_1"]
    kernels["conv1_1"] = (np.ascontiguousarray(W[:, :, ::-1, :]), b)
    return kernels


def _read_head(path: Path) -> bytes:
    if not path.exists():
        raise WeightsError(f"weights file {path} does not exist")
    if path.is_dir():
        raise WeightsError(f"weights file {path} is a directory, not a file")
    try:
        with path.open("rb") as f:
            return f.read(128)
    except OSError as e:
        raise WeightsError(f"weights file {path} cannot be read: {e.strerror}") from None


IMAGE_MAGIC = {b"\xff\xd8\xff": "a JPEG image", b"\x89PNG\r\n\x1a\n": "a PNG image",
               b"GIF8": "a GIF image"}  # fmt: skip
"""The first bytes of the image files a user may give as --weights by mistake."""


def _sniff(head: bytes) -> str | None:
    """What is wrong with a file whose first bytes are `head`, or None if it may be a .mat."""
    if not head:
        return "is empty"
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        return "is an HTML page (probably an error page saved by the download), not a .mat file"
    if head.startswith(b"\x93NUMPY") or head.startswith(b"\x80"):
        return "is a NumPy or pickle file, not a MatConvNet .mat file"
    if head.startswith(b"PK\x03\x04"):
        return "is a ZIP archive (such as NumPy's .npz), not a MatConvNet .mat file"
    picture = next((kind for magic, kind in IMAGE_MAGIC.items() if head.startswith(magic)), None)
    if picture:
        return f"is {picture}, not a weights file (.mat or .h5)"
    if not head.startswith(b"MATLAB"):
        return "is not a MATLAB .mat file (it lacks the 'MATLAB' header)"
    return None


def _load_layers(path: Path, network: Network, published: bool) -> np.ndarray:
    url = network.mat_url
    problem = _sniff(_read_head(path))
    if problem:
        raise WeightsError(f"weights file {path} {problem}; download {url} again")
    size = path.stat().st_size
    try:
        if not published:  # scipy would crash or exhaust memory on some damaged files
            check_mat_structure(path)
    except ValueError as e:
        raise WeightsError(
            f"weights file {path} ({size:,} bytes) is incomplete or damaged: {e}; "
            f"download {url} again"
        ) from None
    try:
        contents = scipy.io.loadmat(str(path))  # all of it, so a cut anywhere shows
    except NotImplementedError:
        raise WeightsError(
            f"weights file {path} is a MATLAB v7.3 (HDF5) file; the published "
            f"MatConvNet file is MATLAB v5: download {url}"
        ) from None
    except Exception as e:  # any parse failure of a damaged file, whatever scipy raises
        raise WeightsError(
            f"weights file {path} ({size:,} bytes) is incomplete or damaged: reading it "
            f"failed with {type(e).__name__} ({e}); download {url} again"
        ) from None
    if "layers" not in contents:
        raise WeightsError(
            f"weights file {path} is a MATLAB file without a 'layers' variable, "
            "so it is not a MatConvNet network"
        )
    return contents["layers"]


def _named_records(layers: np.ndarray) -> dict[str, np.void]:
    """Layer name -> struct record, for each element of `layers` that is a struct with a name."""
    records = {}
    for item in np.asarray(layers).ravel():
        array = np.asarray(item).ravel()
        if array.size and "name" in (array.dtype.names or ()):
            records[_text(array[0]["name"])] = array[0]
    return records


def _held_network(
    path: Path,
    present: set[str],
    wanted: Network,
    either: bool,
    what: str,
    spell: Callable[[str], str] = str,
) -> Network:
    """The network whose conv layers the file holds (`present`, spelled by `spell` in
    messages); raise unless it holds all of them and it is `wanted` (or `either`)."""
    held = network_holding(present, wanted)
    missing = [spell(n) for n in held.conv_names if n not in present]
    if missing:
        raise WeightsError(
            f"weights file {path} is not {held.title}: it has no {what} {', '.join(missing)}"
        )
    if held != wanted and not either:
        raise WeightsError(
            f"weights file {path} holds {held.title} ({len(held.conv_layers)} conv layers), "
            f"not {wanted.title}: use it with --network {held.name}, or download "
            f"{wanted.mat_file} from {wanted.mat_url}"
        )
    return held


def _mat_arrays(path: Path, name: str, record: np.void) -> list[np.ndarray]:
    if "weights" not in record.dtype.names:
        raise WeightsError(f"weights file {path}, layer {name} has no 'weights' field")
    cells = np.asarray(record["weights"]).ravel()
    if cells.dtype == object and cells.size == 1 and isinstance(cells[0], np.ndarray):
        cells = cells[0].ravel()
    return [np.asarray(c) for c in cells]


def _h5_arrays(group: h5py.Group) -> list[h5py.Dataset]:
    """The group's datasets, kernel (4-D) first, bias (1-D) second, whatever their names
    (not read yet: _checked reads them once their shapes are the network's)."""
    datasets: list[h5py.Dataset] = []
    group.visititems(
        lambda _, item: datasets.append(item) if isinstance(item, h5py.Dataset) else None
    )
    return sorted(datasets, key=lambda d: -d.ndim)


def _checked(
    path: Path, network: Network, name: str, arrays: list
) -> tuple[np.ndarray, np.ndarray]:
    """(kernel, bias) of `network`'s layer `name` as float32 after checking their count,
    shapes and values; `arrays` are NumPy arrays or h5py datasets (read only after their
    shapes and types are checked)."""
    n_in, n_out = next((i, o) for n, i, o in network.conv_layers if n == name)
    where = f"weights file {path}, layer {name}"
    if len(arrays) != 2:
        raise WeightsError(f"{where}: expected a kernel and a bias, found {len(arrays)} arrays")
    kernel, bias = arrays
    if kernel.shape != (3, 3, n_in, n_out):
        raise WeightsError(
            f"{where}: kernel has shape {kernel.shape}, {network.title} has (3, 3, {n_in}, {n_out})"
        )
    if bias.size != n_out or n_out not in bias.shape:
        raise WeightsError(f"{where}: bias has shape {bias.shape}, {network.title} has ({n_out},)")
    if not (np.issubdtype(kernel.dtype, np.floating) and np.issubdtype(bias.dtype, np.floating)):
        raise WeightsError(f"{where}: weights are {kernel.dtype}, not floating point")
    kernel = np.asarray(kernel, dtype=np.float32)
    bias = np.asarray(bias, dtype=np.float32).reshape(n_out)
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
