"""Keras' VGG-19 .h5 loads like the .mat: same kernels, same activations, same checks."""

import numpy as np
import pytest
from matconvnet_files import VGG16_BLOCKS, random_kernels, write_keras_h5
from vgg_runs import model_activations

from nst.weights.formats import WeightsError, parse_weights
from nst.weights.guard import read_weights


@pytest.fixture(scope="session")
def keras_h5(tmp_path_factory, vgg_kernels):
    return write_keras_h5(tmp_path_factory.mktemp("keras") / "vgg19_notop.h5", vgg_kernels)


@pytest.mark.parametrize("dataset_names", ["keras2", "keras1"])
def test_kernels_are_found_by_shape_and_turned_to_rgb(tmp_path, vgg_kernels, dataset_names):
    path = write_keras_h5(tmp_path / "w.h5", vgg_kernels, dataset_names)
    read = parse_weights(path)
    for name, (W, b) in vgg_kernels.items():
        np.testing.assert_array_equal(read[name][0], W)
        np.testing.assert_array_equal(read[name][1], b)


def test_keras_and_matconvnet_files_give_equal_activations(keras_h5, vgg19_mat):
    image = np.random.default_rng(5).uniform(-120, 130, (1, 12, 10, 3))
    layers = ["conv1_1", "conv3_2", "conv5_4"]
    from_mat = model_activations(vgg19_mat, image, layers)
    from_h5 = model_activations(keras_h5, image, layers)
    for layer in layers:
        np.testing.assert_allclose(from_h5[layer], from_mat[layer], rtol=1e-6, atol=1e-6)


def test_the_format_is_told_by_content_not_by_name(tmp_path, keras_h5, vgg_kernels):
    renamed = tmp_path / "weights.mat"
    renamed.write_bytes(keras_h5.read_bytes())
    np.testing.assert_array_equal(read_weights(renamed)["conv2_2"][0], vgg_kernels["conv2_2"][0])


def test_keras_vgg16_file(tmp_path):
    path = write_keras_h5(tmp_path / "vgg16.h5", random_kernels(3, VGG16_BLOCKS))
    with pytest.raises(WeightsError, match="holds VGG-16"):
        read_weights(path)


def test_empty_h5(tmp_path):
    import h5py

    path = tmp_path / "empty.h5"
    h5py.File(path, "w").close()
    with pytest.raises(WeightsError, match="no layer group named block1_conv1, block1_conv2"):
        read_weights(path)


def test_truncated_h5(tmp_path, keras_h5):
    path = tmp_path / "cut.h5"
    path.write_bytes(keras_h5.read_bytes()[: keras_h5.stat().st_size // 2])
    with pytest.raises(WeightsError, match="incomplete or damaged"):
        read_weights(path)


def test_nan_in_a_keras_kernel(tmp_path, vgg_kernels):
    kernels = dict(vgg_kernels)
    W, b = kernels["conv4_1"]
    kernels["conv4_1"] = (np.full_like(W, np.nan), b)
    with pytest.raises(WeightsError, match="layer conv4_1: kernel has .* NaN"):
        read_weights(write_keras_h5(tmp_path / "nan.h5", kernels))
