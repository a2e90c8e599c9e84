"""load_vgg_model builds the assignment's VGG-19 dict, and its activations are VGG-19's."""

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from vgg_runs import model_activations

from nst.networks import VGG19
from nst_utils import CONFIG, load_vgg_model, tf

CONV_LAYERS = VGG19.conv_layers

ASSIGNMENT_KEYS = [
    "input",
    "conv1_1", "conv1_2", "avgpool1",
    "conv2_1", "conv2_2", "avgpool2",
    "conv3_1", "conv3_2", "conv3_3", "conv3_4", "avgpool3",
    "conv4_1", "conv4_2", "conv4_3", "conv4_4", "avgpool4",
    "conv5_1", "conv5_2", "conv5_3", "conv5_4", "avgpool5",
]  # fmt: skip


def numpy_conv_relu(x, W, b):
    """relu(3x3 convolution with zero padding 1, stride 1), x of shape (H, W, C)."""
    windows = sliding_window_view(np.pad(x, ((1, 1), (1, 1), (0, 0))), (3, 3), axis=(0, 1))
    return np.maximum(np.einsum("hwcij,ijco->hwo", windows, W) + b, 0)


def numpy_pool(x, kind):
    """2x2 stride 2 pooling; at an odd edge the window holds only the pixels that exist."""
    H, W, C = x.shape
    out = np.empty(((H + 1) // 2, (W + 1) // 2, C))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            window = x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].reshape(-1, C)
            out[i, j] = window.mean(axis=0) if kind == "avg" else window.max(axis=0)
    return out


def numpy_vgg(image, kernels, pooling):
    activations, x = {}, image.astype(np.float64)
    for i, (name, _, _) in enumerate(CONV_LAYERS):
        W, b = kernels[name]
        x = activations[name] = numpy_conv_relu(x, W.astype(np.float64), b)
        last_of_block = i + 1 == len(CONV_LAYERS) or CONV_LAYERS[i + 1][0][4] != name[4]
        if last_of_block:
            x = activations[f"{pooling}pool{name[4]}"] = numpy_pool(x, pooling)
    return activations


def test_model_is_the_assignments_dict(vgg19_mat):
    with tf.Graph().as_default():
        model = load_vgg_model(vgg19_mat)
    assert list(model) == ASSIGNMENT_KEYS
    assert isinstance(model["input"], tf.Variable)
    assert model["input"].shape.as_list() == [1, CONFIG.IMAGE_HEIGHT, CONFIG.IMAGE_WIDTH, 3]
    assert model["input"].dtype.base_dtype == tf.float32
    assert model["conv4_2"].shape.as_list() == [1, 38, 50, 512]
    assert model["avgpool5"].shape.as_list() == [1, 10, 13, 512]


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_activations_match_numpy(vgg19_mat, vgg_kernels, pooling):
    rng = np.random.default_rng(3)
    image = rng.uniform(-120, 130, (1, 11, 14, 3))
    got = model_activations(vgg19_mat, image, "all", pooling)
    expected = numpy_vgg(image[0], vgg_kernels, pooling)
    assert set(got) == set(expected)
    for name, value in expected.items():
        scale = np.abs(value).max()
        np.testing.assert_allclose(got[name][0], value, rtol=1e-4, atol=1e-5 * scale, err_msg=name)


def test_both_layouts_give_the_same_activations(vgg19_mat, vgg19_mat_beta16):
    image = np.random.default_rng(4).uniform(-100, 100, (1, 8, 8, 3))
    current, beta16 = (
        model_activations(p, image, ["conv5_4"]) for p in (vgg19_mat, vgg19_mat_beta16)
    )
    np.testing.assert_array_equal(current["conv5_4"], beta16["conv5_4"])


def test_unknown_pooling_is_refused(vgg19_mat):
    with pytest.raises(ValueError, match="pooling"):
        load_vgg_model(vgg19_mat, pooling="median")
