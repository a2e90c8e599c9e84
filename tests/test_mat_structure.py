"""The .mat structure walk that protects scipy.io.loadmat from damaged files
(nst.weights.mat_structure).

Damaged files found by bench/fuzz.py made scipy crash the process or allocate
gigabytes; they are refused here before scipy sees them. The walk must not
refuse what MATLAB's format allows: every kind of array scipy writes, and files
written by GNU Octave, pass.
"""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse
from matconvnet_files import random_kernels, write_vgg_mat

from nst.weights.formats import WeightsError
from nst.weights.guard import read_weights
from nst.weights.mat_structure import check_mat_structure


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
        read_weights(path)


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


def test_the_walk_returns_the_variables_names(tmp_path):
    path = write_vgg_mat(tmp_path / "vgg.mat", random_kernels(0), "beta16", compress=True)
    assert check_mat_structure(path) == ["layers", "classes", "normalization"]


EVERY_KIND = {
    "text": "abc",
    "no_text": "",
    "unicode": "héllo ✓",
    "empty": np.zeros((0, 3)),
    "logical": np.array([[True, False]]),
    "int16": np.arange(5, dtype=np.int16),
    "uint64": np.arange(3, dtype=np.uint64),
    "complex": np.array([1 + 2j, 3j]),
    "sparse": scipy.sparse.csc_matrix(np.eye(3)),
    "complex_sparse": scipy.sparse.csc_matrix(np.eye(3) * (1 + 1j)),
    "empty_cell": np.empty((0, 0), dtype=object),
    "cells": np.array([["ab", "c"]], dtype=object),
    "no_structs": np.zeros((0, 0), dtype=[("a", object)]),
    "structs": np.zeros((2, 3), dtype=[("a", object), ("bb", object)]),
    "object": scipy.io.matlab.MatlabObject(np.zeros((1, 1), dtype=[("x", object)]), "cls"),
    "nested": {"a": {"b": [1, 2, "x", {"c": np.ones(2)}]}},
}


@pytest.mark.parametrize("compress", [False, True])
def test_every_kind_of_array_scipy_writes_passes(tmp_path, compress):
    path = tmp_path / "kinds.mat"
    scipy.io.savemat(path, EVERY_KIND, do_compression=compress)
    assert check_mat_structure(path) == list(EVERY_KIND)


@pytest.fixture(scope="module")
def octave_files(tmp_path_factory) -> Path:
    """The folder where GNU Octave ran tests/data/octave_types.m (.ci/run installs Octave)."""
    octave = shutil.which("octave")
    if octave is None:
        pytest.skip("GNU Octave is not installed (apt-get install octave)")
    folder = tmp_path_factory.mktemp("octave")
    script = Path(__file__).parent / "data" / "octave_types.m"
    shutil.copy(script, folder)
    subprocess.run([octave, "--no-gui", "-q", script.name], cwd=folder, check=True,
                   capture_output=True, timeout=600)  # fmt: skip
    return folder


@pytest.mark.parametrize("name", ["octave-v6.mat", "octave-v7.mat"])
def test_files_written_by_octave_pass(octave_files, name):
    """A second writer (GNU Octave, tests/data/octave_types.m): a MatConvNet-like layer
    list and arrays of every kind, compressed (v7) and not (v6)."""
    path = octave_files / name
    assert check_mat_structure(path) == ["layers", "meta"]
    assert scipy.io.loadmat(path)["meta"]["misc"][0, 0].shape == (1, 13)


def refused(tmp_path, data: bytearray, phrase: str) -> None:
    """The walk refuses `data` with a message containing `phrase`, and so does read_weights."""
    path = tmp_path / "bad.mat"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=re.escape(phrase)):
        check_mat_structure(path)
    with pytest.raises(WeightsError, match=re.escape(phrase)):
        read_weights(path)


def test_an_array_marked_complex_without_its_imaginary_part_is_refused(tmp_path):
    """What bench/fuzz.py's seed 20261201 found: scipy reads past the array and crashes."""
    data = mat_bytes(layers=np.array([[1, 2]], np.float32))
    assert data[144] == 7 and data[145] == 0  # the class (mxSINGLE) and the flags
    data[145] = 0x08  # complex
    refused(tmp_path, data, "the array at byte 128 lacks its imaginary part")


def test_a_cell_with_fewer_arrays_than_its_dimensions_is_refused(tmp_path):
    data = mat_bytes(layers=np.array([[1.0, 2.0]], dtype=object))
    assert data[144] == 1 and struct.unpack_from("<ii", data, 160) == (1, 2)
    struct.pack_into("<ii", data, 160, 1, 3)
    refused(tmp_path, data, "the array at byte 128 lacks its 3 elements")


def test_a_struct_whose_field_names_do_not_fit_their_length_is_refused(tmp_path):
    data = mat_bytes(s={"ab": 1.0})
    assert struct.unpack_from("<HHi", data, 176) == (5, 4, 3)  # small miINT32: length 3
    struct.pack_into("<i", data, 180, 2)
    refused(tmp_path, data, "the field names of the array at byte 128 do not fit their length 2")


def test_numbers_that_do_not_match_the_dimensions_are_refused(tmp_path):
    data = mat_bytes(layers=np.array([[1, 2]], np.float32))
    struct.pack_into("<ii", data, 160, 1, 1)
    refused(tmp_path, data, "the real part of the array at byte 128 holds 2 values, not 1")


def test_an_array_class_no_weights_file_uses_is_refused(tmp_path):
    data = mat_bytes(layers=np.array([[1, 2]], np.float32))
    data[144] = 17  # mxOPAQUE_CLASS
    refused(tmp_path, data, "the array at byte 128 has the array class 17")


def test_a_data_element_beyond_an_arrays_parts_is_refused(tmp_path):
    """scipy would take it for the next array's first part: the reading goes astray."""
    data = mat_bytes(x=np.array([[1.0]]))
    assert struct.unpack_from("<II", data, 128) == (14, 56)  # miMATRIX, 56 bytes
    assert struct.unpack_from("<II", data, 176) == (9, 8) and len(data) == 192  # the value
    data += struct.pack("<IId", 9, 8, 2.0)
    struct.pack_into("<I", data, 132, 56 + 16)
    refused(tmp_path, data, "the array at byte 128 has a data element too many at byte 192")
