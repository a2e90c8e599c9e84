"""Running load_vgg_model's graph on an image, for tests that compare activations."""

import numpy as np

from nst_utils import load_vgg_model, tf


def model_activations(weights, image: np.ndarray, layers, pooling: str = "avg") -> dict:
    """Layer name -> activation for `image` (1, H, W, 3), in a fresh graph and session."""
    _, height, width, _ = image.shape
    with tf.Graph().as_default(), tf.Session() as sess:
        model = load_vgg_model(weights, image_width=width, image_height=height, pooling=pooling)
        sess.run(model["input"].assign(image))
        names = [k for k in model if k != "input"] if layers == "all" else list(layers)
        return dict(zip(names, sess.run([model[k] for k in names]), strict=True))
