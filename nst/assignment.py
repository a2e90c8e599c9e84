"""The assignment's helpers: the VGG-19 graph (or VGG-16's), and image preparation and saving.

These are the functions of the course's nst_utils.py, which re-exports them
(with CONFIG from nst/assignment_config.py and `tf` from nst/tf1/api.py).
"""

from __future__ import annotations

import os

import numpy as np

from nst.assignment_config import CONFIG
from nst.images import read_rgb, resize, write_image
from nst.networks import VGG19, Network, network_of
from nst.tf1.api import tf
from nst.weights.guard import read_weights


def load_vgg_model(
    path: str | os.PathLike | dict = CONFIG.VGG_MODEL,
    image_width: int = CONFIG.IMAGE_WIDTH,
    image_height: int = CONFIG.IMAGE_HEIGHT,
    pooling: str = CONFIG.POOLING,
    hold=None,
    network: Network = VGG19,
    outputs=None,
) -> dict:
    """VGG-19's conv part (or VGG-16's) as a dict from layer name to tensor, in the default graph.

    'input' is a float32 `tf.Variable` of shape (1, image_height, image_width, 3)
    holding a mean-subtracted RGB image; assign an image to it to run the net.
    'convX_Y' = relu(conv2d(previous, W, stride 1, SAME) + b), with W and b
    read from the weights of `network` at `path` (MatConvNet .mat or Keras .h5), or
    taken from the dict from layer name to (W, b) that `nst.weights.guard.read_weights`
    returns (whose layers tell the network); each block ends in a 2x2, stride 2, SAME
    pooling layer, 'avgpoolN' (average, the assignment's) or 'maxpoolN'. W and b are
    `tf.constant`s, as in the assignment, or whatever the function `hold(array)` makes
    of them. `outputs(name, tensor)`, when given, replaces each conv layer's output (e.g.
    zeroing the positions outside an image, nst.tiled_costs).
    """
    if pooling not in ("avg", "max"):
        raise ValueError(f"pooling must be 'avg' or 'max', not {pooling!r}")
    kernels = path if isinstance(path, dict) else read_weights(path, network)
    names = network_of(kernels).conv_names
    hold = hold or tf.constant
    pool = tf.nn.avg_pool if pooling == "avg" else tf.nn.max_pool
    shape = (1, image_height, image_width, CONFIG.COLOR_CHANNELS)
    graph = {"input": tf.Variable(np.zeros(shape), dtype="float32")}
    previous = graph["input"]
    for i, name in enumerate(names):
        W, b = kernels[name]
        conv = tf.nn.conv2d(previous, filter=hold(W), strides=[1, 1, 1, 1], padding="SAME")
        graph[name] = previous = tf.nn.relu(conv + hold(b))
        if outputs is not None:
            graph[name] = previous = outputs(name, previous)
        block = name[4]
        if i + 1 == len(names) or names[i + 1][4] != block:
            pooled = pool(previous, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
            graph[f"{pooling}pool{block}"] = previous = pooled
    return graph


def load_image(
    path: str | os.PathLike,
    width: int = CONFIG.IMAGE_WIDTH,
    height: int = CONFIG.IMAGE_HEIGHT,
) -> np.ndarray:
    """An image file as uint8 RGB of shape (height, width, 3), resized to that size.

    Replaces the assignment's `scipy.misc.imread`: any common format, with
    grayscale, palette, transparent and 16-bit images converted to RGB.
    """
    return resize(read_rgb(path), width, height)


def reshape_and_normalize_image(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB image -> (1, H, W, 3) float64 with CONFIG.MEANS subtracted."""
    image = np.reshape(image, (1,) + image.shape)
    return image - CONFIG.MEANS


def generate_noise_image(
    content_image: np.ndarray, noise_ratio: float = CONFIG.NOISE_RATIO, amplitude: float = 20
) -> np.ndarray:
    """noise_ratio * uniform(-amplitude, amplitude) noise + (1 - noise_ratio) * content_image.

    `content_image` is normalized, shape (1, H, W, 3); the noise is float32
    from NumPy's global generator (seed it with np.random.seed).
    """
    noise_image = np.random.uniform(-amplitude, amplitude, content_image.shape).astype("float32")
    return noise_image * noise_ratio + content_image * (1 - noise_ratio)


def save_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Save a normalized (1, H, W, 3) image: add CONFIG.MEANS, clip to 0..255, uint8.

    The file appears complete or not at all (written to a temporary name first).
    """
    image = np.clip(image + CONFIG.MEANS, 0, 255)[0].astype("uint8")
    write_image(path, image)
