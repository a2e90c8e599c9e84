"""Writers of small stand-ins for MatConvNet's VGG files, in both published layouts.

The kernels are random (seeded) with VGG's real shapes, so the files hold the
structure of `imagenet-vgg-verydeep-19.mat` (and of the VGG-16 file) without
its 510 MiB of trained weights: only the conv part, no fc layers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

VGG19_BLOCKS = (2, 2, 4, 4, 4)
VGG16_BLOCKS = (2, 2, 3, 3, 3)
CHANNELS = (64, 128, 256, 512, 512)

# Field order of one layer struct in each layout (see the weight format facts).
CURRENT_FIELDS = {
    "conv": ("name", "type", "weights", "size", "pad", "stride", "precious", "dilate", "opts"),
    "relu": ("name", "type", "weights", "precious", "leak"),
    "pool": ("name", "type", "weights", "method", "pool", "stride", "pad", "precious", "opts"),
}
BETA16_FIELDS = {
    "conv": ("weights", "pad", "type", "name", "stride"),
    "relu": ("type", "name"),
    "pool": ("name", "stride", "pad", "type", "method", "pool"),
}
RGB_MEAN = np.array([123.68, 116.779, 103.939])


def conv_shapes(blocks=VGG19_BLOCKS) -> dict[str, tuple[int, int, int, int]]:
    """conv name -> kernel shape (3, 3, in, out) of a VGG network with these block depths."""
    shapes, n_in = {}, 3
    for block, (depth, n_out) in enumerate(zip(blocks, CHANNELS, strict=True), start=1):
        for k in range(1, depth + 1):
            shapes[f"conv{block}_{k}"] = (3, 3, n_in, n_out)
            n_in = n_out
    return shapes


def random_kernels(seed: int = 0, blocks=VGG19_BLOCKS) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """He-initialised float32 kernels and small biases, so activations stay of order one."""
    rng = np.random.default_rng(seed)
    kernels = {}
    for name, shape in conv_shapes(blocks).items():
        fan_in = shape[0] * shape[1] * shape[2]
        W = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        b = (rng.standard_normal(shape[3]) * 0.01).astype(np.float32)
        kernels[name] = (W, b)
    return kernels


def tiny_kernels(seed: int = 1, blocks=VGG19_BLOCKS) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """VGG's conv layer names with small random kernels (3, 3, 2, 2) and biases (2,): files
    that are fast to read and reach the shape check (bench/fuzz.py's seed files)."""
    rng = np.random.default_rng(seed)
    return {
        name: (
            rng.standard_normal((3, 3, 2, 2)).astype(np.float32),
            rng.standard_normal(2).astype(np.float32),
        )
        for name in conv_shapes(blocks)
    }


def layer_sequence(kernels) -> list[tuple[str, str]]:
    """(name, type) of every layer, conv/relu pairs with a pool closing each block."""
    sequence = []
    names = list(kernels)
    for i, name in enumerate(names):
        block = name[4:].split("_")[0]
        sequence += [(name, "conv"), ("relu" + name[4:], "relu")]
        last_of_block = i + 1 == len(names) or names[i + 1][4:].split("_")[0] != block
        if last_of_block:
            sequence.append((f"pool{block}", "pool"))
    return sequence


def _struct(fields: tuple[str, ...], values: dict) -> np.ndarray:
    record = np.zeros((1, 1), dtype=[(f, object) for f in fields])
    for f in fields:
        record[0, 0][f] = values[f]
    return record


def _cell(*items) -> np.ndarray:
    cell = np.empty((1, len(items)), dtype=object)
    for i, item in enumerate(items):
        cell[0, i] = item
    return cell


def _layer_values(name: str, kind: str, kernels, bias_shape: str) -> dict:
    values = {
        "name": name,
        "type": kind,
        "precious": False,
        "opts": _cell(),
        "stride": np.array([[1.0, 1.0]]) if kind == "conv" else np.array([[2.0, 2.0]]),
        "pad": np.zeros((1, 4)),
        "leak": 0.0,
        "method": "max",
        "pool": np.array([[2.0, 2.0]]),
        "dilate": 1.0,
        "weights": _cell(),
    }
    if kind == "conv":
        W, b = kernels[name]
        b = b.reshape(1, -1) if bias_shape == "row" else b.reshape(-1, 1)
        values["weights"] = _cell(W, b)
        values["size"] = np.array([W.shape], dtype=float)
        values["pad"] = np.ones((1, 4))
    return values


def write_vgg_mat(
    path: Path,
    kernels,
    layout: str = "current",
    bias_shape: str = "row",
    compress: bool = True,
) -> Path:
    """Write `kernels` as a MatConvNet simplenn file in the `current` or `beta16` layout."""
    fields = CURRENT_FIELDS if layout == "current" else BETA16_FIELDS
    layers = _cell(
        *(
            _struct(fields[kind], _layer_values(name, kind, kernels, bias_shape))
            for name, kind in layer_sequence(kernels)
        )
    )
    classes = _struct(
        ("name", "description"), {"name": _cell("n01440764"), "description": _cell("tench")}
    )
    if layout == "current":
        normalization = _struct(
            ("imageSize", "averageImage", "keepAspect", "border", "cropSize", "interpolation"),
            {
                "imageSize": np.array([[224.0, 224.0, 3.0]]),
                "averageImage": RGB_MEAN.reshape(1, 1, 3),
                "keepAspect": True,
                "border": np.array([[32.0, 32.0]]),
                "cropSize": 0.875,
                "interpolation": "bilinear",
            },
        )
        meta = _struct(
            ("normalization", "classes"), {"normalization": normalization, "classes": classes}
        )
        contents = {"layers": layers, "meta": meta}
    else:
        normalization = _struct(
            ("averageImage", "keepAspect", "border", "imageSize", "interpolation"),
            {
                "averageImage": np.broadcast_to(RGB_MEAN, (224, 224, 3)).astype(np.float32),
                "keepAspect": True,
                "border": np.array([[32.0, 32.0]]),
                "imageSize": np.array([[224.0, 224.0, 3.0]]),
                "interpolation": "bilinear",
            },
        )
        contents = {"layers": layers, "classes": classes, "normalization": normalization}
    scipy.io.savemat(str(path), contents, do_compression=compress)
    return path


def _empty_group(f, layer: str) -> str:
    """The group of a Keras layer without weights (input, pooling) in the open file `f`."""
    f.create_group(layer).attrs["weight_names"] = np.array([], dtype=np.float64)
    return layer


def write_keras_h5(
    path: Path, kernels, dataset_names: str = "keras2", compress: bool = False
) -> Path:
    """Write `kernels` (RGB convention, VGG-19's or VGG-16's) as Keras saves its VGG notop
    .h5: BGR input, a group per layer of the model (input_1, blockN_convM, blockN_pool; the
    groups of the layers without weights are empty), layer_names listing them in order.

    dataset_names: "keras2" stores blockN_convM/blockN_convM/kernel:0 and bias:0;
    "keras1" stores blockN_convM/blockN_convM_W_1:0 and _b_1:0. compress: gzip-compressed,
    chunked datasets instead of contiguous ones.
    """
    import h5py

    with h5py.File(path, "w") as f:
        names = []
        for name, (W, b) in kernels.items():
            block, conv = name[4:].split("_")
            layer = f"block{block}_conv{conv}"
            if names and names[-1].split("_")[0] != f"block{block}":
                names.append(_empty_group(f, f"{names[-1].split('_')[0]}_pool"))
            names.append(layer)
            if name == "conv1_1":
                W = W[:, :, ::-1, :]  # Keras' network takes BGR input
            group = f.create_group(layer)
            if dataset_names == "keras2":
                weight_names = [f"{layer}/kernel:0", f"{layer}/bias:0"]
            else:
                weight_names = [f"{layer}_W_1:0", f"{layer}_b_1:0"]
            group.attrs["weight_names"] = [n.encode() for n in weight_names]
            options = {"compression": "gzip", "chunks": True} if compress else {}
            group.create_dataset(weight_names[1], data=b, **options)  # bias first: the reader
            group.create_dataset(weight_names[0], data=W, **options)  # must not rely on order
        names.append(_empty_group(f, f"{names[-1].split('_')[0]}_pool"))
        f.attrs["layer_names"] = [n.encode() for n in [_empty_group(f, "input_1"), *names]]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4" if dataset_names == "keras2" else b"1.2.2"
    return path
