"""The .mat structure walk that protects scipy.io.loadmat from damaged files (nst.mat_structure).

Two damaged files found by bench/fuzz.py made scipy crash the process or
allocate gigabytes; both are refused here before scipy sees them.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import scipy.io
from matconvnet_files import random_kernels, write_vgg_mat

from nst.mat_structure import check_mat_structure
from nst.weights import WeightsError, read_vgg19


def mat_bytes(compress: bool = False, **variables) -> bytearray:
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, variables, do_compression=compress)
    return bytearray(buffer.getvalue())


@pytest.mark.parametrize("layout", ["current", "beta16"])
@pytest.mark.parametrize("compress", [True, False])
def test_well_formed_vgg_files_pass(tmp_path, layout, compress):
    path = write_vgg_mat(tmp_path / "vgg.mat", random_kernels(0), layout, compress=compress)
    check_mat_structure(path)


def test_an_element_of_unknown_type_is_refused_before_scipy_would_crash(tmp_path):
    data = mat_bytes(layers=np.array([[1, 2]], np.float32))
    assert data[184] == 7  # the type of the array's data: miSINGLE
    data[184] = 0x27  # no such type; scipy's reader dies with a segmentation fault on it
    path = tmp_path / "bad.mat"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="byte 184 has the unknown type 39"):
        check_mat_structure(path)
    with pytest.raises(WeightsError, match="incomplete or damaged: the data element at byte 184"):
        read_vgg19(path)


def test_dimensions_larger_than_the_array_are_refused_before_anything_is_allocated(tmp_path):
    data = mat_bytes(layers=np.zeros((1, 2), np.float32))
    dims = 128 + 8 + 16 + 8  # header, miMATRIX tag, array flags, dimensions tag
    assert struct.unpack_from("<ii", data, dims) == (1, 2)
    struct.pack_into("<ii", data, dims, 134_217_729, 2)
    path = tmp_path / "huge.mat"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="claims 268,435,458 elements"):
        check_mat_structure(path)


def test_a_cut_compressed_element_is_refused(tmp_path):
    data = mat_bytes(compress=True, layers=np.arange(1000, dtype=np.float32))
    path = tmp_path / "cut.mat"
    path.write_bytes(data[:-100])
    with pytest.raises(ValueError, match="more than remain|damaged"):
        check_mat_structure(path)


def test_a_changed_minor_version_does_not_skip_the_walk(tmp_path):
    data = mat_bytes(layers=np.array([[1, 2]], np.float32))
    data[124] ^= 0x02  # scipy reads only the major version (byte 125 here) and goes on
    data[184] = 0x27
    path = tmp_path / "bad.mat"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="unknown type 39"):
        check_mat_structure(path)


def test_another_major_version_is_refused(tmp_path):
    data = mat_bytes(layers=np.array([[1, 2]], np.float32))
    data[125] = 3
    path = tmp_path / "v3.mat"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="version 3 is neither 1"):
        check_mat_structure(path)
