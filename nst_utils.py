"""The assignment's helpers: CONFIG, the VGG-19 graph, and image preparation and saving.

`from nst_utils import tf` gives TensorFlow 1.x's API on TensorFlow 2 (see
`nst/tf1/api.py`), so the assignment's notebook code runs unchanged:

    from nst_utils import *
    tf.reset_default_graph()
    sess = tf.InteractiveSession()
    model = load_vgg_model("pretrained-model/imagenet-vgg-verydeep-19.mat")

The names are defined in the package: CONFIG in nst/assignment_config.py, load_vgg_model
in nst/assignment.py, the image functions in nst/assignment_images.py.
"""

from nst.assignment import load_vgg_model
from nst.assignment_config import CONFIG
from nst.assignment_images import (
    generate_noise_image,
    load_image,
    reshape_and_normalize_image,
    save_image,
)
from nst.tf1.api import tf

__all__ = [
    "CONFIG",
    "generate_noise_image",
    "load_image",
    "load_vgg_model",
    "reshape_and_normalize_image",
    "save_image",
    "tf",
]
