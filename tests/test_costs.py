"""The cost functions: their formulas, the properties these imply, and both editions' values."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from neural_art import (
    compute_content_cost,
    compute_layer_style_cost,
    compute_style_cost,
    gram_matrix,
    total_cost,
    total_variation_cost,
)
from nst_utils import tf

ROOT = Path(__file__).resolve().parent.parent


def evaluate(build, *arrays):
    """Run build(*constants) in a fresh graph and return its value."""
    with tf.Graph().as_default(), tf.Session() as sess:
        return sess.run(build(*(tf.constant(a, tf.float32) for a in arrays)))


def activations(seed, shape=(1, 5, 6, 4)):
    return np.random.default_rng(seed).normal(1, 3, shape).astype(np.float32)


def numpy_gram(a):
    """(n_C, n_C) Gram matrix of activations (1, n_H, n_W, n_C), float64."""
    unrolled = a.reshape(-1, a.shape[-1]).T.astype(np.float64)
    return unrolled @ unrolled.T


@pytest.mark.parametrize("seed", range(4))
def test_content_cost_is_the_normalized_squared_distance(seed):
    a_C, a_G = activations(seed), activations(seed + 100)
    expected = np.sum((a_C.astype(np.float64) - a_G) ** 2) / (4 * 5 * 6 * 4)
    assert evaluate(compute_content_cost, a_C, a_G) == pytest.approx(expected, rel=1e-5)


def test_content_cost_is_zero_exactly_for_equal_activations_and_grows_quadratically():
    a_C, a_G = activations(1), activations(2)
    assert evaluate(compute_content_cost, a_C, a_C) == 0
    base = evaluate(compute_content_cost, a_C, a_G)
    assert base > 0
    assert evaluate(compute_content_cost, 3 * a_C, 3 * a_G) == pytest.approx(9 * base, rel=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_gram_matrix_is_symmetric_positive_semidefinite(seed):
    A = np.random.default_rng(seed).normal(0, 2, (6, 20)).astype(np.float32)
    G = evaluate(gram_matrix, A)
    np.testing.assert_allclose(G, A.astype(np.float64) @ A.T, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(G, G.T)
    assert np.linalg.eigvalsh(G.astype(np.float64)).min() > -1e-3


@pytest.mark.parametrize("seed", range(3))
def test_layer_style_cost_compares_gram_matrices(seed):
    a_S, a_G = activations(seed), activations(seed + 50)
    expected = np.sum((numpy_gram(a_S) - numpy_gram(a_G)) ** 2) / (4 * 4**2 * (5 * 6) ** 2)
    assert evaluate(compute_layer_style_cost, a_S, a_G) == pytest.approx(expected, rel=1e-4)


def test_layer_style_cost_ignores_where_features_are():
    a_S, a_G = activations(5), activations(6)
    pixels = a_G.reshape(-1, 4)
    shuffled = pixels[np.random.default_rng(0).permutation(len(pixels))].reshape(a_G.shape)
    assert evaluate(compute_layer_style_cost, a_S, shuffled) == pytest.approx(
        evaluate(compute_layer_style_cost, a_S, a_G), rel=1e-5
    )
    assert evaluate(compute_layer_style_cost, a_G, shuffled) == pytest.approx(0, abs=1e-3)


def style_model():
    """A stand-in model: two 'layers' that are functions of one assignable input."""
    image = tf.Variable(np.zeros((1, 4, 4, 3), np.float32))
    return {"input": image, "conv1_1": image * 2.0, "conv2_1": tf.nn.relu(image - 1.0)}


def test_style_cost_is_the_weighted_sum_over_layers_in_the_default_session():
    style, generated = activations(7, (1, 4, 4, 3)), activations(8, (1, 4, 4, 3))
    layers = [("conv1_1", 0.3), ("conv2_1", 0.7)]
    with tf.Graph().as_default():
        model = style_model()
        sess = tf.InteractiveSession()  # as the assignment does: the default session
        try:
            sess.run(model["input"].assign(style))
            J_style = compute_style_cost(model, layers)  # a_S evaluated now, with the style
            sess.run(model["input"].assign(generated))
            value = sess.run(J_style)
        finally:
            sess.close()
    a_S = {"conv1_1": style * 2, "conv2_1": np.maximum(style - 1, 0)}
    a_G = {"conv1_1": generated * 2, "conv2_1": np.maximum(generated - 1, 0)}
    expected = sum(
        w * np.sum((numpy_gram(a_S[n]) - numpy_gram(a_G[n])) ** 2) / (4 * 3**2 * 16**2)
        for n, w in layers
    )
    assert value == pytest.approx(expected, rel=1e-4)


def test_style_cost_needs_a_session():
    with tf.Graph().as_default():
        model = style_model()
        with pytest.raises(RuntimeError, match="session"):
            compute_style_cost(model, [("conv1_1", 1.0)])


def test_total_cost_is_linear_in_alpha_and_beta():
    assert total_cost(2.0, 3.0) == 10 * 2.0 + 40 * 3.0
    assert total_cost(2.0, 3.0, alpha=1, beta=0) == 2.0
    assert total_cost(2.0, 3.0, alpha=0, beta=1) == 3.0
    assert total_cost(2.0, 3.0, alpha=5, beta=7) == 5 * total_cost(2.0, 3.0, 1, 0) + 7 * 3.0


TF2_EDITION = textwrap.dedent(
    """
    import json
    import neural_art
    import tensorflow as tf

    eager_after_import = tf.executing_eagerly()
    tf.random.set_seed(1)
    a_C = tf.random.normal([1, 1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.random.normal([1, 1, 4, 4, 3], mean=1, stddev=4)
    # The TF 2 edition passes lists of outputs and takes the last: [-1].
    content = neural_art.compute_content_cost(a_C[-1], a_G[-1])
    tf.random.set_seed(1)
    gram = neural_art.gram_matrix(tf.random.normal([3, 2 * 1], mean=1, stddev=4))
    tf.random.set_seed(1)
    a_S = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4)
    print(json.dumps({
        "eager_after_import": eager_after_import,
        "eager_tensors": all(hasattr(t, "numpy") for t in (content, gram)),
        "content": float(content),
        "gram": gram.numpy().tolist(),
        "style": float(neural_art.compute_layer_style_cost(a_S, a_G)),
        "style_same": float(neural_art.compute_layer_style_cost(a_G, a_G)),
        "total": float(neural_art.total_cost(0.2, 0.8, alpha=10, beta=40)),
    }))
    """
)


def test_tf2_edition_values_with_the_same_functions_called_eagerly():
    """Expected values: the TF 2 edition's cells (reference file), plain TF 2 in eager mode."""
    done = subprocess.run(
        [sys.executable, "-c", TF2_EDITION], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # importing neural_art printed nothing
    assert result["eager_after_import"] and result["eager_tensors"]
    assert result["content"] == pytest.approx(7.056877, abs=5e-6)
    expected_gram = [
        [63.1888, -26.721277, -7.7320204],
        [-26.721277, 12.767579, -2.5158246],
        [-7.7320204, -2.5158246, 23.752384],
    ]
    np.testing.assert_allclose(result["gram"], expected_gram, atol=5e-5)
    assert result["style"] == pytest.approx(14.017804, abs=5e-6)
    assert result["style_same"] == 0
    assert result["total"] == 34


def test_a_style_image_of_another_size_is_compared_per_position():
    """Tiling the style activations 2x2 quadruples G_S; the 1/4 scaling undoes that."""
    a_S, a_G = activations(11), activations(12)
    tiled = np.tile(a_S, (1, 2, 2, 1))
    same_size = evaluate(compute_layer_style_cost, a_S, a_G)
    bigger = evaluate(compute_layer_style_cost, tiled, a_G)
    assert bigger == pytest.approx(same_size, rel=1e-5)
    n_H, n_W, n_C = a_G.shape[1:]
    expected = ((numpy_gram(tiled) / 4 - numpy_gram(a_G)) ** 2).sum() / (
        4 * n_C**2 * (n_H * n_W) ** 2
    )
    assert bigger == pytest.approx(expected, rel=1e-5)


def test_total_variation_is_the_sum_of_squared_neighbour_differences():
    image = activations(13, (1, 4, 5, 3))
    expected = (np.diff(image, axis=1) ** 2).sum() + (np.diff(image, axis=2) ** 2).sum()
    assert evaluate(total_variation_cost, image) == pytest.approx(expected, rel=1e-5)
    flat = np.full((1, 4, 5, 3), 7.0, np.float32)
    assert evaluate(total_variation_cost, flat) == 0
