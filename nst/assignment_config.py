"""The assignment's settings, CONFIG: image size, VGG-19 file, layers, weights and schedule.

Only NumPy is needed here, so the command line can check its options before
TensorFlow is imported.
"""

from __future__ import annotations

import numpy as np


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
