"""The MatConvNet loader reads both published layouts and names what is wrong with a bad file."""

import shutil
import struct

import numpy as np
import pytest
import scipy.io
from matconvnet_files import VGG16_BLOCKS, random_kernels, write_vgg_mat

from nst.networks import VGG19
from nst.weights.formats import WeightsError, parse_weights


def assert_same_kernels(read, written):
    assert list(read) == [name for name, _, _ in VGG19.conv_layers]
    for name, (W, b) in written.items():
        assert read[name][0].dtype == np.float32 and read[name][1].shape == (W.shape[3],)
        np.testing.assert_array_equal(read[name][0], W)
        np.testing.assert_array_equal(read[name][1], b)


def test_reads_the_current_layout(vgg19_mat, vgg_kernels):
    assert_same_kernels(parse_weights(vgg19_mat), vgg_kernels)


def test_reads_the_beta16_layout_with_column_biases(vgg19_mat_beta16, vgg_kernels):
    assert_same_kernels(parse_weights(vgg19_mat_beta16), vgg_kernels)


def test_test_files_have_the_published_field_orders(vgg19_mat, vgg19_mat_beta16):
    current = scipy.io.loadmat(vgg19_mat)["layers"]
    # The assignment's positional access works on the current layout only.
    assert current[0][0][0][0][0][0] == "conv1_1"
    assert current[0][0][0][0][2][0][0].shape == (3, 3, 3, 64)
    assert current[0][0].dtype.names[:3] == ("name", "type", "weights")
    assert "meta" in scipy.io.loadmat(vgg19_mat)
    beta16 = scipy.io.loadmat(vgg19_mat_beta16)
    assert beta16["layers"][0][0].dtype.names[0] == "weights"
    assert beta16["normalization"][0][0]["averageImage"].shape == (224, 224, 3)


def write_bad(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def expect_error(path, *phrases):
    with pytest.raises(WeightsError) as caught:
        parse_weights(path)
    message = str(caught.value)
    assert str(path) in message
    for phrase in phrases:
        assert phrase in message
    assert "\n" not in message
    return message


def test_vgg16_file(tmp_path):
    path = write_vgg_mat(tmp_path / "vgg16.mat", random_kernels(1, VGG16_BLOCKS), compress=False)
    expect_error(path, "VGG-16", "not VGG-19", "imagenet-vgg-verydeep-19.mat")


@pytest.mark.parametrize("fraction", [0.0005, 0.05, 0.5, 0.95, 0.9999])
def test_truncated_download(tmp_path, vgg19_mat, fraction):
    data = vgg19_mat.read_bytes()
    path = write_bad(tmp_path, "cut.mat", data[: int(len(data) * fraction)])
    expect_error(path, "incomplete or damaged", "download")


def test_html_page_saved_as_mat(tmp_path):
    page = b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n"
    expect_error(write_bad(tmp_path, "page.mat", page), "HTML page")


def test_empty_file(tmp_path):
    expect_error(write_bad(tmp_path, "empty.mat", b""), "is empty")


def test_text_file(tmp_path):
    expect_error(write_bad(tmp_path, "notes.mat", b"just some notes\n"), "not a MATLAB .mat file")


def test_matlab_v73_file(tmp_path):
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(116, b" ")
    header += b"\0" * 8 + struct.pack("<H", 0x0200) + b"IM"
    expect_error(write_bad(tmp_path, "v73.mat", header + b"\0" * 512), "v7.3")


def test_mat_file_without_layers(tmp_path):
    path = tmp_path / "other.mat"
    scipy.io.savemat(path, {"x": np.ones(3)})
    expect_error(path, "without a 'layers' variable")


def test_nan_in_a_kernel(tmp_path, vgg_kernels):
    kernels = dict(vgg_kernels)
    W, b = kernels["conv3_2"]
    W = W.copy()
    W[0, 0, 0, :5] = np.nan
    kernels["conv3_2"] = (W, b)
    path = write_vgg_mat(tmp_path / "nan.mat", kernels, compress=False)
    expect_error(path, "layer conv3_2", "5 NaN or infinite values")


def test_infinite_bias(tmp_path, vgg_kernels):
    kernels = dict(vgg_kernels)
    W, b = kernels["conv5_4"]
    kernels["conv5_4"] = (W, np.where(np.arange(b.size) == 3, np.inf, b).astype(np.float32))
    path = write_vgg_mat(tmp_path / "inf.mat", kernels, compress=False)
    expect_error(path, "layer conv5_4", "bias has 1 NaN")


def test_right_names_wrong_kernel_shape(tmp_path, vgg_kernels):
    kernels = dict(vgg_kernels)
    kernels["conv2_1"] = (np.zeros((3, 3, 64, 64), np.float32), np.zeros(64, np.float32))
    path = write_vgg_mat(tmp_path / "shape.mat", kernels, compress=False)
    expect_error(path, "layer conv2_1", "(3, 3, 64, 64)", "(3, 3, 64, 128)")


def test_missing_layer(tmp_path, vgg_kernels):
    kernels = {k: v for k, v in vgg_kernels.items() if k != "conv4_3"}
    path = write_vgg_mat(tmp_path / "gap.mat", kernels, compress=False)
    expect_error(path, "no conv layer named conv4_3")


def test_missing_file_and_directory(tmp_path):
    expect_error(tmp_path / "absent.mat", "does not exist")
    expect_error(tmp_path, "is a directory")


def test_duplicate_download_name_is_read_like_the_original(tmp_path, vgg19_mat, vgg_kernels):
    copy = tmp_path / "imagenet-vgg-verydeep-19.mat.1"
    shutil.copy(vgg19_mat, copy)
    assert_same_kernels(parse_weights(copy), vgg_kernels)


def test_layers_that_are_not_named_structs(tmp_path):
    layers = np.empty((1, 3), dtype=object)
    layers[0, 0] = np.zeros((0, 0))  # an empty cell
    layers[0, 1] = np.array([[1.0, 2.0]])  # numbers, not a struct
    untyped = np.zeros((1, 1), dtype=[("name", object)])  # a struct without 'type'
    untyped[0, 0]["name"] = "conv1_1"
    layers[0, 2] = untyped
    path = tmp_path / "odd.mat"
    scipy.io.savemat(path, {"layers": layers})
    expect_error(path, "is not VGG-19", "no conv layer named conv1_1")
