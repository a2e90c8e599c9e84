"""The assignment's helpers: CONFIG, the VGG-19 graph, and image preparation and saving.

`from nst_utils import tf` gives TensorFlow 1.x's API on TensorFlow 2 (see
`nst/tf1.py`), so the assignment's notebook code runs unchanged:

    from nst_utils import *
    tf.reset_default_graph()
    sess = tf.InteractiveSession()
    model = load_vgg_model("pretrained-model/imagenet-vgg-verydeep-19.mat")
"""

from __future__ import annotations

import os

import numpy as np

from nst.images import read_rgb, resize, write_image
from nst.tf1 import tf
from nst.weights import CONV_NAMES
from nst.weights_guard import read_vgg19

__all__ = [
    "CONFIG",
    "generate_noise_image",
    "load_image",
    "load_vgg_model",
    "reshape_and_normalize_image",
    "save_image",
    "tf",
]


class CONFIG:
    """The assignment's settings (sizes in pixels, MEANS in RGB order on a 0..255 scale)."""

    IMAGE_WIDTH = 400
    IMAGE_HEIGHT = 300
    COLOR_CHANNELS = 3
    NOISE_RATIO = 0.6
    MEANS = np.array([123.68, 116.779, 103.939]).reshape((1, 1, 1, 3))
    VGG_MODEL = "pretrained-model/imagenet-vgg-verydeep-19.mat"
    STYLE_IMAGE = "images/stone.jpg"
    CONTENT_IMAGE = "images/cat.jpg"
    OUTPUT_DIR = "output/"
    CONTENT_LAYER = "conv4_2"
    STYLE_LAYERS = [
        ("conv1_1", 0.2),
        ("conv2_1", 0.2),
        ("conv3_1", 0.2),
        ("conv4_1", 0.2),
        ("conv5_1", 0.2),
    ]
    ALPHA = 10
    BETA = 40
    LEARNING_RATE = 2.0
    NUM_ITERATIONS = 200
    SAVE_EVERY = 20
    POOLING = "avg"


def load_vgg_model(
    path: str | os.PathLike | dict = CONFIG.VGG_MODEL,
    image_width: int = CONFIG.IMAGE_WIDTH,
    image_height: int = CONFIG.IMAGE_HEIGHT,
    pooling: str = CONFIG.POOLING,
    hold=None,
) -> dict:
    """VGG-19's conv part as a dict from layer name to tensor, in the default graph.

    'input' is a float32 `tf.Variable` of shape (1, image_height, image_width, 3)
    holding a mean-subtracted RGB image; assign an image to it to run the net.
    'convX_Y' = relu(conv2d(previous, W, stride 1, SAME) + b), with W and b
    read from the VGG-19 weights at `path` (MatConvNet .mat or Keras .h5, or
    the dict from layer name to (W, b) that `nst.weights_guard.read_vgg19` returns);
    each block ends in a 2x2, stride 2, SAME pooling layer, 'avgpoolN' (average,
    the assignment's) or 'maxpoolN'. W and b are `tf.constant`s, as in the
    assignment, or whatever the function `hold(array)` makes of them.
    """
    if pooling not in ("avg", "max"):
        raise ValueError(f"pooling must be 'avg' or 'max', not {pooling!r}")
    kernels = path if isinstance(path, dict) else read_vgg19(path)
    hold = hold or tf.constant
    pool = tf.nn.avg_pool if pooling == "avg" else tf.nn.max_pool
    shape = (1, image_height, image_width, CONFIG.COLOR_CHANNELS)
    graph = {"input": tf.Variable(np.zeros(shape), dtype="float32")}
    previous = graph["input"]
    for i, name in enumerate(CONV_NAMES):
        W, b = kernels[name]
        conv = tf.nn.conv2d(previous, filter=hold(W), strides=[1, 1, 1, 1], padding="SAME")
        graph[name] = previous = tf.nn.relu(conv + hold(b))
        block = name[4]
        if i + 1 == len(CONV_NAMES) or CONV_NAMES[i + 1][4] != block:
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
