"""The environment a TF 1.x notebook runs in (nst.tf1.environment) and SciPy's old image
functions (nst.tf1.scipy_misc): what 2017's libraries did, for the length of a run only."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nst.tf1.api
from nst.tf1 import scipy_misc
from nst.tf1.environment import tf1_environment

STORED_GA = (
    "[[  6.42230511  -4.42912197  -2.09668207]\n"
    " [ -4.42912197  19.46583748  19.56387138]\n"
    " [ -2.09668207  19.56387138  20.6864624 ]]"
)
"""The Gram-matrix cell's stored output (a float32 array printed by NumPy 1.13)."""


def test_a_float32_array_prints_as_numpy_1_13_printed_it(tmp_path):
    values = [line.strip(" []").split() for line in STORED_GA.splitlines()]
    GA = np.array(values, dtype=np.float32)
    with tf1_environment(tmp_path):
        assert str(GA) == STORED_GA
        assert str(np.float32(6.7655926)) == "6.76559"  # the content cost cell's scalar
        for array in (GA, np.array([1e-5, 1.0], np.float32), np.float16([0.1, 2.5])):
            assert str(array) == str(array.astype(np.float64))
    assert str(GA).startswith("[[ 6.422305 ")  # today's printing again


def test_import_tensorflow_gives_tf1_inside_and_tensorflow_2_after(tmp_path):
    with tf1_environment(tmp_path):
        import tensorflow as tf
        from tensorflow.python.framework import ops

        assert tf.random_normal is nst.tf1.api.random_normal
        assert tf.Session is nst.tf1.api.tf.Session and tf.train.AdamOptimizer
        assert ops.reset_default_graph and tf.__version__.startswith("2.")
    import tensorflow as tf

    assert not hasattr(tf, "random_normal")


def test_the_folders_own_modules_are_imported_and_forgotten_after(tmp_path):
    import nst_utils

    (tmp_path / "nst_utils.py").write_text("WHO = 'the course'\n", encoding="utf-8")
    with tf1_environment(tmp_path):
        assert importlib.import_module("nst_utils").WHO == "the course"
        assert Path.cwd() == tmp_path.resolve()
    assert sys.modules["nst_utils"] is nst_utils
    assert Path.cwd() != tmp_path.resolve()


def test_a_notebook_in_the_project_folder_keeps_the_programs_modules():
    project = Path(nst.tf1.api.__file__).parents[2]
    modules = {
        name: sys.modules[name] for name in ("nst.tf1.api", "nst.weights.formats", "nst_utils")
    }
    with tf1_environment(project):
        importlib.import_module("nst_utils")
    assert {name: sys.modules[name] for name in modules} == modules


def write(folder: Path, name: str, image: Image.Image) -> Path:
    image.save(folder / name)
    return folder / name


def test_imread_gives_the_files_own_mode(tmp_path):
    palette = Image.new("P", (4, 3))
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    assert scipy_misc.imread(write(tmp_path, "p.png", palette)).shape == (3, 4, 3)
    palette.info["transparency"] = 0
    assert scipy_misc.imread(write(tmp_path, "t.png", palette)).shape == (3, 4, 4)
    grey = Image.new("L", (4, 3), 200)
    assert scipy_misc.imread(write(tmp_path, "g.png", grey)).shape == (3, 4)
    flat = scipy_misc.imread(write(tmp_path, "c.png", Image.new("RGB", (4, 3))), flatten=True)
    assert flat.shape == (3, 4) and flat.dtype == np.float32
    assert scipy_misc.imread(tmp_path / "c.png", mode="L").shape == (3, 4)


def test_imsave_scales_other_than_uint8_values_from_their_minimum_to_their_maximum(tmp_path):
    scipy_misc.imsave(tmp_path / "f.png", np.array([[0.0, 0.5], [1.0, 0.25]]))
    assert np.asarray(Image.open(tmp_path / "f.png")).tolist() == [[0, 128], [255, 64]]
    pixels = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    scipy_misc.imsave(tmp_path / "u.png", pixels)  # uint8: as it is
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "u.png")), pixels)


@pytest.mark.parametrize(
    ("size", "shape"), [(50, (15, 20, 3)), (0.25, (7, 10, 3)), ((5, 7), (5, 7, 3))]
)
def test_imresize_takes_a_percentage_a_fraction_or_a_height_and_width(size, shape):
    assert scipy_misc.imresize(np.zeros((30, 40, 3), np.uint8), size).shape == shape


def test_imresize_resizes_as_pillow_does_with_the_named_filter():
    pixels = (np.random.default_rng(0).random((30, 40, 3)) * 255).astype(np.uint8)
    smaller = scipy_misc.imresize(pixels, (15, 25), interp="bicubic")
    assert np.array_equal(
        smaller, np.asarray(Image.fromarray(pixels).resize((25, 15), Image.BICUBIC))
    )
    grey = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    bigger = scipy_misc.imresize(grey, 200, interp="nearest", mode="F")  # float32 kept
    assert bigger.dtype == np.float32 and np.array_equal(bigger, grey.repeat(2, 0).repeat(2, 1))


def test_toimage_finds_the_channel_axis():
    assert scipy_misc.toimage(np.zeros((3, 4, 5), np.uint8)).size == (5, 4)
    assert scipy_misc.toimage(np.zeros((4, 5, 4), np.uint8)).mode == "RGBA"
    with pytest.raises(ValueError, match="3 or 4 channels"):
        scipy_misc.toimage(np.zeros((5, 6, 7)))


def test_scipy_misc_has_the_old_functions_only_during_the_run(tmp_path):
    import scipy.misc

    with tf1_environment(tmp_path):
        assert scipy.misc.imread is scipy_misc.imread and scipy.misc.imresize
    assert not hasattr(scipy.misc, "imread")


FIRST_CELL = """
from nst_utils import *
from neural_art import compute_content_cost
tf.reset_default_graph()
with tf.Session() as test:
    tf.set_random_seed(1)
    a_C = tf.random_normal([1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.random_normal([1, 4, 4, 3], mean=1, stddev=4)
    print("J_content = " + str(compute_content_cost(a_C, a_G).eval()))
"""


def test_the_notebook_code_s_first_session_opens_without_tensorflow_s_log_lines():
    """The first session of a process writes TensorFlow's native lines straight to stderr
    (on a machine without a GPU, "failed call to cuInit"); the program hides them, and so
    do tf.Session and tf.InteractiveSession here (NST_TF_LOGS=1 shows them)."""
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != "NST_TF_LOGS"}
    done = subprocess.run([sys.executable, "-c", FIRST_CELL], cwd=root, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert done.stdout == "J_content = 6.7655926\n", done.stderr
    assert done.stderr == ""
