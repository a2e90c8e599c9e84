"""The assignment's network: the VGG-19 graph (or VGG-16's), load_vgg_model.

The course's nst_utils.py re-exports it, with the image helpers of
nst/assignment_images.py, CONFIG from nst/assignment_config.py and `tf` from
nst/tf1/api.py.
"""

from __future__ import annotations

import os

import numpy as np

from nst.assignment_config import CONFIG
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
